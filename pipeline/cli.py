"""The one command line: `python -m pipeline` or `tfds-pipeline`.

Settings are read once, from flags (or their environment variables), into a
validated `PipelineConfig`; a bad setting is one clear message and exit
code 2 before any component runs. The commands live in `pipeline.commands`:
`run` and `infer-schema` (run.py), `compile` (compile.py), `deploy` and
`schedule` (ship.py), `runs` and `models` (history.py).
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
import click

from pipeline.commands import compile as compile_commands
from pipeline.commands import history as history_commands
from pipeline.commands import options
from pipeline.commands import run as run_commands
from pipeline.commands import ship as ship_commands
# pylint: enable=wrong-import-position


@click.group(epilog=options.EXAMPLES)
def cli():
    """Train, validate, evaluate and push a Keras image classifier on a
    TensorFlow Datasets dataset with TFX."""


for command in (run_commands.run, compile_commands.compile_command,
                ship_commands.deploy, ship_commands.schedule,
                history_commands.runs, history_commands.models,
                run_commands.infer_schema):
    cli.add_command(command)


def main():
    """Console-script entry point."""
    cli(prog_name="python -m pipeline")


if __name__ == "__main__":
    main()
