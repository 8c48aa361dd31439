"""TensorFlow Serving's warm-up file: PredictionLog records a server
replays when it loads a version, so that the first real request does not
pay for tracing and allocation
(https://www.tensorflow.org/tfx/serving/saved_model_warmup)."""

from typing import List, Sequence

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2

from components.serving_validator import probe

WARMUP_FILE = probe.WARMUP_FILE


def prediction_logs(serialized: Sequence[bytes], images: np.ndarray,
                    batch_sizes: Sequence[int]) -> List[
                        prediction_log_pb2.PredictionLog]:
    """One Predict request per signature and batch size, from real
    examples (the same ones, serialized and as images)."""
    logs = []
    for size in batch_sizes:
        for signature, key, values in (
                ("serving_default", probe.SIGNATURES["serving_default"],
                 tf.make_tensor_proto(list(serialized[:size]),
                                      dtype=tf.string)),
                ("serving_images", probe.SIGNATURES["serving_images"],
                 tf.make_tensor_proto(images[:size]))):
            request = predict_pb2.PredictRequest()
            request.model_spec.signature_name = signature
            request.inputs[key].CopyFrom(values)
            logs.append(prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)))
    return logs


def write(saved_model_dir: str, logs) -> str:
    """Writes the records into the SavedModel; returns the file's path."""
    path = f"{saved_model_dir.rstrip('/')}/{WARMUP_FILE}"
    tf.io.gfile.makedirs(path.rsplit("/", 1)[0])
    with tf.io.TFRecordWriter(path) as writer:
        for log in logs:
            writer.write(log.SerializeToString())
    return path
