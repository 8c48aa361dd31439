"""The one command line: `python -m pipeline` or `tfds-pipeline`.

Settings are read once, from flags (or their environment variables), into a
validated `PipelineConfig`; a bad setting is one clear message and exit
code 2 before any component runs. The commands live in `pipeline.commands`:
one module per command, named after it; the options they share are in
`options.py`.
"""

import os
import warnings

# Must be set before TensorFlow is imported: tensorflow-transform supports
# Keras 2 only, which TF 2.16 provides through tf-keras.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# google-api-core warns on import about Python 3.11's end of life.
warnings.filterwarnings("ignore", category=FutureWarning,
                        module=r"google\..*")

# pylint: disable=wrong-import-position
from components import tfx_imports
tfx_imports.lazy_tfx_components()

import click

from pipeline.commands import compile as compile_command
from pipeline.commands import deploy as deploy_command
from pipeline.commands import infer_schema as infer_schema_command
from pipeline.commands import models as models_command
from pipeline.commands import options
from pipeline.commands import rollback as rollback_command
from pipeline.commands import run as run_command
from pipeline.commands import runs as runs_command
from pipeline.commands import schedule as schedule_command
from pipeline import exit as process_exit
# pylint: enable=wrong-import-position


@click.group(epilog=options.EXAMPLES)
def cli():
    """Train, validate, evaluate and push a Keras image classifier on a
    TensorFlow Datasets dataset with TFX."""


for command in (run_command.run, compile_command.compile_command,
                deploy_command.deploy, schedule_command.schedule,
                runs_command.runs, models_command.models,
                rollback_command.rollback, infer_schema_command.infer_schema):
    cli.add_command(command)


def main():
    """Runs the command line in this process."""
    cli(prog_name="python -m pipeline")


def console_main():
    """The `tfds-pipeline` console script and `python -m pipeline`: the
    command line, then the process ends with its status (see
    pipeline/exit.py)."""
    process_exit.run_then_exit(main)


if __name__ == "__main__":
    main()
