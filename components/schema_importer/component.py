"""ImportSchemaGen that also finds a committed schema inside the image
(see executor.py)."""

from tfx.components.schema_gen.import_schema_gen.component import (
    ImportSchemaGen as TfxImportSchemaGen)
from tfx.dsl.components.base import executor_spec

from components.schema_importer import executor


class ImportSchemaGen(TfxImportSchemaGen):
    """Same output and id as TFX's ImportSchemaGen."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
