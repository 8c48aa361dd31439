"""The one feature contract: names of raw and transformed features.

Preprocessing, the model, the serving signatures and the evaluation config
all import their feature names from here, and read the image shape and the
number of classes from the committed schema through `contract_from_schema`.
"""

import dataclasses
from typing import Tuple

from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.utils import io_utils

IMAGE_KEY = "image"
LABEL_KEY = "label"

# The schema records the image shape as a feature annotation tag, because the
# image is stored as one raw-bytes value and the schema's own `shape` field
# describes value counts, not the pixels packed inside one value.
IMAGE_SHAPE_TAG = "image_shape:"


def transformed_name(key: str) -> str:
    """The name Transform gives a raw feature's processed version."""
    return f"{key}_xf"


@dataclasses.dataclass(frozen=True)
class FeatureContract:
    """What the model needs to know about the data, read from the schema."""

    image_shape: Tuple[int, ...]
    num_classes: int

    @property
    def image_bytes(self) -> int:
        """Length of one raw uint8 image in bytes."""
        size = 1
        for dim in self.image_shape:
            size *= dim
        return size


class SchemaError(ValueError):
    """A schema file that cannot be read or does not describe an image
    classification dataset; the message names the file and what is wrong."""


def load_schema(path: str) -> schema_pb2.Schema:
    """Reads a text-format schema file.

    Raises:
      SchemaError: the file cannot be read or is not a text-format Schema.
    """
    try:
        return io_utils.parse_pbtxt_file(path, schema_pb2.Schema())
    except text_format.ParseError as error:
        raise SchemaError(
            f"schema {path!r} is not a text-format TFMD Schema: "
            f"{str(error).rstrip('.')}. "
            "Fix it, or write a first one with `python -m pipeline "
            "infer-schema`.") from None
    except Exception as error:  # pylint: disable=broad-except
        # tf.io.gfile raises TensorFlow's own errors (local or gs://).
        raise SchemaError(
            f"cannot read schema {path!r}: {type(error).__name__}: "
            f"{str(error).strip()}") from None


def load_contract(path: str) -> FeatureContract:
    """The feature contract of a schema file.

    Raises:
      SchemaError: naming the file and what is wrong with it.
    """
    try:
        return contract_from_schema(load_schema(path))
    except SchemaError as error:
        if repr(path) in str(error):
            raise
        raise SchemaError(f"schema {path!r}: {error}") from None


def image_shape_tag(shape) -> str:
    """The annotation tag that records an image shape, e.g. `28x28x1`."""
    return IMAGE_SHAPE_TAG + "x".join(str(int(d)) for d in shape)


def contract_from_schema(schema: schema_pb2.Schema) -> FeatureContract:
    """Reads image shape and class count from a schema.

    Raises:
      SchemaError: if the schema lacks the image or label feature, the image
        shape tag, or an integer domain on the label.
    """
    features = {f.name: f for f in schema.feature}
    missing = [k for k in (IMAGE_KEY, LABEL_KEY) if k not in features]
    if missing:
        raise SchemaError(
            f"schema has no feature {missing[0]!r}; the pipeline needs an "
            f"{IMAGE_KEY!r} bytes feature and a {LABEL_KEY!r} int feature.")
    tags = [t for t in features[IMAGE_KEY].annotation.tag
            if t.startswith(IMAGE_SHAPE_TAG)]
    if not tags:
        raise SchemaError(
            f"schema feature {IMAGE_KEY!r} has no annotation tag "
            f"'{IMAGE_SHAPE_TAG}HxWxC' giving the image shape.")
    try:
        shape = tuple(int(d) for d in
                      tags[0][len(IMAGE_SHAPE_TAG):].split("x"))
    except ValueError:
        raise SchemaError(
            f"schema feature {IMAGE_KEY!r} has tag {tags[0]!r}, which is not "
            f"'{IMAGE_SHAPE_TAG}HxWxC' with whole numbers.") from None
    label = features[LABEL_KEY]
    if not label.HasField("int_domain") or label.int_domain.min != 0:
        raise SchemaError(
            f"schema feature {LABEL_KEY!r} needs an int_domain from 0 to "
            "the number of classes - 1.")
    return FeatureContract(image_shape=shape,
                           num_classes=int(label.int_domain.max) + 1)


def schema_for(contract: FeatureContract) -> schema_pb2.Schema:
    """The schema TfdsExampleGen's output must match, for a new dataset."""
    schema = schema_pb2.Schema()
    image = schema.feature.add(name=IMAGE_KEY, type=schema_pb2.BYTES)
    # An image domain makes TFDV treat the values as bytes (sizes, not the
    # top-k most frequent of 70,000 distinct images), and computes the
    # statistics faster (docs/performance.md).
    image.image_domain.SetInParent()
    image.annotation.tag.append(image_shape_tag(contract.image_shape))
    label = schema.feature.add(name=LABEL_KEY, type=schema_pb2.INT)
    label.int_domain.min = 0
    label.int_domain.max = contract.num_classes - 1
    for feature in (image, label):
        feature.presence.min_fraction = 1.0
        feature.presence.min_count = 1
        feature.shape.dim.add(size=1)
    return schema
