"""The Trainer's settings cross to run_fn through one typed schema."""

import dataclasses
import json

import pytest

import pipeline_config as pc
from components.trainer import settings

# Every field set to something other than the config's default.
CHANGED = pc.TrainingConfig(
    epochs=3, batch_size_per_replica=32, cpu_replicas=2,
    steps_per_execution=7, jit_compile=True, validate_every=1, cache_budget_mib=5,
    shuffle_buffer=10, seed=4, warm_start=True, tpu="local")


def _settings(training=CHANGED, counts=None):
    return settings.TrainerSettings(**dataclasses.asdict(training),
                                    example_counts=counts)


def test_the_schema_has_the_config_fields_and_the_executors_counts():
    names = [f.name for f in dataclasses.fields(settings.TrainerSettings)]
    assert names == [f.name for f in dataclasses.fields(pc.TrainingConfig)
                     ] + ["example_counts"]
    changed = dataclasses.asdict(CHANGED)
    default = dataclasses.asdict(pc.TrainingConfig())
    # Workers and CPU replicas do not combine; workers is tested below.
    assert [name for name in changed if changed[name] == default[name]] \
        == ["workers"]


def test_workers_round_trip():
    several = dataclasses.replace(CHANGED, cpu_replicas=1, workers=3)
    assert settings.read(settings.write(_settings(several))).workers == 3


def test_every_field_round_trips_through_json():
    written = json.dumps(settings.write(
        _settings(counts={"train": 6, "eval": 2}), {"vertex_key": 1}))
    custom_config = json.loads(written)
    assert custom_config["vertex_key"] == 1
    read = settings.read(custom_config)
    assert read == _settings(counts={"train": 6, "eval": 2})
    assert dataclasses.asdict(read)["tpu"] == "local"


def test_a_missing_field_is_an_error_not_a_default():
    wire = _settings().to_json()
    del wire["steps_per_execution"]
    with pytest.raises(settings.SettingsError,
                       match="lack steps_per_execution.*Recompile"):
        settings.read({settings.KEY: wire})


def test_an_unknown_field_is_an_error():
    wire = dict(_settings().to_json(), learning_rate=0.1)
    with pytest.raises(settings.SettingsError,
                       match="unknown learning_rate"):
        settings.read({settings.KEY: wire})


def test_the_old_flat_layout_is_an_error():
    with pytest.raises(settings.SettingsError, match="no 'training'"):
        settings.read(dataclasses.asdict(CHANGED))
    with pytest.raises(settings.SettingsError, match="no 'training'"):
        settings.read(None)


@pytest.mark.parametrize("field,value", [
    ("epochs", "5"), ("epochs", 5.0), ("epochs", True),
    ("warm_start", 1), ("tpu", 3), ("example_counts", {"train": "6"}),
    ("example_counts", [6])])
def test_a_mistyped_field_is_an_error(field, value):
    wire = dict(_settings().to_json(), **{field: value})
    with pytest.raises(settings.SettingsError, match=f"setting {field} must"):
        settings.read({settings.KEY: wire})
