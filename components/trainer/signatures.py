"""The exported SavedModel's serving signatures.

Both run the Transform graph embedded in the model, so serving applies
exactly the preprocessing the model was trained with:

- `serving_default`: serialized `tf.Example`s (`examples`) -> `probabilities`.
- `serving_images`: raw uint8 images [batch, H, W, C] (`images`) ->
  `probabilities`. The images are packed into the same raw-bytes feature the
  pipeline stores, then go through the same Transform graph.
"""

import tensorflow as tf
import tensorflow_transform as tft

from components import features

IMAGE_XF = features.transformed_name(features.IMAGE_KEY)


def export(model: tf.keras.Model, tf_transform_output: tft.TFTransformOutput,
           image_shape, path: str) -> None:
    """Saves `model` with both signatures to `path`."""
    model.tft_layer = tf_transform_output.transform_features_layer()
    raw_spec = tf_transform_output.raw_feature_spec()
    raw_spec.pop(features.LABEL_KEY, None)

    @tf.function(input_signature=[
        tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(serialized):
        parsed = tf.io.parse_example(serialized, raw_spec)
        transformed = model.tft_layer(parsed)
        return {"probabilities": model(transformed[IMAGE_XF])}

    byte_values = tf.constant([bytes([i]) for i in range(256)])

    @tf.function(input_signature=[
        tf.TensorSpec([None, *image_shape], tf.uint8, name="images")])
    def serve_images(images):
        pixels = tf.reshape(tf.cast(images, tf.int32),
                            [tf.shape(images)[0], -1])
        raw = tf.strings.reduce_join(tf.gather(byte_values, pixels), axis=-1)
        transformed = model.tft_layer(
            {features.IMAGE_KEY: tf.reshape(raw, [-1, 1])})
        return {"probabilities": model(transformed[IMAGE_XF])}

    model.save(path, save_format="tf", signatures={
        "serving_default": serve_examples,
        "serving_images": serve_images,
    })
