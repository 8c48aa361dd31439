"""The tf.Transform preprocessing: the seed's scaling, as a TFX Transform.

`scale` is the seed's `image / 255` in float32; the raw image arrives as one
uint8 bytes value per example and is decoded and reshaped for the model.
"""

from typing import Any, Dict

import tensorflow as tf

from components import features


def decode_image(raw: tf.Tensor, image_shape) -> tf.Tensor:
    """Raw uint8 bytes, shape [batch] or [batch, 1] -> uint8 [batch, *shape]."""
    num_bytes = 1
    for dim in image_shape:
        num_bytes *= dim
    pixels = tf.io.decode_raw(tf.reshape(raw, [-1]), tf.uint8,
                              fixed_length=num_bytes)
    return tf.reshape(pixels, [-1, *image_shape])


def scale(image: tf.Tensor) -> tf.Tensor:
    """Pixels to float32 in [0, 1]."""
    return tf.cast(image, tf.float32) / 255.0


def preprocessing_fn(inputs: Dict[str, tf.Tensor],
                     custom_config: Dict[str, Any]) -> Dict[str, tf.Tensor]:
    """tf.Transform entry point.

    Args:
      inputs: raw features; `image` as raw bytes, `label` as int64.
      custom_config: `{"image_shape": [H, W, C]}`, read from the schema by the
        pipeline factory.

    Returns:
      The scaled image, shaped for the model, and the label unchanged.
    """
    image = decode_image(inputs[features.IMAGE_KEY],
                         custom_config["image_shape"])
    return {
        features.transformed_name(features.IMAGE_KEY): scale(image),
        features.transformed_name(features.LABEL_KEY):
            tf.reshape(inputs[features.LABEL_KEY], [-1]),
    }
