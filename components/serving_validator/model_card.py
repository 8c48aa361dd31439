"""The model card every pushed version carries (`assets.extra/model_card.md`
and an HTML rendering beside it): what a reader of the serving directory
needs to know about a version, from what the pipeline recorded.

`facts` gathers them (plain values, JSON-ready); `markdown` and `html`
render them. Both renderers are pure, so a test reads a card without
training a model.
"""

import datetime
import html as html_lib
import shlex
from typing import Any, Dict, List, Optional, Sequence

import markdown as markdown_lib

from components.tfds_example_gen import properties

MARKDOWN_FILE = "assets.extra/model_card.md"
HTML_FILE = "assets.extra/model_card.html"
# TrainingConfig fields (pipeline_config) and their `run` flags; a test
# checks each flag against the `run` command.
RUN_FLAGS = (("epochs", "--epochs"), ("batch_size_per_replica", "--batch-size"),
          ("cpu_replicas", "--cpu-replicas"), ("seed", "--seed"),
          ("shuffle_buffer", "--shuffle-buffer"),
          ("validate_every", "--validate-every"),
          ("cache_budget_mib", "--cache-budget-mib"))


def facts(*, pipeline: str, run_id: Optional[str], dataset: Dict[str, Any],
          training: Dict[str, Any], metrics: Dict[str, Any],
          verdict: Dict[str, Any], image_shape: Sequence[int],
          num_classes: int) -> Dict[str, Any]:
    """Everything the card says.

    Args:
      pipeline: the pipeline's name.
      run_id: the run that trained and validated the model.
      dataset: `name`, `config`, `version`, `fingerprint`, `num_examples`
        ({split: count}) and `class_names` (list or None).
      training: the Trainer's training record (training.json), {} if none.
      metrics: the Evaluator's metrics (`evaluator.metrics.read_metrics`).
      verdict: serving validation's verdict (`checks.Verdict.to_json()`).
      image_shape: the images the model takes.
      num_classes: the classes it tells apart.
    """
    return {"pipeline": pipeline, "run_id": run_id,
            "written": datetime.datetime.now(datetime.timezone.utc)
            .strftime("%Y-%m-%d %H:%M UTC"),
            "dataset": dataset, "training": training, "metrics": metrics,
            "verdict": verdict, "image_shape": list(image_shape),
            "num_classes": num_classes}


def _accuracy(value) -> str:
    return f"{value:.4f}" if value is not None else "-"


def _change(value, baseline) -> str:
    if value is None or baseline is None:
        return "-"
    return f"{value - baseline:+.4f}"


def _tfds_name(dataset: Dict[str, Any]) -> str:
    config = f"/{dataset['config']}" if dataset.get("config") else ""
    return f"{dataset['name']}{config}"


def reproduce_command(card: Dict[str, Any]) -> str:
    """The `run` command that trains this model again on the same data."""
    dataset = card["dataset"]
    args = ["python", "-m", "pipeline", "run", "--dataset", dataset["name"]]
    if dataset.get("config"):
        args += ["--dataset-config", dataset["config"]]
    args += ["--dataset-version", str(dataset["version"])]
    settings = card["training"].get("settings", {})
    for key, flag in RUN_FLAGS:
        if settings.get(key) is not None:
            args += [flag, str(settings[key])]
    if settings.get("warm_start"):
        args.append("--warm-start")
    if settings.get("jit_compile") is True:
        args.append("--xla")
    return " ".join(shlex.quote(a) for a in args)


def _architecture(training: Dict[str, Any]) -> str:
    """The layers, optimizer and loss the Trainer recorded."""
    model = training.get("model")
    if not model:
        return "(its layers were not recorded)"
    return (", ".join(model["layers"]) + f"; {model['optimizer']}, "
            f"{model['loss'].replace('_', ' ')}")


def _table(header: List[str], rows: List[List[Any]]) -> List[str]:
    return ["| " + " | ".join(header) + " |",
            "| " + " | ".join("---" for _ in header) + " |",
            *("| " + " | ".join(str(c) for c in row) + " |" for row in rows)]


def markdown(card: Dict[str, Any]) -> str:
    """The card as Markdown."""
    dataset, metrics = card["dataset"], card["metrics"]
    training, verdict = card["training"], card["verdict"]
    settings = training.get("settings", {})
    names = dataset.get("class_names") or []
    baseline = metrics.get("baseline") or {}
    shape = "x".join(str(d) for d in card["image_shape"])
    lines = [f"# Model card: {card['pipeline']}", "",
             f"Trained and validated in pipeline run `{card['run_id'] or '-'}`"
             f"; card written {card['written']}. The serving version it "
             "was pushed as is the folder this file is in; the sha256 of "
             "every file is in `.manifest-<version>.json` beside it.", "",
             "## Model", "",
             f"A Keras classifier of {shape} images into "
             f"{card['num_classes']} classes: {_architecture(training)}; "
             "trained under `tf.distribute` "
             f"({training.get('num_replicas_in_sync', '-')} replica(s)).",
             "", "Serving signatures: `serving_default` (serialized "
             "`tf.Example`s, input `examples`) and `serving_images` (uint8 "
             f"images [batch, {', '.join(map(str, card['image_shape']))}], "
             "input `images`), both returning `probabilities` [batch, "
             f"{card['num_classes']}]. TensorFlow Serving's warm-up requests "
             "are in `assets.extra/tf_serving_warmup_requests`.", "",
             "## Data", "",
             f"- Dataset: `{_tfds_name(dataset)}`, TFDS version "
             f"{dataset['version']}",
             f"- Fingerprint of the data read: `{dataset.get('fingerprint')}`",
             "- Examples: " + ", ".join(
                 f"{split} {count:,}" for split, count in
                 sorted((dataset.get("num_examples") or {}).items())),
             "- Classes: " + (", ".join(
                 properties.describe_class(i, names)
                 for i in range(len(names))) if names else
                 f"{card['num_classes']} (the dataset names none)"),
             "", "## Training settings", "",
             *_table(["setting", "value"], [[k, v] for k, v in sorted(
                 settings.items())] or [["(not recorded)", "-"]]),
             "", "## Evaluation", "",
             f"Accuracy {_accuracy(metrics.get('accuracy'))} on "
             f"{metrics.get('example_count', '-')} eval examples."]
    if baseline:
        lines += ["", "It was compared with the last blessed model (the "
                      "baseline), whose accuracy on the same examples is "
                      f"{_accuracy(baseline.get('accuracy'))}: a change of "
                      f"{_change(metrics.get('accuracy'), baseline.get('accuracy'))}."]
    else:
        lines += ["", "There was no baseline: this is the pipeline's first "
                      "blessed model."]
    base_class = baseline.get("per_class_accuracy") or {}
    lines += ["", *_table(
        ["class", "accuracy", "baseline", "change"],
        [[properties.describe_class(c, names), _accuracy(v),
          _accuracy(base_class.get(c)), _change(v, base_class.get(c))]
         for c, v in (metrics.get("per_class_accuracy") or {}).items()])]
    latency = verdict.get("latency_ms") or {}
    lines += ["", "## Serving", "",
              "Loaded in a fresh process with nothing but TensorFlow "
              "(and TF Serving's request protos for the warm-up file) and "
              "called through both signatures with real eval examples "
              "before the push; milliseconds per call there (CPU, no "
              "batching server), not TensorFlow Serving under load:", "",
              *_table(["signature", "p50 batch 1", "p99 batch 1",
                       "p50 batch 64", "p99 batch 64"],
                      [[name, *(values.get(key, "-") for key in (
                          "p50_batch_1", "p99_batch_1", "p50_batch_64",
                          "p99_batch_64"))]
                       for name, values in sorted(latency.items())]),
              "", "## Reproduce", "",
              "With this project at the same code, on the same prepared "
              "data (same fingerprint):", "",
              f"    {reproduce_command(card)}", "",
              "## Intended use", "",
              f"Sorting {shape} images like those of `{_tfds_name(dataset)}` "
              f"into its {card['num_classes']} classes, behind a model "
              "server, where a wrong answer costs little and is seen.", "",
              "## Known limits", "",
              f"- It knows only `{_tfds_name(dataset)}`'s images: anything "
              "else (another size, colour photos, another subject) still "
              "gets one of its classes, often with confidence. There is no "
              "\"none of these\" answer."]
    per_class = metrics.get("per_class_accuracy") or {}
    if per_class:
        weakest = min(per_class, key=per_class.get)
        lines.append(f"- Accuracy differs by class: the weakest is "
                     f"{properties.describe_class(weakest, names)} at "
                     f"{_accuracy(per_class[weakest])}.")
    lines += ["- Its accuracy is measured on the dataset's eval split only, "
              "which shares the training data's distribution.",
              "- Latency above was measured once, on the machine that ran "
              "the pipeline.", ""]
    return "\n".join(lines)


_STYLE = ("body { font-family: sans-serif; max-width: 50em; margin: 2em "
          "auto; } table { border-collapse: collapse; } td, th { border: "
          "1px solid #ccc; padding: 0.2em 0.6em; }")


def html(card: Dict[str, Any]) -> str:
    """The card as a standalone HTML page."""
    body = markdown_lib.markdown(markdown(card), extensions=["tables"])
    title = html_lib.escape(f"Model card: {card['pipeline']}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{title}</title><style>{_STYLE}</style></head><body>\n"
            f"{body}\n</body></html>\n")
