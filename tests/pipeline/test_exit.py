"""A command's process ends with its status and all of its output."""

import subprocess
import sys

import pytest

PROGRAM = """
import logging, sys
from pipeline import exit as process_exit
logging.basicConfig(filename={log!r}, level=logging.INFO)

def main():
    print("x" * 100000, end="")        # more than one buffer
    logging.info("logged")
    {ending}

process_exit.run_then_exit(main)
raise AssertionError("not reached")
"""


@pytest.mark.parametrize("ending, code, stderr", [
    ("return", 0, ""),
    ("sys.exit(3)", 3, ""),
    ("sys.exit('Error: bad value')", 1, "Error: bad value\n"),
])
def test_status_and_output_survive_the_exit(tmp_path, ending, code,
                                                 stderr):
    log = tmp_path / "run.log"
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(log=str(log), ending=ending)],
        capture_output=True, text=True, check=False)
    assert done.returncode == code
    assert done.stdout == "x" * 100000
    assert done.stderr == stderr
    assert "logged" in log.read_text()


def test_an_unexpected_error_still_shows_its_traceback(tmp_path):
    program = PROGRAM.format(log=str(tmp_path / "run.log"),
                             ending="raise KeyError('boom')")
    done = subprocess.run([sys.executable, "-c", program],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "KeyError: 'boom'" in done.stderr


def test_exit_handlers_run_after_the_command(tmp_path):
    """What a library registers with atexit (the serving probe's
    standby, TensorFlow's and Beam's own) runs as in any Python program."""
    mark = tmp_path / "ran"
    program = PROGRAM.format(log=str(tmp_path / "run.log"), ending=(
        f"import atexit; atexit.register(open({str(mark)!r}, 'w').write, "
        "'handler ran')"))
    done = subprocess.run([sys.executable, "-c", program],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert mark.read_text() == "handler ran"
