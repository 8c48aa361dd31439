"""ServingValidator on SavedModels made here, each with both serving
signatures (a good one and ones a server must not get), real gzipped
eval examples and the committed schema; the probe runs in a fresh process
each time, as in the pipeline."""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2
from tfx.types import standard_artifacts
from tfx.utils import io_utils

from components import features
from components.pusher import executor as pusher_executor
from components.pusher import serving_dir
from components.serving_validator import checks
from components.serving_validator import executor
from components.serving_validator import properties
from components.serving_validator import standby
from components.serving_validator import warmup
from tests.conftest import SCHEMA

SHAPE = (28, 28, 1)
CLASSES = 10


class _Model(tf.Module):
    """Softmax regression on raw pixels, with a defect on request."""

    def __init__(self, defect=None):
        super().__init__()
        rng = np.random.default_rng(0)
        self.weights = tf.Variable(rng.normal(size=(784, CLASSES)).astype(
            np.float32) * 0.01)
        self.defect = defect

    def _probabilities(self, pixels, signature):
        logits = tf.matmul(tf.cast(pixels, tf.float32) / 255.0, self.weights)
        if self.defect == "three_classes":
            logits = logits[:, :3]
        if self.defect == "disagree" and signature == "images":
            logits = logits[:, ::-1]
        if self.defect == "not_normalised":
            return tf.sigmoid(logits)
        return tf.nn.softmax(logits)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string,
                                                name="examples")])
    def examples(self, serialized):
        parsed = tf.io.parse_example(serialized, {
            "image": tf.io.FixedLenFeature([], tf.string)})
        pixels = tf.io.decode_raw(parsed["image"], tf.uint8)
        return {"probabilities": self._probabilities(pixels, "examples")}

    @tf.function(input_signature=[tf.TensorSpec([None, *SHAPE], tf.uint8,
                                                name="images")])
    def images(self, images):
        pixels = tf.reshape(images, [tf.shape(images)[0], -1])
        return {"probabilities": self._probabilities(pixels, "images")}


def _model_artifact(tmp_path, defect=None):
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")
    module = _Model(defect)
    tf.saved_model.save(module, os.path.join(model.uri, "Format-Serving"),
                        signatures={"serving_default": module.examples,
                                    "serving_images": module.images})
    return model


def _examples(tmp_path, count=80):
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    examples.split_names = json.dumps(["eval"])
    os.makedirs(os.path.join(examples.uri, "Split-eval"))
    rng = np.random.default_rng(1)
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    with tf.io.TFRecordWriter(os.path.join(
            examples.uri, "Split-eval", "data.gz"), options) as writer:
        for i in range(count):
            image = rng.integers(0, 256, SHAPE, dtype=np.uint8)
            writer.write(tf.train.Example(features=tf.train.Features(
                feature={
                    "image": tf.train.Feature(bytes_list=tf.train.BytesList(
                        value=[image.tobytes()])),
                    "label": tf.train.Feature(int64_list=tf.train.Int64List(
                        value=[i % CLASSES]))})).SerializeToString())
    return examples


def _schema(tmp_path):
    schema = standard_artifacts.Schema()
    schema.uri = str(tmp_path / "schema")
    os.makedirs(schema.uri)
    shutil.copy(SCHEMA, os.path.join(schema.uri, "schema.pbtxt"))
    return schema


def _blessing(tmp_path, blessed=True):
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(tmp_path / "model_blessing")
    blessing.set_int_custom_property("blessed", int(blessed))
    return blessing


def _validate(tmp_path, model, blessed=True):
    out = standard_artifacts.InfraBlessing()
    out.uri = str(tmp_path / "infra_blessing")
    os.makedirs(out.uri, exist_ok=True)
    executor.Executor().Do(
        {"model": [model], "examples": [_examples(tmp_path)],
         "schema": [_schema(tmp_path)],
         "model_blessing": [_blessing(tmp_path, blessed)]},
        {"blessing": [out]}, {"split": "eval", "repeats": 3})
    return out


def _reason(blessing):
    return blessing.get_string_custom_property(properties.REASON)


def test_a_good_model_passes_with_latency_and_a_warmup_file(tmp_path):
    blessing = _validate(tmp_path, _model_artifact(tmp_path))
    assert blessing.get_int_custom_property(properties.BLESSED) == 1, \
        _reason(blessing)
    assert blessing.get_int_custom_property(properties.HAS_MODEL) == 1
    latency = json.loads(blessing.get_string_custom_property(
        properties.LATENCY_MS))
    for signature in ("serving_default", "serving_images"):
        assert set(latency[signature]) == {"p50_batch_1", "p99_batch_1",
                                           "p50_batch_64", "p99_batch_64"}
        assert 0 < latency[signature]["p50_batch_1"] <= \
            latency[signature]["p99_batch_1"]
    assert os.path.isfile(os.path.join(blessing.uri, "INFRA_BLESSED"))

    stamped = os.path.join(blessing.uri, "stamped_model")
    loaded = tf.saved_model.load(stamped)
    records = list(tf.data.TFRecordDataset(os.path.join(
        stamped, warmup.WARMUP_FILE)))
    assert len(records) == 4  # Two signatures, batch 1 and 64.
    for record in records:
        request = prediction_log_pb2.PredictionLog.FromString(
            record.numpy()).predict_log.request
        [(key, tensor)] = request.inputs.items()
        values = tf.make_ndarray(tensor)
        answer = loaded.signatures[request.model_spec.signature_name](
            **{key: tf.constant(values)})["probabilities"].numpy()
        assert answer.shape == (len(values), CLASSES)
        np.testing.assert_allclose(answer.sum(axis=1), 1, rtol=1e-5)


@pytest.mark.parametrize("defect,message", [
    ("three_classes", r"serving_default returns probabilities of shape "
                      r"\[64, 3\], not \[64, 10\]"),
    ("not_normalised", r"serving_default's probabilities for example \d+ "
                       r"sum to"),
    ("disagree", r"serving_default and serving_images disagree on the same "
                 r"examples"),
])
def test_a_model_that_answers_wrong_is_refused(tmp_path, defect, message):
    blessing = _validate(tmp_path, _model_artifact(tmp_path, defect))
    assert blessing.get_int_custom_property(properties.BLESSED) == 0
    assert re.search(message, _reason(blessing)), _reason(blessing)
    assert not os.path.exists(os.path.join(blessing.uri, "stamped_model"))
    assert os.path.isfile(os.path.join(blessing.uri, "INFRA_NOT_BLESSED"))


def test_a_model_that_does_not_load_is_refused(tmp_path):
    model = _model_artifact(tmp_path)
    with open(os.path.join(model.uri, "Format-Serving", "saved_model.pb"),
              "wb") as f:
        f.write(b"not a graph")
    blessing = _validate(tmp_path, model)
    assert blessing.get_int_custom_property(properties.BLESSED) == 0
    assert _reason(blessing).startswith("the model does not load: ")


def test_a_damaged_variables_file_is_refused(tmp_path):
    model = _model_artifact(tmp_path)
    [data] = [os.path.join(folder, name) for folder, _, names in os.walk(
        model.uri) for name in names if name.startswith("variables.data")]
    with open(data, "r+b") as f:
        f.seek(os.path.getsize(data) // 2)
        f.write(b"\xff\xff\xff\xff")
    blessing = _validate(tmp_path, model)
    assert blessing.get_int_custom_property(properties.BLESSED) == 0
    assert "does not load" in _reason(blessing)


def test_an_unblessed_model_is_not_validated(tmp_path):
    blessing = _validate(tmp_path, _model_artifact(tmp_path), blessed=False)
    assert blessing.get_int_custom_property(properties.BLESSED) == 0
    assert "not blessed by the Evaluator" in _reason(blessing)


def _push(tmp_path, model, infra_blessing):
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / "pushed")
    base = str(tmp_path / "serving")
    pusher_executor.Executor().Do(
        {"model": [model], "model_blessing": [_blessing(tmp_path)],
         "infra_blessing": [infra_blessing]},
        {"pushed_model": [pushed]},
        {"push_destination": json.dumps(
            {"filesystem": {"base_directory": base}}),
         "custom_config": "null"})
    return pushed, base


def test_the_pusher_publishes_the_validated_copy_only(tmp_path):
    good = _model_artifact(tmp_path / "good")
    blessing = _validate(tmp_path / "good", good)
    pushed, base = _push(tmp_path / "good", good, blessing)
    assert pushed.get_int_custom_property("pushed") == 1
    [version] = serving_dir.versions(base)
    assert os.path.isfile(os.path.join(base, version, warmup.WARMUP_FILE))
    assert serving_dir.problems(base, version) == []
    assert serving_dir.source(base, version) == os.path.join(
        good.uri, "Format-Serving")

    bad = _model_artifact(tmp_path / "bad", "three_classes")
    refused = _validate(tmp_path / "bad", bad)
    pushed, base = _push(tmp_path / "bad", bad, refused)
    assert pushed.get_int_custom_property("pushed") == 0
    assert serving_dir.versions(base) == []


def test_a_probe_started_ahead_of_need_does_the_check(tmp_path):
    standby.start_early()
    waiting = standby._waiting  # pylint: disable=protected-access
    blessing = _validate(tmp_path, _model_artifact(tmp_path))
    assert blessing.get_int_custom_property(properties.BLESSED) == 1, \
        _reason(blessing)
    assert waiting.returncode == 0
    assert standby._waiting is None  # pylint: disable=protected-access
    details = json.loads((tmp_path / "infra_blessing" / properties.RESULT_FILE
                          ).read_text())
    assert details["probe_started_early"] is True


def test_an_early_process_that_died_is_replaced_by_a_fresh_one(
        tmp_path, monkeypatch):
    """Killed while it waited (e.g. for memory beside the Evaluator): the
    check runs in a new process instead of failing the component."""
    dying = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(3)"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    monkeypatch.setattr(standby, "process", lambda: (dying, True))
    blessing = _validate(tmp_path, _model_artifact(tmp_path))
    assert blessing.get_int_custom_property(properties.BLESSED) == 1, \
        _reason(blessing)
    assert dying.returncode == 3
    details = json.loads((tmp_path / "infra_blessing" / properties.RESULT_FILE
                          ).read_text())
    assert details["probe_started_early"] is False


def _third_party_imports(args) -> set:
    """The top-level packages from site-packages that `python -X importtime
    ARGS` imports."""
    result = subprocess.run([sys.executable, "-X", "importtime", *args],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    names = set(re.findall(r"\|\s+(\w+)$", result.stderr, re.M))
    site = [p for p in sys.path if p.endswith("site-packages")]
    found = set()
    for name in names:
        spec = importlib.util.find_spec(name)
        origin = (spec.origin or "") if spec else ""
        locations = list(spec.submodule_search_locations or []) if spec else []
        if any(place.startswith(tuple(site))
               for place in [origin, *locations]):
            found.add(name)
    return found


def test_the_probe_imports_tensorflow_numpy_and_serving_protos(tmp_path):
    """The probe is run on the copy the executor makes, warm-up file
    included (as in every pipeline run), and imports nothing beyond what
    TensorFlow and NumPy import but TF Serving's request protos."""
    model = _model_artifact(tmp_path)
    examples = executor.eval_examples(_examples(tmp_path), "eval", 4)
    images = executor.images_of(examples,
                                features.FeatureContract(SHAPE, CLASSES))
    copy = str(tmp_path / "copy")
    io_utils.copy_dir(os.path.join(model.uri, "Format-Serving"), copy)
    warmup.write(copy, warmup.prediction_logs(examples, images, [1, 4]))
    requests = tmp_path / "requests"
    requests.mkdir()
    from components.serving_validator import probe  # pylint: disable=import-outside-toplevel
    probe.write_requests(str(requests), examples, images)
    imported = _third_party_imports([
        "-m", "components.serving_validator.probe", "--model", copy,
        "--requests", str(requests), "--output", str(tmp_path / "out.json"),
        "--batch-sizes", "1,4", "--repeats", "2"])
    baseline = _third_party_imports(["-c", "import tensorflow, numpy"])
    assert {"tensorflow", "numpy", "tensorflow_serving"} <= imported
    assert imported - baseline == {"tensorflow_serving"}
    seen = json.loads((tmp_path / "out.json").read_text())
    assert seen["warmup"] == {"records": 4}
    verdict = checks.judge(seen, CLASSES, 4)
    assert verdict.passed, verdict.reasons


def test_a_probe_that_cannot_finish_fails_the_component(tmp_path,
                                                        monkeypatch):
    """Not a refusal (which would be cached): the execution fails and is
    retried."""
    monkeypatch.setattr(executor, "PROBE_TIMEOUT_SECONDS", 0.01)
    with pytest.raises(executor.ProbeFailed, match="gave no answer within"):
        _validate(tmp_path, _model_artifact(tmp_path))


def test_a_warmup_file_a_server_cannot_replay_is_refused(tmp_path):
    model = _model_artifact(tmp_path)
    model_dir = os.path.join(model.uri, "Format-Serving")
    from tensorflow_serving.apis import predict_pb2  # pylint: disable=import-outside-toplevel
    request = predict_pb2.PredictRequest()
    request.model_spec.signature_name = "serving_default"
    request.inputs["examples"].CopyFrom(tf.make_tensor_proto([b"garbage"]))
    warmup.write(model_dir, [prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request))])
    from components.serving_validator import probe  # pylint: disable=import-outside-toplevel
    seen = probe.probe(model_dir, {"examples": np.array([], dtype=object),
                                   "images": np.zeros((0, *SHAPE),
                                                      np.uint8)}, [], 1)
    assert seen["warmup"]["error"].startswith("record 0: ")
    verdict = checks.judge(seen, CLASSES, 0)
    assert not verdict.passed
    assert verdict.reasons[0].startswith(
        "its TensorFlow Serving warm-up file fails")
