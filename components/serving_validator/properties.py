"""What ServingValidator records on its InfraBlessing artifact, readable
without TensorFlow (the summary, the report, `models`)."""

# TFX's own: 1 if the model may be pushed (the Pusher checks it), and 1 if
# the blessing holds the model to push (with its warm-up file).
BLESSED = "blessed"
HAS_MODEL = "has_model"
# Why the model was refused ("" if it passed); latencies as JSON.
REASON = "reason"
LATENCY_MS = "latency_ms"
# The full result, in the artifact's folder.
RESULT_FILE = "validation.json"
