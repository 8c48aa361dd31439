"""The model card, rendered from facts: pure, no model needed."""

from components.serving_validator import model_card

NAMES = ["T-shirt/top", "Trouser", "Pullover"]


def _card(baseline=True):
    metrics = {"accuracy": 0.8778, "example_count": 10000,
               "per_class_accuracy": {"0": 0.81, "1": 0.97, "2": 0.66}}
    if baseline:
        metrics["baseline"] = {"accuracy": 0.8700, "per_class_accuracy": {
            "0": 0.80, "1": 0.97, "2": 0.70}}
    return model_card.facts(
        pipeline="fashion-mnist-classifier", run_id="2026-11-29T12:00:00",
        dataset={"name": "fashion_mnist", "config": "", "version": "3.0.1",
                 "fingerprint": "ab" * 32,
                 "num_examples": {"train": 60000, "eval": 10000},
                 "class_names": NAMES},
        training={"num_replicas_in_sync": 1, "model": {
            "layers": ["Flatten", "Dense 512 relu", "Dropout 0.2",
                       "Dense 3 softmax"],
            "optimizer": "Adam", "loss": "sparse_categorical_crossentropy"},
            "settings": {
            "epochs": 5, "batch_size_per_replica": 64, "seed": 0,
            "cpu_replicas": 1, "warm_start": False}},
        metrics=metrics,
        verdict={"passed": True, "reasons": [], "latency_ms": {
            "serving_default": {"p50_batch_1": 0.9, "p99_batch_1": 1.4,
                                "p50_batch_64": 2.5, "p99_batch_64": 3.1}}},
        image_shape=(28, 28, 1), num_classes=3)


def test_the_card_names_the_data_metrics_baseline_and_latency():
    text = model_card.markdown(_card())
    assert "Dataset: `fashion_mnist`, TFDS version 3.0.1" in text
    assert "`" + "ab" * 32 + "`" in text
    assert "train 60,000" in text and "eval 10,000" in text
    assert "Classes: 0 (T-shirt/top), 1 (Trouser), 2 (Pullover)" in text
    assert "Accuracy 0.8778 on 10000 eval examples." in text
    assert "whose accuracy on the same examples is 0.8700: a change of " \
           "+0.0078" in text
    assert "| 2 (Pullover) | 0.6600 | 0.7000 | -0.0400 |" in text
    assert "| serving_default | 0.9 | 1.4 | 2.5 | 3.1 |" in text
    assert "run `2026-11-29T12:00:00`" in text
    assert ("python -m pipeline run --dataset fashion_mnist "
            "--dataset-version 3.0.1 --epochs 5 --batch-size 64 "
            "--cpu-replicas 1 --seed 0") in text
    assert "the weakest is 2 (Pullover) at 0.6600" in text
    assert "## Intended use" in text and "## Known limits" in text
    assert ("3 classes: Flatten, Dense 512 relu, Dropout 0.2, Dense 3 "
            "softmax; Adam, sparse categorical crossentropy") in text


def test_each_reproduce_flag_is_a_run_option():
    from pipeline.commands import run  # pylint: disable=import-outside-toplevel
    flags = {opt for param in run.run.params
             for opt in param.opts + param.secondary_opts}
    assert {flag for _, flag in model_card.RUN_FLAGS} <= flags
    assert {"--warm-start", "--xla"} <= flags


def test_the_first_model_says_it_had_no_baseline():
    text = model_card.markdown(_card(baseline=False))
    assert "There was no baseline" in text
    assert "| 0 (T-shirt/top) | 0.8100 | - | - |" in text


def test_the_html_rendering_has_the_tables():
    page = model_card.html(_card())
    assert page.startswith("<!DOCTYPE html>")
    assert "<table>" in page and "<td>2 (Pullover)</td>" in page
    assert "<title>Model card: fashion-mnist-classifier</title>" in page
