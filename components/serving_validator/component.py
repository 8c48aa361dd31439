"""ServingValidator: push only what a server will load and answer.

TFX's InfraValidator starts TensorFlow Serving in Docker or Kubernetes and
does not run on KFP v2. This component needs neither: it loads the
candidate in a fresh process with nothing of the pipeline (TensorFlow,
NumPy and TF Serving's request protos: probe.py), replays its warm-up file, calls
both serving signatures with real serialized examples and the same images
raw, checks the answers (shape, probabilities summing to 1, the same answer
from both signatures), measures latency at batch 1 and 64, and records the
verdict on an InfraBlessing, as InfraValidator does. A model that passes
is copied into the blessing with TensorFlow Serving's warm-up file and its
model card (model_card.py), and the Pusher pushes that copy.
"""

from tfx import types
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import (ChannelParameter, ComponentSpec,
                                      ExecutionParameter)

from components.serving_validator import executor


class ServingValidatorSpec(ComponentSpec):
    """The candidate, its data and the Evaluator's verdict in; the serving
    verdict out."""
    PARAMETERS = {
        "split": ExecutionParameter(type=str),
        "repeats": ExecutionParameter(type=int),
    }
    INPUTS = {
        "model": ChannelParameter(type=standard_artifacts.Model),
        "examples": ChannelParameter(type=standard_artifacts.Examples),
        "schema": ChannelParameter(type=standard_artifacts.Schema),
        "model_blessing": ChannelParameter(
            type=standard_artifacts.ModelBlessing, optional=True),
        # For the model card.
        "evaluation": ChannelParameter(
            type=standard_artifacts.ModelEvaluation, optional=True),
        "model_run": ChannelParameter(type=standard_artifacts.ModelRun,
                                      optional=True),
    }
    OUTPUTS = {
        "blessing": ChannelParameter(type=standard_artifacts.InfraBlessing),
    }


class ServingValidator(base_component.BaseComponent):
    """Validates the candidate for serving (see the module docstring)."""

    SPEC_CLASS = ServingValidatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, model, examples, schema, model_blessing=None,
                 evaluation=None, model_run=None, split: str = "eval",
                 repeats: int = 20):
        """Args:
          model: the Trainer's model.
          examples: ExampleGen's examples; requests come from `split`.
          schema: the data contract (image shape, number of classes).
          model_blessing: the Evaluator's blessing; an unblessed model is
            not validated (and not blessed here).
          evaluation: the Evaluator's evaluation, for the model card.
          model_run: the Trainer's run record, for the model card.
          split: the split the requests come from.
          repeats: timed calls per signature and batch size.

        Raises:
          ValueError: if `repeats` is not at least 1.
        """
        if not isinstance(repeats, int) or repeats < 1:
            raise ValueError(f"repeats must be a whole number >= 1, got "
                             f"{repeats!r}.")
        super().__init__(spec=ServingValidatorSpec(
            model=model, examples=examples, schema=schema,
            model_blessing=model_blessing, evaluation=evaluation,
            model_run=model_run, split=split, repeats=repeats,
            blessing=types.Channel(type=standard_artifacts.InfraBlessing)))
