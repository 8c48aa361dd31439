"""preprocessing_fn through tf.Transform's own test helpers."""

import functools

import numpy as np
import tensorflow as tf
from tensorflow_transform.beam import tft_unit
from tensorflow_transform.tf_metadata import dataset_metadata

from components import features
from components.transform import preprocessing

SHAPE = (2, 2, 1)


class PreprocessingTest(tft_unit.TransformTestCase):
    """Scaling to [0, 1], reshaping, label passed through."""

    # tf.test.TestCase's deprecated helper, which pytest would collect.
    test_session = None

    def test_scales_reshapes_and_passes_label(self):
        images = [np.array([0, 51, 204, 255], np.uint8),
                  np.array([255, 0, 0, 1], np.uint8)]
        input_data = [
            {"image": [img.tobytes()], "label": [label]}
            for img, label in zip(images, [0, 7])]
        metadata = dataset_metadata.DatasetMetadata.from_feature_spec({
            "image": tf.io.FixedLenFeature([1], tf.string),
            "label": tf.io.FixedLenFeature([1], tf.int64),
        })
        expected = [
            {features.transformed_name("image"):
                 (img.astype(np.float32) / 255.0).reshape(SHAPE),
             features.transformed_name("label"): label}
            for img, label in zip(images, [0, 7])]
        self.assertAnalyzeAndTransformResults(
            input_data, metadata,
            functools.partial(preprocessing.preprocessing_fn,
                              custom_config={"image_shape": list(SHAPE)}),
            expected)


def test_scale_range():
    scaled = preprocessing.scale(tf.constant([0, 128, 255], tf.uint8))
    assert scaled.dtype == tf.float32
    np.testing.assert_allclose(scaled.numpy(), [0.0, 128 / 255, 1.0])
