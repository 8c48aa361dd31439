"""`python -m pipeline ...`: see `pipeline.cli`."""

from pipeline import cli
from pipeline import exit as process_exit

if __name__ == "__main__":
    process_exit.run_then_exit(cli.main)
