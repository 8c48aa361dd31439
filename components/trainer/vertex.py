"""The Trainer as a Vertex AI custom job, in the project the pipeline runs in.

TFX's Vertex Trainer needs the Google Cloud project in its training args at
compile time. This one also accepts a pipeline compiled without one: on
Vertex, the executor takes the project of the credentials it runs with
(`google.auth.default()`, the pipeline's own project), so one compiled job
can be submitted to any project.
"""

from typing import Any, Callable, Dict, List

from tfx import types
from tfx.dsl.components.base import executor_spec
from tfx.extensions.google_cloud_ai_platform.trainer import (
    component as vertex_component)
from tfx.extensions.google_cloud_ai_platform.trainer import (
    executor as vertex_executor)
from tfx.types import standard_component_specs
from tfx.utils import json_utils

from components.trainer import executor as trainer_executor


def default_project() -> str:
    """The project of the credentials this process runs with."""
    import google.auth  # pylint: disable=import-outside-toplevel
    _, project = google.auth.default()
    if not project:
        raise RuntimeError(
            "the Trainer's Vertex custom job needs a Google Cloud project and "
            "none was compiled in or found in the credentials: compile with "
            "--project.")
    return project


def with_project(training_args: Dict[str, Any],
                 project: Callable[[], str] = default_project
                 ) -> Dict[str, Any]:
    """`training_args` with a project, filling in `project()` if absent."""
    if training_args.get("project"):
        return training_args
    return dict(training_args, project=project())


class Executor(vertex_executor.GenericExecutor):
    """TFX's Vertex training executor, after `with_project`."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        key = standard_component_specs.CUSTOM_CONFIG_KEY
        custom_config = json_utils.loads(exec_properties[key])
        training = vertex_executor.TRAINING_ARGS_KEY
        custom_config[training] = with_project(custom_config[training])
        custom_config = trainer_executor.with_example_counts(
            custom_config, input_dict, exec_properties)
        super().Do(input_dict, output_dict,
                   dict(exec_properties, **{key: json_utils.dumps(
                       custom_config)}))


class Trainer(vertex_component.Trainer):
    """TFX's Vertex Trainer (same id, inputs and outputs) with `Executor`."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)
