"""ImportSchemaGen that also finds a committed schema inside the image.

A pipeline compiled for Kubeflow or Vertex runs in the container image, where
the compiling machine's paths mean nothing. It names a committed schema
relative to the installed `schemas` package (`schemas/<dataset>/
schema.pbtxt`, see `PipelineConfig.schema_import_path`), and this executor
resolves that against wherever the package is installed. Absolute paths and
URIs (gs://...) are read as TFX's ImportSchemaGen reads them.
"""

import os
from typing import Any, Dict, List

from tfx import types
from tfx.components.schema_gen.import_schema_gen import executor as tfx_executor
from tfx.types import standard_component_specs

import schemas


def resolve(path: str) -> str:
    """`path`, or the installed package's file for a package-relative one."""
    if "://" in path or os.path.isabs(path):
        return path
    install_dir = os.path.dirname(os.path.dirname(
        os.path.abspath(schemas.__file__)))
    return os.path.join(install_dir, path)


class Executor(tfx_executor.Executor):
    """TFX's ImportSchemaGen executor, after `resolve`."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        key = standard_component_specs.SCHEMA_FILE_KEY
        exec_properties = dict(exec_properties)
        exec_properties[key] = resolve(exec_properties[key])
        super().Do(input_dict, output_dict, exec_properties)
