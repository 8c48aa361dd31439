"""Calls a SavedModel the way TensorFlow Serving will, in a process of its
own that imports nothing of the pipeline: TensorFlow, NumPy, and, to
replay the model's warm-up file as the server does, TensorFlow Serving's
request protos (tensorflow-serving-api, what a server's clients use).

  python -m components.serving_validator.probe --model DIR \
      --requests DIR --output probe.json

or, started ahead of need (see standby.py), `--standby` and the same flags
as one JSON list on standard input.

The requests folder holds `examples.tfrecord` (serialized tf.Examples, as
`serving_default` takes them) and `images.npy` (uint8, as `serving_images`
takes them), made from the same real examples (see `write_requests`). A
warm-up file in the model is replayed first, as TF Serving would. The probe loads the model
(the error, if it cannot), calls each signature on the whole batch, times
`--repeats` calls at each batch size, and writes what it saw as JSON for
`checks.judge` to decide on. It decides nothing itself.
"""

import argparse
import json
import sys
import time

import numpy as np
import tensorflow as tf

from components import storage

SIGNATURES = {"serving_default": "examples", "serving_images": "images"}
OUTPUT = "probabilities"
# Where TF Serving looks for a version's warm-up requests.
WARMUP_FILE = "assets.extra/tf_serving_warmup_requests"


def _call(function, key, values):
    return function(**{key: tf.constant(values)})


def probe(model_dir: str, requests: dict, batch_sizes, repeats: int
          ) -> dict:
    """What the model did with the requests (see the module docstring)."""
    started = time.perf_counter()
    try:
        model = tf.saved_model.load(model_dir)
    except Exception as error:  # pylint: disable=broad-except
        # Anything at all that stops a load is what a server would hit.
        return {"loaded": False,
                "error": f"{type(error).__name__}: {error}"[:2000]}
    result = {"loaded": True, "load_seconds": time.perf_counter() - started,
              "signatures": {}, "warmup": replay_warmup(model, model_dir)}
    for name, key in SIGNATURES.items():
        seen = result["signatures"][name] = {}
        function = model.signatures.get(name)
        if function is None:
            seen["error"] = (f"no signature {name!r}; the model has "
                             f"{sorted(model.signatures)}")
            continue
        try:
            outputs = _call(function, key, requests[key])
            if OUTPUT not in outputs:
                seen["error"] = (f"no output {OUTPUT!r}; it returns "
                                 f"{sorted(outputs)}")
                continue
            seen["probabilities"] = outputs[OUTPUT].numpy().tolist()
            seen["latency_ms"] = {}
            for size in batch_sizes:
                batch = requests[key][:size]
                _call(function, key, batch)  # The first call traces.
                times = []
                for _ in range(repeats):
                    begin = time.perf_counter()
                    _call(function, key, batch)[OUTPUT].numpy()
                    times.append((time.perf_counter() - begin) * 1000)
                seen["latency_ms"][str(size)] = times
        except Exception as error:  # pylint: disable=broad-except
            seen["error"] = f"{type(error).__name__}: {error}"[:2000]
    return result


def replay_warmup(model, model_dir: str) -> dict:
    """Replays the model's warm-up file as TensorFlow Serving does when it
    loads a version (a record it cannot answer fails the load):
    {"records": n} or {"error": why}; {} if the model has none."""
    path = f"{model_dir.rstrip('/')}/{WARMUP_FILE}"
    if not tf.io.gfile.exists(path):
        return {}
    # TF Serving's own request protos; still nothing of the pipeline's.
    from tensorflow_serving.apis import prediction_log_pb2  # pylint: disable=import-outside-toplevel
    count = 0
    try:
        for record in tf.data.TFRecordDataset(path):
            request = prediction_log_pb2.PredictionLog.FromString(
                record.numpy()).predict_log.request
            function = model.signatures[request.model_spec.signature_name]
            inputs = {key: tf.constant(tf.make_ndarray(tensor))
                      for key, tensor in request.inputs.items()}
            function(**inputs)[OUTPUT].numpy()
            count += 1
    except Exception as error:  # pylint: disable=broad-except
        return {"error": f"record {count}: {type(error).__name__}: "
                         f"{error}"[:2000]}
    return {"records": count}


EXAMPLES_FILE = "examples.tfrecord"
IMAGES_FILE = "images.npy"


def write_requests(folder: str, serialized, images: np.ndarray) -> None:
    """Writes the requests `main` reads."""
    with tf.io.TFRecordWriter(f"{folder}/{EXAMPLES_FILE}") as writer:
        for record in serialized:
            writer.write(record)
    np.save(f"{folder}/{IMAGES_FILE}", images)


def read_requests(folder: str) -> dict:
    """{"examples": object array of bytes, "images": uint8 array}."""
    serialized = [r.numpy() for r in tf.data.TFRecordDataset(
        f"{folder}/{EXAMPLES_FILE}")]
    return {"examples": np.array(serialized, dtype=object),
            "images": np.load(f"{folder}/{IMAGES_FILE}")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model")
    parser.add_argument("--requests")
    parser.add_argument("--output")
    parser.add_argument("--batch-sizes", default="1,64")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument(
        "--standby", action="store_true",
        help="wait for the other flags as one JSON list on standard input "
             "(see standby.py); end quietly if it closes first")
    args = parser.parse_args()
    if args.standby:
        line = sys.stdin.readline()
        if not line:
            return
        args = parser.parse_args(json.loads(line))
    missing = [f"--{name}" for name in ("model", "requests", "output")
               if not getattr(args, name)]
    if missing:
        parser.error(f"{', '.join(missing)} required")
    storage.enable([args.model, args.requests, args.output])
    result = probe(args.model, read_requests(args.requests),
                   [int(s) for s in args.batch_sizes.split(",")],
                   args.repeats)
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(result, f)
    storage.end_process(0)


if __name__ == "__main__":
    main()
