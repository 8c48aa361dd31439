"""`models --verify` and `rollback`, through the CLI, on a serving dir the
Pusher's layout wrote and an ML Metadata store with the pushes recorded as
TFX records them (tests/pipeline/metadata/fake_runs.py)."""

import json
import os
import re
import sys

import pytest

from components.pusher import serving_dir
from tests.pipeline import helpers
from tests.pipeline.metadata import fake_runs
from tests.pipeline.metadata.fake_runs import Outcome


def _model(path, text):
    """A stand-in SavedModel folder (the commands never load it)."""
    (path / "variables").mkdir(parents=True)
    (path / "saved_model.pb").write_text(f"graph {text}")
    (path / "variables" / "variables.data-00000-of-00001").write_text(
        f"weights {text}")
    return str(path)


@pytest.fixture
def pushed(tmp_path):
    """Two runs, each pushing its own model: versions 1001 and 1002."""
    sqlite = str(tmp_path / "metadata.sqlite")
    fake = fake_runs.FakeStore(tmp_path, sqlite_path=sqlite)
    base = str(tmp_path / "serving")
    for run, text, fingerprint in (("r1", "one", "a" * 64),
                                   ("r2", "two", "b" * 64)):
        fake.run(run, Outcome(fingerprint=fingerprint))
        version = fake.last_pushed_version
        serving_dir.publish(_model(tmp_path / f"model-{text}", text), base,
                            clock=lambda v=version: float(v))
    fake.close()
    return f"sqlite://{sqlite}", base


def _cli(*args):
    return helpers.run_cli([sys.executable, "-m", "pipeline", *args])


def _files(directory):
    """Relative path -> bytes of every file under a folder."""
    result = {}
    for folder, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                result[os.path.relpath(path, directory)] = f.read()
    return result


def _rolled_back_to(result, base, restored):
    """The new version a rollback published; checks it holds `restored`."""
    assert result.returncode == 0, result.stderr
    match = re.search(r"version (\d+) now serves the model of version "
                      r"(\d+)", result.stdout)
    assert match and match.group(2) == restored, result.stdout
    new = match.group(1)
    assert serving_dir.versions(base)[-1] == new
    assert _files(os.path.join(base, new)) == \
        _files(os.path.join(base, restored))
    assert serving_dir.problems(base, new) == []
    return new


def test_rollback_serves_the_earlier_model_and_back_again(pushed):
    url, base = pushed
    assert serving_dir.versions(base) == ["1001", "1002"]
    third = _rolled_back_to(_cli("rollback", "--metadata", url), base,
                            "1001")
    fourth = _rolled_back_to(_cli("rollback", "--metadata", url), base,
                             "1002")
    assert serving_dir.versions(base) == ["1001", "1002", third, fourth]

    listed = json.loads(_cli("models", "--metadata", url, "--json").stdout)
    assert [(m["version"], m["restores"], m["trained_in_run"])
            for m in listed] == [(fourth, "1002", "r2"), (third, "1001", "r1"),
                                 ("1002", None, "r2"), ("1001", None, "r1")]
    assert listed[0]["destination"] == os.path.join(base, fourth)
    table = _cli("models", "--metadata", url).stdout
    assert "rollback: publishes version 1002 again" in table


def test_rollback_to_a_named_version(pushed):
    url, base = pushed
    third = _rolled_back_to(_cli("rollback", "--metadata", url, "--to",
                                 "1001"), base, "1001")
    for to, message in ((third, "that version is already served"),
                        ("999", "no such version")):
        refused = _cli("rollback", "--metadata", url, "--to", to)
        assert refused.returncode == 2 and message in refused.stderr
    assert serving_dir.versions(base) == ["1001", "1002", third]


def test_verify_names_damaged_versions_and_rollback_refuses_them(pushed):
    url, base = pushed
    ok = _cli("models", "--metadata", url, "--verify")
    assert ok.returncode == 0, ok.stderr
    assert "All 2 version(s) with a manifest match it." in ok.stdout

    weights = os.path.join(base, "1001", "variables",
                           "variables.data-00000-of-00001")
    with open(weights, "r+b") as f:
        f.write(b"X")  # One byte flipped, size unchanged.
    damaged = _cli("models", "--metadata", url, "--verify")
    assert damaged.returncode == 1
    assert re.search(r"1001\s+DAMAGED: changed "
                     r"variables/variables.data-00000-of-00001",
                     damaged.stdout)
    assert re.search(r"1002\s+ok", damaged.stdout)
    as_json = json.loads(_cli("models", "--metadata", url, "--verify",
                              "--json").stdout)
    assert [(r["version"], bool(r["problems"])) for r in as_json] == [
        ("1001", True), ("1002", False)]

    refused = _cli("rollback", "--metadata", url)
    assert refused.returncode == 1
    assert "version 1001" in refused.stderr
    assert "does not match its manifest" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert serving_dir.versions(base) == ["1001", "1002"]


def test_verify_a_mounted_serving_dir(pushed, tmp_path):
    url, base = pushed
    mount = tmp_path / "mount"
    os.rename(base, mount)
    result = _cli("models", "--metadata", url, "--verify", "--serving-dir",
                  str(mount))
    assert result.returncode == 0, result.stderr
    assert str(mount) in result.stdout
    third = _rolled_back_to(_cli("rollback", "--metadata", url,
                                 "--serving-dir", str(mount)), str(mount),
                            "1001")
    listed = json.loads(_cli("models", "--metadata", url, "--json").stdout)
    # Recorded where the pipeline pushes, not where this machine mounts it.
    assert listed[0]["destination"] == os.path.join(base, third)


def test_nothing_pushed_is_one_message(tmp_path):
    sqlite = str(tmp_path / "metadata.sqlite")
    fake = fake_runs.FakeStore(tmp_path, sqlite_path=sqlite)
    fake.run("r1", Outcome(blessed=False))
    fake.close()
    result = _cli("rollback", "--metadata", f"sqlite://{sqlite}")
    assert result.returncode == 1
    assert "has pushed no model yet" in result.stderr


def test_rollback_waits_for_no_run_in_the_output_dir(pushed, tmp_path):
    """With --output-dir, a rollback takes the lock a run takes."""
    from pipeline.runners import output_lock  # pylint: disable=import-outside-toplevel
    _, base = pushed
    with output_lock.exclusive(str(tmp_path)):
        busy = _cli("rollback", "--output-dir", str(tmp_path))
    assert busy.returncode == 1
    assert "another pipeline run or rollback" in busy.stderr
    assert serving_dir.versions(base) == ["1001", "1002"]
    _rolled_back_to(_cli("rollback", "--output-dir", str(tmp_path)), base,
                    "1001")


def test_versions_pushed_before_manifests_are_unverified_not_damaged(
        pushed):
    url, base = pushed
    os.remove(serving_dir.manifest_path(base, "1001"))
    result = _cli("models", "--metadata", url, "--verify")
    assert result.returncode == 0, result.stderr
    assert re.search(r"1001\s+not verified: no manifest", result.stdout)
    assert "All 1 version(s) with a manifest match it." in result.stdout
    rolled = _cli("rollback", "--metadata", url)
    assert "Version 1001 has no manifest" in rolled.stdout
    new = _rolled_back_to(rolled, base, "1001")
    assert serving_dir.problems(base, new) == []


def test_a_mistyped_output_dir_creates_nothing(tmp_path):
    missing = tmp_path / "no-such-output"
    result = _cli("rollback", "--output-dir", str(missing))
    assert result.returncode == 1
    assert "no ML Metadata store at" in result.stderr
    assert not missing.exists()
