"""Publishing a version is atomic and versions only grow."""

import os

import pytest

from components.pusher import executor


def _model(tmp_path):
    model = tmp_path / "model"
    (model / "variables").mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(b"pb")
    (model / "variables" / "variables.index").write_bytes(b"idx")
    return str(model)


def test_publish_copies_to_a_new_version(tmp_path):
    base = str(tmp_path / "serving")
    version, path = executor.publish(_model(tmp_path), base,
                                     clock=lambda: 1000.0)
    assert version == "1000" and path == os.path.join(base, "1000")
    assert sorted(os.listdir(base)) == ["1000"]
    assert os.path.isfile(os.path.join(path, "saved_model.pb"))
    assert os.path.isfile(os.path.join(path, "variables", "variables.index"))


def test_versions_grow_even_within_one_second(tmp_path):
    base = str(tmp_path / "serving")
    model = _model(tmp_path)
    first, _ = executor.publish(model, base, clock=lambda: 1000.0)
    second, _ = executor.publish(model, base, clock=lambda: 1000.0)
    assert int(second) == int(first) + 1


def test_staging_left_by_a_crash_is_removed(tmp_path):
    base = tmp_path / "serving"
    (base / "999").mkdir(parents=True)
    (base / ".incomplete-1000" / "variables").mkdir(parents=True)
    executor.publish(_model(tmp_path), str(base), clock=lambda: 1000.0)
    assert sorted(os.listdir(base)) == ["1000", "999"]


def test_crash_mid_copy_leaves_no_version(tmp_path, monkeypatch):
    base = tmp_path / "serving"
    (base / "5").mkdir(parents=True)

    def crash(source, destination, **kwargs):
        os.makedirs(destination)
        raise OSError("disk full")

    monkeypatch.setattr(executor.io_utils, "copy_dir", crash)
    with pytest.raises(OSError, match="disk full"):
        executor.publish(_model(tmp_path), str(base), clock=lambda: 1000.0)
    # Only the old version and a hidden staging dir: nothing a server loads.
    assert [n for n in os.listdir(base) if n.isdigit()] == ["5"]
