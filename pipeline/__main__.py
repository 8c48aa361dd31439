"""`python -m pipeline ...`: see `pipeline.cli`."""

from pipeline import cli

if __name__ == "__main__":
    cli.console_main()
