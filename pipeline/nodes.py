"""The node ids of the DAG that `pipeline.factory` builds, and the output
keys read back after a run: one home for the names that runners, ML
Metadata queries, reports and tests use.

The output keys are TFX's own (`tfx.types.standard_component_specs`); they
are repeated here because that module imports TensorFlow, which the
history commands must not (tests/pipeline/test_nodes.py checks they agree).
"""

EXAMPLE_GEN = "TfdsExampleGen"
STATISTICS_GEN = "StatisticsGen"
SCHEMA_IMPORTER = "ImportSchemaGen"
EXAMPLE_VALIDATOR = "ExampleValidator"
TRANSFORM = "Transform"
WARM_START_RESOLVER = "warm_start_model_resolver"
TRAINER = "Trainer"
BASELINE_RESOLVER = "latest_blessed_model_resolver"
EVALUATOR = "Evaluator"
SERVING_VALIDATOR = "ServingValidator"
PUSHER = "Pusher"

# The data's statistics and their validation, which run beside Transform
# and the Trainer and are needed only by the Evaluator, after the Trainer
# (`launching.run_all`'s `yielding`): side by side they take only the CPU
# the others leave, and they run to their end even when a node beside them
# fails, so that a Trainer failing on bad data fails a run that names it.
YIELDING = (STATISTICS_GEN, EXAMPLE_VALIDATOR)

# Resolvers have no executor to cache: they resolve again on every run.
RESOLVERS = (WARM_START_RESOLVER, BASELINE_RESOLVER)

# Output keys (and the input keys read for lineage).
EXAMPLES_KEY = "examples"
STATISTICS_KEY = "statistics"
MODEL_KEY = "model"
MODEL_RUN_KEY = "model_run"
EVALUATION_KEY = "evaluation"
BLESSING_KEY = "blessing"
MODEL_BLESSING_KEY = "model_blessing"
PUSHED_MODEL_KEY = "pushed_model"
INFRA_BLESSING_KEY = "infra_blessing"
