"""TFX's Evaluator executor, then the headline metrics recorded on the
evaluation artifact (see metrics.py)."""

import numpy as np
from tfx.components.evaluator import executor as tfx_executor
from tfx.types import artifact_utils
from tfx.types import standard_component_specs

from components import autograph
from components.evaluator import metrics
from components.tfds_example_gen import properties


# Arrays longer than this print as their first and last few elements.
_PRINTED_ELEMENTS = 16


class Executor(tfx_executor.Executor):
    """Evaluates and validates as TFX's Evaluator does, then records
    accuracy, example count and per-class accuracy on the output, and all
    that `metrics.read_metrics` finds (classes named as the examples name
    them)."""

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        # TFMA updates its Keras metrics in tf.functions.
        autograph.skip_library_conversion()
        # TFMA calls the serving signature with each batch of serialized
        # examples as a positional argument. TensorFlow binds a signature
        # by keyword: the first binding fails, and its error message, which
        # TensorFlow drops before the call that works, prints the whole
        # batch (up to 1,000 examples of 800 bytes), a share of the
        # Evaluator's time that py-spy shows (docs/performance.md).
        # Printed shortened, it costs nothing.
        # The setting holds in this process, so with Beam's
        # multi_processing mode (TFMA in worker processes) it is lost.
        with np.printoptions(threshold=_PRINTED_ELEMENTS):
            super().Do(input_dict, output_dict, exec_properties)
        evaluation = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.EVALUATION_KEY])
        examples = input_dict.get(standard_component_specs.EXAMPLES_KEY)
        class_names = properties.class_names(
            examples[0].get_string_custom_property(properties.CLASS_NAMES)
            if examples else None)
        metrics.record(evaluation,
                       metrics.read_metrics(evaluation.uri, class_names))
