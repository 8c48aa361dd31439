"""The compiled pipeline the local runner keeps for its next run.

Building the pipeline imports every component's spec and, through them,
TensorFlow, TFMA, TFDV and TensorFlow Transform: seconds before the first
node, even when every node is then found in the cache. The local runner
keeps what it compiled under the output dir, with a key of all that the
compiled pipeline is made from (`key`), and a run with the same key runs
the kept one instead of building it again.
"""

import hashlib
import importlib.metadata
import logging
import os
import sys
from typing import Optional, Sequence

import components
import pipeline
import pipeline_config
from pipeline_config import PipelineConfig

# The distributions whose code makes the compiled pipeline: TFX's DSL and
# compiler, and the libraries its component specs take protos and
# defaults from.
_DISTRIBUTIONS = ("tfx", "ml-metadata", "protobuf", "tensorflow",
                  "tensorflow-transform", "tensorflow-model-analysis",
                  "tensorflow-data-validation", "tensorflow-metadata",
                  "tensorflow-datasets", "apache-beam")
# The header of the kept file, then the key, a newline and the IR.
_HEADER = b"compiled pipeline, key "


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def _source_files():
    """This project's Python files that build the pipeline: `pipeline`,
    `components` and the config module."""
    for package in (pipeline, components):
        for root in package.__path__:
            for folder, dirs, files in os.walk(root):
                dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                for name in sorted(files):
                    if name.endswith(".py"):
                        yield os.path.join(folder, name)
    yield pipeline_config.__file__


def key(config: PipelineConfig, runner: str,
        beam_args: Sequence[str]) -> str:
    """What the compiled pipeline is made from, hashed: the settings, the
    runner and its Beam arguments, the bytes of this project's code and of
    the schema, the Python and the versions of the libraries that compile
    it. Any change makes another key.

    Raises:
      OSError: a file of these cannot be read (the schema is gone).
    """
    digest = hashlib.sha256()
    for part in (repr(config), runner, repr(list(beam_args)), sys.version,
                 *(f"{d}={_version(d)}" for d in _DISTRIBUTIONS)):
        digest.update(part.encode() + b"\0")
    for path in (*_source_files(), config.schema_file):
        with open(path, "rb") as f:
            digest.update(path.encode() + b"\0" + f.read() + b"\0")
    return digest.hexdigest()


def load(config: PipelineConfig, wanted_key: str):
    """The kept compiled pipeline if it was kept with `wanted_key`, else
    None (also when there is none, or it cannot be read)."""
    from tfx.proto.orchestration import pipeline_pb2  # pylint: disable=import-outside-toplevel
    from google.protobuf import message  # pylint: disable=import-outside-toplevel
    try:
        with open(config.compiled_pipeline_path, "rb") as f:
            header = f.readline()
            if header != _HEADER + wanted_key.encode() + b"\n":
                return None
            ir = pipeline_pb2.Pipeline()
            ir.ParseFromString(f.read())
    except FileNotFoundError:
        return None
    except (OSError, message.DecodeError) as error:
        logging.warning("could not read the kept compiled pipeline %s (%s);"
                        " compiling it again.",
                        config.compiled_pipeline_path, error)
        return None
    return ir if ir.nodes else None


def save(config: PipelineConfig, with_key: str, ir) -> None:
    """Keeps `ir` (before its run id is set) for the runs with the same
    key, replacing what was kept; written whole or not at all."""
    path = config.compiled_pipeline_path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = f"{path}.{os.getpid()}.partial"
    with open(partial, "wb") as f:
        f.write(_HEADER + with_key.encode() + b"\n")
        f.write(ir.SerializeToString(deterministic=True))
    os.replace(partial, path)
