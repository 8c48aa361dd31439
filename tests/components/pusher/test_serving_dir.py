"""The serving directory: publishing a version is atomic, checked and
recorded in a manifest; versions only grow; damage is found."""

import hashlib
import json
import os

import pytest

from components.pusher import executor
from components.pusher import serving_dir
from pipeline import nodes


def _model(tmp_path):
    model = tmp_path / "model"
    (model / "variables").mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(b"pb")
    (model / "variables" / "variables.index").write_bytes(b"idx")
    return str(model)


def test_publish_copies_to_a_new_version(tmp_path):
    base = str(tmp_path / "serving")
    version, path = serving_dir.publish(_model(tmp_path), base,
                                     clock=lambda: 1000.0)
    assert version == "1000" and path == os.path.join(base, "1000")
    assert sorted(os.listdir(base)) == [".manifest-1000.json",
                                        ".source-1000", "1000"]
    assert os.path.isfile(os.path.join(path, "saved_model.pb"))
    assert os.path.isfile(os.path.join(path, "variables", "variables.index"))


def test_versions_grow_even_within_one_second(tmp_path):
    base = str(tmp_path / "serving")
    model = _model(tmp_path)
    first, _ = serving_dir.publish(model, base, clock=lambda: 1000.0)
    second, _ = serving_dir.publish(model, base, clock=lambda: 1000.0)
    assert int(second) == int(first) + 1


def test_staging_left_by_a_crash_is_removed_once_stale(tmp_path):
    base = tmp_path / "serving"
    (base / "999").mkdir(parents=True)
    crashed = base / ".incomplete-1000"
    (crashed / "variables").mkdir(parents=True)
    old = 1_000_000.0  # 1970: long stale.
    os.utime(crashed, (old, old))
    copying = base / ".incomplete-another-push"
    copying.mkdir()  # Modified just now: a push still copying.
    serving_dir.publish(_model(tmp_path), str(base), clock=lambda: 1000.0)
    assert sorted(os.listdir(base)) == [
        ".incomplete-another-push", ".manifest-1000.json", ".source-1000",
        "1000", "999"]


def test_a_version_taken_meanwhile_is_not_overwritten(tmp_path, monkeypatch):
    """Two pushes in the same second: the one that renames second takes
    the next version and leaves the first one's files alone."""
    base = tmp_path / "serving"
    move = serving_dir.FILES.move
    other = _model(tmp_path / "other")

    def racing(source, destination):
        monkeypatch.setattr(serving_dir.FILES, "move", move)
        serving_dir.publish(other, str(base), clock=lambda: 1000.0)
        move(source, destination)  # Now taken: raises.

    monkeypatch.setattr(serving_dir.FILES, "move", racing)
    version, _ = serving_dir.publish(_model(tmp_path), str(base),
                                     clock=lambda: 1000.0)
    assert version == "1001"
    assert serving_dir.source(str(base), "1000") == other
    assert serving_dir.source(str(base), "1001") == str(tmp_path / "model")
    assert serving_dir.problems(str(base), "1000") == []
    assert serving_dir.problems(str(base), "1001") == []
    assert not [n for n in os.listdir(base)
                if n.startswith(serving_dir.STAGING_PREFIX)]


def test_crash_mid_copy_leaves_no_version(tmp_path, monkeypatch):
    base = tmp_path / "serving"
    (base / "5").mkdir(parents=True)

    def crash(source, destination):
        os.makedirs(destination)
        raise OSError("disk full")

    monkeypatch.setattr(serving_dir.FILES, "copytree", crash)
    with pytest.raises(OSError, match="disk full"):
        serving_dir.publish(_model(tmp_path), str(base), clock=lambda: 1000.0)
    # Only the old version and a hidden staging dir: nothing a server loads.
    assert [n for n in os.listdir(base) if n.isdigit()] == ["5"]


def test_each_version_names_the_model_it_came_from(tmp_path):
    base = str(tmp_path / "serving")
    assert serving_dir.newest(base) == (None, None)
    model = _model(tmp_path)
    serving_dir.publish(model, base, clock=lambda: 1000.0)
    assert serving_dir.newest(base) == ("1000", model)
    other = tmp_path / "other"
    other.mkdir()
    (other / "saved_model.pb").write_bytes(b"pb2")
    serving_dir.publish(str(other), base, clock=lambda: 1000.0)
    assert serving_dir.newest(base) == ("1001", str(other))
    # Only version directories are what TF Serving loads.
    assert sorted(n for n in os.listdir(base) if n.isdigit()) == [
        "1000", "1001"]


def test_the_manifest_holds_every_file_s_sha256(tmp_path):
    base = str(tmp_path / "serving")
    model = _model(tmp_path)
    version, _ = serving_dir.publish(model, base, clock=lambda: 1000.0)
    with open(serving_dir.manifest_path(base, version),
              encoding="utf-8") as f:
        manifest = json.load(f)
    assert manifest["version"] == "1000" and manifest["source"] == model
    assert sorted(manifest["files"]) == ["saved_model.pb",
                                         "variables/variables.index"]
    assert manifest["files"]["saved_model.pb"] == hashlib.sha256(
        b"pb").hexdigest()
    assert manifest["files"]["variables/variables.index"] == \
        hashlib.sha256(b"idx").hexdigest()
    assert serving_dir.problems(base, version) == []


def test_damage_is_named_file_by_file(tmp_path):
    base = str(tmp_path / "serving")
    version, path = serving_dir.publish(_model(tmp_path), base,
                                        clock=lambda: 1000.0)
    with open(os.path.join(path, "saved_model.pb"), "ab") as f:
        f.write(b"!")
    os.remove(os.path.join(path, "variables", "variables.index"))
    (tmp_path / "serving" / version / "stray.txt").write_text("x")
    assert serving_dir.problems(base, version) == [
        "missing variables/variables.index", "changed saved_model.pb",
        "not in the manifest stray.txt"]
    with open(serving_dir.manifest_path(base, version), "w",
              encoding="utf-8") as f:
        f.write("{not json")
    assert serving_dir.problems(base, version) == [
        f"unreadable manifest {serving_dir.manifest_path(base, version)}"]
    # Pushed before manifests existed: not checkable, not damaged.
    os.remove(serving_dir.manifest_path(base, version))
    assert serving_dir.problems(base, version) is None


def test_a_copy_that_differs_is_not_published(tmp_path, monkeypatch):
    base = tmp_path / "serving"
    copytree = serving_dir.FILES.copytree

    def damaging(source, destination):
        copytree(source, destination)
        with open(os.path.join(destination, "saved_model.pb"), "wb") as f:
            f.write(b"bit rot")

    monkeypatch.setattr(serving_dir.FILES, "copytree", damaging)
    with pytest.raises(serving_dir.PublishError,
                       match="differs from it \\(saved_model.pb\\)"):
        serving_dir.publish(_model(tmp_path), str(base),
                            clock=lambda: 1000.0)
    assert os.listdir(base) == []


def _push(tmp_path, model_uri, blessing_uri, serving, name):
    import json  # pylint: disable=import-outside-toplevel
    from tfx.types import standard_artifacts  # pylint: disable=import-outside-toplevel
    model = standard_artifacts.Model()
    model.uri = model_uri
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = blessing_uri
    blessing.set_int_custom_property("blessed", 1)
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / name)
    executor.Executor().Do(
        {"model": [model], "model_blessing": [blessing]},
        {"pushed_model": [pushed]},
        {"push_destination": json.dumps(
            {"filesystem": {"base_directory": serving}}),
         "custom_config": "null"})
    return pushed


def test_the_model_already_served_is_not_pushed_again(tmp_path):
    """What keeps a re-run on Vertex (TFX's resolver, a fresh blessing of
    the same model) from serving the same model twice."""
    model_uri = tmp_path / nodes.TRAINER / "model" / "7"
    _model(model_uri)  # writes model_uri/model: the serving dir below.
    os.rename(model_uri / "model", model_uri / "Format-Serving")
    serving = str(tmp_path / "serving")
    first = _push(tmp_path, str(model_uri), str(tmp_path / "b1"), serving,
                  "push1")
    assert first.get_int_custom_property("pushed") == 1
    again = _push(tmp_path, str(model_uri), str(tmp_path / "b2"), serving,
                  "push2")
    assert again.get_int_custom_property("pushed") == 0
    assert [n for n in os.listdir(serving) if n.isdigit()] == [
        first.get_string_custom_property("pushed_version")]


def test_a_rolled_back_model_is_not_pushed_again(tmp_path):
    """A re-run that reaches the Pusher with the model a person rolled
    back must not serve it again."""
    serving = str(tmp_path / "serving")
    good_uri, bad_uri = (tmp_path / "Trainer" / "model" / n for n in "12")
    for uri in (good_uri, bad_uri):
        _model(uri)
        os.rename(uri / "model", uri / "Format-Serving")
    first = _push(tmp_path, str(good_uri), str(tmp_path / "b1"), serving,
                  "push1").get_string_custom_property("pushed_version")
    second = _push(tmp_path, str(bad_uri), str(tmp_path / "b2"), serving,
                   "push2").get_string_custom_property("pushed_version")
    serving_dir.publish(os.path.join(serving, first), serving,
                        model_source=serving_dir.source(serving, first),
                        extra={"restores": first, "replaces": second})
    assert serving_dir.replaced_sources(serving) == {
        str(bad_uri / "Format-Serving")}
    again = _push(tmp_path, str(bad_uri), str(tmp_path / "b3"), serving,
                  "push3")
    assert again.get_int_custom_property("pushed") == 0
    assert len(serving_dir.versions(serving)) == 3


def test_publish_on_s3_moves_saved_model_pb_last(tmp_path, s3_env,
                                                 monkeypatch):
    """An object store has no rename: every object is moved on its own,
    saved_model.pb last, and the version verifies (MinIO on loopback)."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    base = f"s3://pipeline/serving-{tmp_path.name}"
    serving_dir.FILES.gfile(base)  # tensorflow-io's s3 filesystem
    moved = []
    rename = tf.io.gfile.rename

    def recording(source, destination, overwrite=False):
        moved.append(destination.rsplit("/", 1)[1])
        rename(source, destination, overwrite=overwrite)

    monkeypatch.setattr(tf.io.gfile, "rename", recording)
    version, path = serving_dir.publish(_model(tmp_path), base,
                                        clock=lambda: 1000.0)
    assert (version, path) == ("1000", f"{base}/1000")
    assert sorted(moved) == ["saved_model.pb", "variables.index"]
    assert moved[-1] == "saved_model.pb"
    assert serving_dir.versions(base) == ["1000"]
    assert serving_dir.problems(base, "1000") == []
    assert not [n for n in serving_dir.FILES.listdir(base)
                if n.startswith(serving_dir.STAGING_PREFIX)]
    with tf.io.gfile.GFile(f"{path}/variables/variables.index", "wb") as f:
        f.write(b"flipped")
    assert serving_dir.problems(base, "1000") == [
        "changed variables/variables.index"]
