"""TFX's Evaluator executor, then the headline metrics recorded on the
evaluation artifact (see metrics.py)."""

from tfx.components.evaluator import executor as tfx_executor
from tfx.types import artifact_utils
from tfx.types import standard_component_specs

from components import autograph
from components.evaluator import metrics


class Executor(tfx_executor.Executor):
    """Evaluates and validates as TFX's Evaluator does, then records
    accuracy, example count and per-class accuracy on the output."""

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        # TFMA updates its Keras metrics in tf.functions.
        autograph.skip_keras_conversion()
        super().Do(input_dict, output_dict, exec_properties)
        evaluation = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.EVALUATION_KEY])
        metrics.record(evaluation, metrics.read_metrics(evaluation.uri))
