"""What crosses from the pipeline to the Trainer's `run_fn`: one typed
schema, written by the pipeline (`pipeline/factory.py`) and the node
entrypoint (a run's epochs), read by the executor and `run_fn`.

The settings travel in the Trainer's `custom_config`, under `KEY`, next to
the keys TFX's own executors read (Vertex's training args). Every field is
written and every field is read: a missing, unknown or mistyped field is a
`SettingsError` that says to recompile, never a default the Trainer picks
on its own. No defaults live here; they are the config's
(`pipeline_config.TrainingConfig`), which has the same fields.
"""

import dataclasses
import typing
from typing import Any, Dict, Mapping, Optional

# The key of the settings in the Trainer's custom_config.
KEY = "training"


class SettingsError(ValueError):
    """The Trainer's custom_config does not follow this schema."""


@dataclasses.dataclass(frozen=True)
class TrainerSettings:
    """The Trainer's settings; see `pipeline_config.TrainingConfig` for what
    each means. `example_counts` (split role -> examples) is filled in by
    the executor from what ExampleGen recorded; None when it recorded
    nothing, and then `run_fn` counts."""

    epochs: int
    batch_size_per_replica: int
    cpu_replicas: int
    workers: int
    steps_per_execution: int
    jit_compile: bool
    validate_every: int
    cache_budget_mib: int
    shuffle_buffer: int
    seed: int
    warm_start: bool
    tpu: Optional[str]
    example_counts: Optional[Dict[str, int]]

    def __post_init__(self):
        hints = typing.get_type_hints(type(self))
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not _is(value, hints[field.name]):
                raise SettingsError(
                    f"Trainer setting {field.name} must be "
                    f"{_describe(hints[field.name])}, got {value!r}. "
                    "Recompile the pipeline with this version.")

    def to_json(self) -> Dict[str, Any]:
        """The settings as a JSON-ready dict (every field)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, value: Any) -> "TrainerSettings":
        """Parses what `to_json` wrote; every field must be there, and no
        other."""
        if not isinstance(value, Mapping):
            raise SettingsError(
                f"the Trainer's settings must be a JSON object, got "
                f"{value!r}. Recompile the pipeline with this version.")
        names = [field.name for field in dataclasses.fields(cls)]
        missing = [name for name in names if name not in value]
        unknown = sorted(set(value) - set(names))
        if missing or unknown:
            raise SettingsError(
                "the Trainer's settings "
                + " and ".join(
                    part for part in (
                        missing and f"lack {', '.join(missing)}",
                        unknown and f"have unknown {', '.join(unknown)}")
                    if part)
                + ": the pipeline was compiled by another version of this "
                "project. Recompile it with this one.")
        return cls(**{name: value[name] for name in names})


def write(settings: TrainerSettings,
          custom_config: Optional[Mapping[str, Any]] = None
          ) -> Dict[str, Any]:
    """`custom_config` (the orchestrator's own keys) with `settings`."""
    return {**(custom_config or {}), KEY: settings.to_json()}


def read(custom_config: Optional[Mapping[str, Any]]) -> TrainerSettings:
    """The settings in a Trainer's custom_config."""
    if not custom_config or KEY not in custom_config:
        raise SettingsError(
            f"the Trainer's custom_config has no {KEY!r} settings "
            f"(keys: {sorted(custom_config or {})}): the pipeline was "
            "compiled by another version of this project. Recompile it "
            "with this one.")
    return TrainerSettings.from_json(custom_config[KEY])


def _is(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin is typing.Union:
        return any(_is(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin in (dict, Dict):
        key_type, value_type = typing.get_args(hint)
        return isinstance(value, dict) and all(
            _is(k, key_type) and _is(v, value_type)
            for k, v in value.items())
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) is typing.Union:
        return " or ".join(_describe(arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return "null"
    if typing.get_origin(hint) in (dict, Dict):
        return "an object of whole numbers"
    return {int: "a whole number", bool: "true or false",
            str: "a string"}.get(hint, str(hint))
