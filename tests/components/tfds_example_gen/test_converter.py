"""The converter round-trips every TFDS feature type, label 0 included."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from components.tfds_example_gen import converter

FEATURES = tfds.features.FeaturesDict({
    "image": tfds.features.Image(shape=(4, 3, 1)),
    "label": tfds.features.ClassLabel(num_classes=10),
    "count": tfds.features.Scalar(dtype=np.int32),
    "flag": tfds.features.Scalar(dtype=np.bool_),
    "score": tfds.features.Scalar(dtype=np.float32),
    "vector": tfds.features.Tensor(shape=(2, 3), dtype=np.float32),
    "ids": tfds.features.Tensor(shape=(3,), dtype=np.int64),
    "caption": tfds.features.Text(),
})


def _values(label=0):
    rng = np.random.default_rng(0)
    return {
        "image": rng.integers(0, 256, (4, 3, 1), dtype=np.uint8),
        "label": np.int64(label),
        "count": np.int32(0),
        "flag": np.bool_(False),
        "score": np.float32(0.0),
        "vector": rng.random((2, 3), dtype=np.float32),
        "ids": np.array([0, 7, -2], np.int64),
        "caption": b"a shirt",
    }


def test_encodings_per_feature_type():
    encodings = converter.encodings_for(FEATURES)
    assert {k: e.kind for k, e in encodings.items()} == {
        "image": "raw", "label": "int", "count": "int", "flag": "int",
        "score": "float", "vector": "float", "ids": "int",
        "caption": "bytes"}


@pytest.mark.parametrize("label", [0, 9])
def test_round_trip(label):
    encodings = converter.encodings_for(FEATURES)
    values = _values(label)
    example = converter.to_example(values, encodings)
    back = converter.from_example(
        type(example).FromString(example.SerializeToString()), encodings)
    for name, value in values.items():
        if name == "caption":
            assert back[name].tolist() == value
        else:
            np.testing.assert_array_equal(back[name], value)
            assert back[name].shape == np.shape(value)


def test_label_zero_and_scalar_zeros_are_kept():
    # TFX's dict_to_example drops these; ours must not.
    example = converter.to_example(_values(0),
                                   converter.encodings_for(FEATURES))
    features = example.features.feature
    assert list(features["label"].int64_list.value) == [0]
    assert list(features["count"].int64_list.value) == [0]
    assert list(features["score"].float_list.value) == [0.0]


def test_image_is_one_raw_bytes_value():
    values = _values()
    example = converter.to_example(values, converter.encodings_for(FEATURES))
    raw = example.features.feature["image"].bytes_list.value
    assert len(raw) == 1 and raw[0] == values["image"].tobytes()


def test_variable_size_images_are_refused_by_name():
    features = tfds.features.FeaturesDict(
        {"photo": tfds.features.Image(shape=(None, None, 3))})
    with pytest.raises(ValueError, match="'photo' has variable shape"):
        converter.encodings_for(features)


def test_a_batch_converts_to_the_same_records_as_each_example():
    encodings = converter.encodings_for(FEATURES)
    rows = [_values(label) for label in (0, 3, 9)]
    rows[1]["caption"] = b""
    batch = {name: np.stack([np.asarray(row[name]) for row in rows])
             for name in rows[0]}

    records = list(converter.serialized_examples(batch, encodings))

    assert records == [converter.to_example(row, encodings)
                       .SerializeToString() for row in rows]
