"""The committed data contracts are what `infer-schema` writes."""

import glob
import os

import pytest

from components import features

SCHEMAS = sorted(glob.glob(os.path.join(
    os.path.dirname(__file__), "..", "..", "schemas", "*", "schema.pbtxt")))


def test_there_are_committed_schemas():
    assert len(SCHEMAS) >= 3


@pytest.mark.parametrize("path", SCHEMAS,
                         ids=lambda p: os.path.basename(os.path.dirname(p)))
def test_a_committed_schema_is_the_contracts_schema(path):
    schema = features.load_schema(path)
    image = next(f for f in schema.feature if f.name == features.IMAGE_KEY)
    assert image.HasField("image_domain")
    assert schema == features.schema_for(
        features.contract_from_schema(schema))
