"""tests/reaper.py sees what a command leaves behind."""

import json
import subprocess
import sys

from tests.conftest import REPO


def _outlived(tmp_path, *command):
    path = tmp_path / "outlived.json"
    code = subprocess.call([sys.executable, "-m", "tests.reaper", str(path),
                            *command], cwd=REPO, timeout=60)
    return code, json.loads(path.read_text())


def test_a_process_left_running_is_reported_and_stopped(tmp_path):
    code, outlived = _outlived(tmp_path, "sh", "-c", "sleep 120 & exit 3")
    assert code == 3
    assert [child["cmdline"] for child in outlived] == ["sleep 120"]
    assert not subprocess.run(["pgrep", "-f", "^sleep 120$"],
                              capture_output=True).stdout


def test_a_command_that_waits_for_its_children_leaves_nothing(tmp_path):
    assert _outlived(tmp_path, "sh", "-c", "sleep 0.1 & wait") == (0, [])


def test_what_a_leftover_leaves_is_stopped_too(tmp_path):
    code, outlived = _outlived(
        tmp_path, "sh", "-c", "(sh -c 'sleep 121; :' & sleep 122) & exit 0")
    assert code == 0 and len(outlived) == 1
    assert not subprocess.run(["pgrep", "-f", "^sleep 12[12]$"],
                              capture_output=True).stdout
