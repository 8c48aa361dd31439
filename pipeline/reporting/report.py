"""The run report: one self-contained HTML file per run.

Written next to `last_run.json` (as `last_run.html`, and kept per run in
`reports/<run id>.html`): the component timeline, the dataset's statistics,
training curves, evaluation metrics overall and per class, the confusion
matrix, the comparison with the baseline model, the blessing decision and
the pushed version. Figures are embedded as data URIs, so the file can be
mailed or attached to a ticket as is: the timeline is an SVG written here,
the others PNGs drawn with matplotlib. Those show immutable artifacts, so
each is drawn once for what it shows and kept in `reports/.figures/`: a
fully cached run, whose figures are the run before's, then draws none and
does not import matplotlib (what drawing costs: docs/performance.md). The
local runner has the dataset's figure drawn while the Trainer trains
(`draw_early`).
"""

import base64
import hashlib
import html
import io
import json
import os
import pathlib
import threading
import uuid
from typing import Any, Callable, Dict, List, Optional

from tensorflow_metadata.proto.v0 import statistics_pb2
# TFX's filesystem (local, and with TensorFlow gs:// and s3://): a report
# of a cached run loads no TensorFlow (pipeline/runners/local.py).
from tfx.dsl.io import fileio

from components.tfds_example_gen import properties as example_properties
from components.trainer import record as training_record
from pipeline import nodes
from pipeline.metadata import runs as metadata_runs

COLORS = {"executed": "#1f77b4", "cached": "#9ecae1", "failed": "#d62728",
          "skipped": "#cccccc"}
STATISTICS_FILE = "FeatureStats.pb"
# Under reports/: drawn figures, by what they show.
FIGURES_DIR = ".figures"
# Part of every figure's key: change it when a drawing changes.
FIGURE_STYLE = 1
# pyplot keeps state per process: one figure is drawn at a time, and a
# figure being drawn early (`draw_early`) is waited for, then read.
_DRAWING = threading.Lock()


def _pyplot():
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")  # Files only; no display.
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    return plt


class Figures:
    """PNG figures, each drawn once for the data it shows.

    `png(kind, data, draw)` returns the base64 PNG of `draw(plt, data)`;
    with a directory, a figure already drawn for the same kind, data and
    FIGURE_STYLE is read from it instead.
    """

    def __init__(self, directory: Optional[str] = None):
        self.directory = directory
        self.drawn = 0

    def png(self, kind: str, data: Any,
            draw: Callable[[Any, Any], Any]) -> str:
        key = hashlib.sha256(json.dumps(
            [kind, FIGURE_STYLE, data], sort_keys=True,
            default=str).encode()).hexdigest()[:32]
        path = (os.path.join(self.directory, f"{kind}-{key}.png")
                if self.directory else None)
        with _DRAWING:
            if path and os.path.isfile(path):
                with open(path, "rb") as f:
                    return base64.b64encode(f.read()).decode()
            plt = _pyplot()
            figure = draw(plt, data)
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
            plt.close(figure)
            self.drawn += 1
            if path:
                os.makedirs(self.directory, exist_ok=True)
                partial = f"{path}.{uuid.uuid4().hex}.partial"
                with open(partial, "wb") as f:
                    f.write(buffer.getvalue())
                os.replace(partial, path)
        return base64.b64encode(buffer.getvalue()).decode()


def _figure(title: str, image: str, media: str = "image/png") -> str:
    return (f'<figure><img alt="{html.escape(title)}" '
            f'src="data:{media};base64,{image}">'
            f"<figcaption>{html.escape(title)}</figcaption></figure>")


def _table(header: Optional[List[str]], rows: List[List[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header or [])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row)
        + "</tr>" for row in rows)
    return f"<table>{f'<tr>{head}</tr>' if head else ''}{body}</table>"


def _timeline(components: Dict[str, Dict[str, Any]]) -> Optional[str]:
    """The components as bars on one time axis: a base64 SVG."""
    if not components:
        return None
    names = list(components)
    seconds = [max(0.0, components[n]["seconds"]) for n in names]
    # Where each bar starts: when the node started (nodes may run side by
    # side), or after the one before for a node the log did not time.
    starts, start = [], 0.0
    for name, length in zip(names, seconds):
        began = components[name].get("started_seconds")
        starts.append(start if began is None else began)
        start = max(start, starts[-1] + length)
    total = max((b + s for b, s in zip(starts, seconds)), default=0.0) or 1.0
    label_width, plot_width, row, legend = 190, 480, 22, 110
    height = row * len(names) + 40
    parts = []
    for i, (name, start, length) in enumerate(zip(names, starts, seconds)):
        y = 10 + i * row
        color = COLORS.get(components[name]["status"], "#999999")
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 14}" '
            f'text-anchor="end">{html.escape(name)}</text>'
            f'<rect x="{label_width + plot_width * start / total:.1f}" '
            f'y="{y + 3}" width="{max(1.0, plot_width * length / total):.1f}"'
            f' height="{row - 6}" fill="{color}"><title>'
            f'{html.escape(name)}: {length:.1f} s</title></rect>')
    axis_y = 10 + row * len(names) + 4
    parts.append(f'<line x1="{label_width}" y1="{axis_y}" '
                 f'x2="{label_width + plot_width}" y2="{axis_y}" '
                 'stroke="#333"/>')
    digits = 0 if total >= 10 else 2
    for tick in range(5):
        x = label_width + plot_width * tick / 4
        parts.append(f'<text x="{x:.1f}" y="{axis_y + 16}" '
                     f'text-anchor="middle">{total * tick / 4:.{digits}f} s'
                     '</text>')
    for i, (status, color) in enumerate(COLORS.items()):
        x, y = label_width + plot_width + 20, 10 + i * row
        parts.append(f'<rect x="{x}" y="{y + 3}" width="14" height="14" '
                     f'fill="{color}"/><text x="{x + 20}" y="{y + 14}">'
                     f"{status}</text>")
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width='
           f'"{label_width + plot_width + legend}" height="{height}" '
           'font-family="sans-serif" font-size="12">'
           f'{"".join(parts)}</svg>')
    return base64.b64encode(svg.encode()).decode()


def _statistics(statistics_uri: Optional[str], figures: Figures):
    """(table rows, label histogram PNG) from StatisticsGen's output."""
    if not statistics_uri:
        return [], None
    rows, histograms = [], {}
    for split in sorted(fileio.listdir(statistics_uri)):
        path = os.path.join(statistics_uri, split.rstrip("/"),
                            STATISTICS_FILE)
        if not fileio.exists(path):
            continue
        stats = statistics_pb2.DatasetFeatureStatisticsList()
        with fileio.open(path, "rb") as f:
            stats.ParseFromString(f.read())
        for dataset in stats.datasets:
            name = split.rstrip("/").replace("Split-", "")
            image_bytes = label = missing = None
            for feature in dataset.features:
                if feature.path.step == ["image"]:
                    # Raw image bytes are "string" statistics to TFDV unless
                    # the schema gives them an image domain.
                    image_bytes = (feature.bytes_stats.avg_num_bytes
                                   or feature.string_stats.avg_length)
                if feature.path.step == ["label"]:
                    label = feature.num_stats
                    missing = label.common_stats.num_missing
            rows.append([name, dataset.num_examples,
                         f"{image_bytes:.0f}" if image_bytes else "-",
                         f"{label.min:.0f}-{label.max:.0f}" if label else "-",
                         missing if label else "-"])
            if label and label.histograms:
                histograms[name] = [
                    [(b.low_value + b.high_value) / 2, b.sample_count]
                    for b in label.histograms[0].buckets]
    png = (figures.png("labels", histograms, _draw_labels)
           if histograms else None)
    return rows, png


def _draw_labels(plt, histograms):
    figure, axes = plt.subplots(figsize=(8, 3))
    width = 0.8 / len(histograms)
    for i, (name, buckets) in enumerate(sorted(histograms.items())):
        axes.bar([center + i * width for center, _ in buckets],
                 [count for _, count in buckets], width=width, label=name)
    axes.set_xlabel("label")
    axes.set_ylabel("examples")
    axes.legend(fontsize="small")
    return figure


def _training_curves(model_run_uri: Optional[str], figures: Figures):
    """(record, PNG) from the Trainer's training.json."""
    if not model_run_uri:
        return None, None
    path = training_record.path(model_run_uri)
    if not fileio.exists(path):
        return None, None
    with fileio.open(path) as f:
        record = json.load(f)
    return record, figures.png("training", record.get("history", {}),
                               _draw_training)


def _draw_training(plt, history):
    figure, (loss, accuracy) = plt.subplots(1, 2, figsize=(9, 3))
    for name, values in history.items():
        target = loss if "loss" in name else accuracy
        target.plot(range(1, len(values) + 1), values, marker="o",
                    label=name)
    for axes, title in ((loss, "loss"), (accuracy, "accuracy")):
        axes.set_xlabel("epoch")
        axes.set_title(title)
        axes.legend(fontsize="small")
    return figure


def _per_class(metrics: Dict[str, Any], figures: Figures) -> Optional[str]:
    candidate = metrics.get("per_class_accuracy") or {}
    if not candidate:
        return None
    return figures.png("per_class", {
        "candidate": candidate,
        "baseline": (metrics.get("baseline") or {}).get(
            "per_class_accuracy", {}),
        "names": metrics.get("class_names") or []}, _draw_per_class)


def _draw_per_class(plt, data):
    candidate, baseline, names = (data["candidate"], data["baseline"],
                                  data["names"])
    classes = list(candidate)
    positions = range(len(classes))
    figure, axes = plt.subplots(figsize=(8, 3))
    width = 0.4 if baseline else 0.8
    axes.bar([p - (width / 2 if baseline else 0) for p in positions],
             [candidate[c] for c in classes], width=width, label="candidate")
    if baseline:
        axes.bar([p + width / 2 for p in positions],
                 [baseline.get(c, 0) for c in classes], width=width,
                 label="baseline")
    axes.set_xticks(list(positions),
                    [example_properties.class_name(c, names) or c
                     for c in classes],
                    rotation=30 if names else 0, ha="right" if names
                    else "center", fontsize="small")
    axes.set_xlabel("class")
    axes.set_ylabel("accuracy")
    axes.set_ylim(0, 1.05)
    axes.legend(fontsize="small")
    return figure


def _confusion(matrix: Optional[List[List[int]]], names: List[str],
               figures: Figures) -> Optional[str]:
    if not matrix:
        return None
    return figures.png("confusion", {"matrix": matrix, "names": names},
                       _draw_confusion)


def _draw_confusion(plt, data):
    matrix, names = data["matrix"], data["names"]
    size = len(matrix)
    figure, axes = plt.subplots(figsize=(0.5 * size + 2, 0.5 * size + 1.5))
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes)
    peak = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            axes.text(j, i, str(count), ha="center", va="center",
                      fontsize="x-small",
                      color="white" if count > peak / 2 else "black")
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    labels = [example_properties.class_name(i, names) or str(i)
              for i in range(size)]
    axes.set_xticks(range(size), labels, rotation=45 if names else 0,
                    ha="right" if names else "center", fontsize="small")
    axes.set_yticks(range(size), labels, fontsize="small")
    return figure


def _validation(validation: Optional[Dict[str, Any]]) -> str:
    """ServingValidator's verdict in a few words."""
    if not validation:
        return "did not run"
    if not validation["passed"]:
        return "refused: " + (validation.get("reason") or "-")
    latency = validation.get("latency_ms", {}).get("serving_default", {})
    return "passed; serving_default p50 / p99: " + ", ".join(
        f"{latency[f'p50_batch_{size}']:.1f} / "
        f"{latency[f'p99_batch_{size}']:.1f} ms at batch {size}"
        for size in sorted({int(k.rsplit('_', 1)[1]) for k in latency}))


def render(summary: Dict[str, Any], statistics_uri: Optional[str],
           model_run_uri: Optional[str],
           figures: Optional[Figures] = None) -> str:
    """The report's HTML for a run's summary and its artifacts; figures
    drawn by `figures` (by default, each drawn afresh)."""
    figures = figures or Figures()
    metrics = summary.get("metrics") or {}
    data = summary.get("data") or {}
    baseline = metrics.get("baseline") or {}
    sections = []

    def accuracy(value):
        return f"{value:.4f}" if value is not None else "-"

    decision = ("blessed" if summary.get("blessed") else "not blessed")
    failures = metrics.get("validation_failures") or []
    sections.append("<h2>Decision</h2>" + _table(
        None,
        [["run", summary.get("run_id")],
         ["dataset", f"{summary['dataset']['name']} "
                     f"{summary['dataset']['version']}"],
         ["data", f"{data.get('note', '-')} (fingerprint "
                  f"{(data.get('fingerprint') or '-')[:16]})"],
         ["accuracy", f"{accuracy(metrics.get('accuracy'))} on "
                      f"{metrics.get('example_count', '-')} eval examples"],
         ["baseline accuracy", accuracy(baseline.get("accuracy"))
          if baseline else "no baseline (first blessed model)"],
         ["gate", decision + (": " + "; ".join(failures) if failures
                              else "")],
         ["serving validation", _validation(
             summary.get("serving_validation"))],
         ["pushed", summary.get("pushed_model") or "nothing new"],
         ["serving", summary.get("serving_model") or "nothing"],
         ["wall time", f"{summary.get('wall_seconds', 0):.1f} s"],
         *([["metrics", "could not be read: " + metrics["unreadable"]]]
           if metrics.get("unreadable") else [])]))

    card = summary.get("model_card")
    if card:
        link = (pathlib.Path(card).as_uri() if "://" not in card else card)
        sections.append(
            f'<p>Model card of the served version: <a id="model-card" '
            f'href="{html.escape(link)}">{html.escape(card)}</a></p>')

    components = summary.get("components") or {}
    timeline = _timeline(components)
    sections.append("<h2>Components</h2>" + _table(
        ["component", "status", "seconds", "work", "overhead"],
        [[n, c["status"], f"{c['seconds']:.1f}",
          f"{c.get('work_seconds', 0):.1f}",
          f"{c.get('overhead_seconds', 0):.1f}"]
         for n, c in components.items()])
        + (_figure("Component timeline", timeline, "image/svg+xml")
           if timeline else ""))
    split = summary.get("time")
    if split:
        sections.append("<h2>Where the time went</h2>" + _table(
            ["", "seconds"],
            [[label, f"{split.get(key, 0.0):.1f}"] for key, label in (
                ("total_seconds", "total, from process start"),
                ("work_seconds", "work (the components' executors)"),
                ("side_by_side_seconds",
                 "of work and overhead, components side by side"),
                ("startup_seconds", "process start and imports"),
                ("preflight_seconds", "dataset checks and compiling"),
                ("beam_setup_seconds",
                 "Beam set-up (building the components' Beam pipelines)"),
                ("launcher_seconds",
                 "ML Metadata, caching checks, publishing"),
                ("after_seconds", "reading the results"))]))

    rows, labels = _statistics(statistics_uri, figures)
    sections.append("<h2>Dataset statistics</h2>" + (_table(
        ["split", "examples", "image bytes (mean)", "label range",
         "labels missing"], rows) if rows else "<p>No statistics.</p>")
        + (_figure("Label distribution", labels) if labels else ""))

    record, curves = _training_curves(model_run_uri, figures)
    training = "<h2>Training</h2>"
    if record:
        training += _table(["replicas in sync", "global batch", "devices"], [[
            record.get("num_replicas_in_sync"),
            record.get("global_batch_size"),
            ", ".join(record.get("devices", []))]])
    sections.append(training + (_figure("Training curves", curves)
                                if curves else "<p>No training record.</p>"))

    per_class = metrics.get("per_class_accuracy") or {}
    base_class = baseline.get("per_class_accuracy") or {}
    bars = _per_class(metrics, figures)
    names = metrics.get("class_names") or []
    confusion = _confusion(metrics.get("confusion_matrix"), names, figures)
    sections.append(
        "<h2>Evaluation</h2>" + _table(
            ["class", "candidate accuracy", "baseline accuracy"],
            [["all", accuracy(metrics.get("accuracy")),
              accuracy(baseline.get("accuracy"))]]
            + [[example_properties.describe_class(c, names), accuracy(v),
                accuracy(base_class.get(c))]
               for c, v in per_class.items()])
        + (_figure("Accuracy per class, candidate vs baseline", bars)
           if bars else "")
        + (_figure("Confusion matrix (candidate)", confusion)
           if confusion else ""))

    title = f"Run {summary.get('run_id')}: {summary['dataset']['name']}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; max-width: 60em; margin: 2em auto; }}
table {{ border-collapse: collapse; margin: 0.5em 0; }}
td, th {{ border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }}
figure {{ margin: 1em 0; }} img {{ max-width: 100%; }}
</style></head>
<body>
<h1>{html.escape(title)}</h1>
{"".join(sections)}
<script>
// Lets a headless browser confirm every figure decoded and rendered.
window.addEventListener("load", function () {{
  var images = Array.prototype.slice.call(document.images);
  document.body.setAttribute("data-figures-rendered", images.filter(
    function (i) {{ return i.complete && i.naturalWidth > 0; }}).length);
  document.body.setAttribute("data-figures", images.length);
}});
</script>
</body></html>
"""


def _figures_dir(output_dir: str) -> str:
    return os.path.join(output_dir, "reports", FIGURES_DIR)


def draw_early(statistics_uri: str, output_dir: str) -> None:
    """Draws the figure of StatisticsGen's output at `statistics_uri` into
    the report figures kept under `output_dir`, for the report `write`
    will write: the local runner calls it as soon as those statistics
    exist, beside the Trainer, so that the run's end does not wait for it
    (nor for matplotlib's import and first figure; docs/performance.md)."""
    _statistics(statistics_uri, Figures(_figures_dir(output_dir)))


def write(summary: Dict[str, Any], store,
          run: Optional[metadata_runs.Run], output_dir: str) -> str:
    """Writes `reports/<run id>.html` and `last_run.html` for `run` (as ML
    Metadata recorded it; None if no node started); returns the per-run
    path."""
    run_id = summary["run_id"]
    statistics = model_run = None
    if run is not None:
        statistics = metadata_runs.outputs(
            store, run, nodes.STATISTICS_GEN).get(nodes.STATISTICS_KEY)
        model_run = metadata_runs.outputs(
            store, run, nodes.TRAINER).get(nodes.MODEL_RUN_KEY)
    directory = os.path.join(output_dir, "reports")
    page = render(summary, statistics[0].uri if statistics else None,
                  model_run[0].uri if model_run else None,
                  Figures(_figures_dir(output_dir)))
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{run_id}.html")
    for target in (path, os.path.join(output_dir, "last_run.html")):
        with open(target, "w", encoding="utf-8") as f:
            f.write(page)
    return path
