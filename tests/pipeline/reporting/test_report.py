"""The run report's figures: the timeline as SVG, the others drawn once for
what they show."""

import base64
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

from components.trainer import record as training_record
from pipeline.reporting import report
from tests.pipeline import helpers


def _summary(accuracy_of_class_3=0.8):
    return {
        "run_id": "r1",
        "dataset": {"name": "fashion_mnist", "version": "3.0.1"},
        "components": {
            "TfdsExampleGen": {"status": "executed", "seconds": 6.5},
            "Trainer": {"status": "cached", "seconds": 0.1},
            "Evaluator": {"status": "failed", "seconds": 2.0}},
        "metrics": {
            "accuracy": 0.88, "example_count": 100,
            "per_class_accuracy": {"0": 0.9, "3": accuracy_of_class_3},
            "class_names": ["T-shirt/top", "Trouser", "Pullover", "Dress"],
            "confusion_matrix": [[9, 1], [2, 8]]}}


def _model_run(tmp_path):
    folder = tmp_path / "model_run"
    folder.mkdir()
    (folder / os.path.basename(training_record.path(str(folder)))).write_text(
        json.dumps({"history": {"loss": [0.5, 0.4], "accuracy": [0.8, 0.9]}}))
    return str(folder)


def test_figures_are_drawn_once_for_what_they_show(tmp_path):
    model_run = _model_run(tmp_path)
    figures = report.Figures(str(tmp_path / "figures"))
    first = report.render(_summary(), None, model_run, figures)
    assert figures.drawn == 3  # training, per class, confusion
    again = report.Figures(str(tmp_path / "figures"))
    assert report.render(_summary(), None, model_run, again) == first
    assert again.drawn == 0
    changed = report.Figures(str(tmp_path / "figures"))
    page = report.render(_summary(0.7), None, model_run, changed)
    assert changed.drawn == 1 and page != first  # the per-class bars
    assert not [f for f in os.listdir(tmp_path / "figures")
                if not f.endswith(".png")]


def test_the_timeline_is_an_svg_of_every_component():
    svg = base64.b64decode(report._timeline(  # pylint: disable=protected-access
        _summary()["components"])).decode()
    root = ElementTree.fromstring(svg)
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert {"TfdsExampleGen", "Trainer", "Evaluator"} <= set(texts)
    bars = [r for r in root.iter("{http://www.w3.org/2000/svg}rect")
            if r.find("{http://www.w3.org/2000/svg}title") is not None]
    assert [b.find("{http://www.w3.org/2000/svg}title").text
            for b in bars] == ["TfdsExampleGen: 6.5 s", "Trainer: 0.1 s",
                               "Evaluator: 2.0 s"]
    assert [b.get("fill") for b in bars] == [
        report.COLORS["executed"], report.COLORS["cached"],
        report.COLORS["failed"]]


PROGRAM = """
import json, sys
from pipeline.reporting import report
from tests.pipeline.reporting.test_report import _summary
figures = report.Figures(sys.argv[1])
report.render(_summary(), None, sys.argv[2], figures)
print(json.dumps({"drawn": figures.drawn,
                  "matplotlib": "matplotlib" in sys.modules}))
"""


def test_a_report_with_every_figure_drawn_before_imports_no_matplotlib(
        tmp_path):
    model_run = _model_run(tmp_path)
    seen = []
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-c", PROGRAM, str(tmp_path / "figures"),
             model_run], cwd=helpers.REPO, capture_output=True, text=True,
            check=False, env=dict(os.environ, TF_USE_LEGACY_KERAS="1"))
        assert result.returncode == 0, result.stderr[-3000:]
        seen.append(json.loads(result.stdout.splitlines()[-1]))
    assert seen == [{"drawn": 3, "matplotlib": True},
                    {"drawn": 0, "matplotlib": False}]


def _statistics(tmp_path):
    """StatisticsGen's output for one split: a label histogram."""
    from tensorflow_metadata.proto.v0 import statistics_pb2  # pylint: disable=import-outside-toplevel
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    dataset = stats.datasets.add(num_examples=30)
    label = dataset.features.add()
    label.path.step.append("label")
    label.num_stats.max = 2
    histogram = label.num_stats.histograms.add()
    for low, count in ((0, 10), (1, 12), (2, 8)):
        histogram.buckets.add(low_value=low, high_value=low + 1,
                              sample_count=count)
    folder = tmp_path / "statistics" / "Split-train"
    folder.mkdir(parents=True)
    (folder / report.STATISTICS_FILE).write_bytes(stats.SerializeToString())
    return str(tmp_path / "statistics")


def test_the_dataset_figure_drawn_early_is_the_reports(tmp_path):
    statistics = _statistics(tmp_path)
    output_dir = tmp_path / "output"
    report.draw_early(statistics, str(output_dir))
    [drawn] = os.listdir(output_dir / "reports" / report.FIGURES_DIR)
    assert drawn.startswith("labels-") and drawn.endswith(".png")
    figures = report.Figures(str(output_dir / "reports" / report.FIGURES_DIR))
    rows, png = report._statistics(statistics, figures)  # pylint: disable=protected-access
    assert figures.drawn == 0  # read, not drawn again
    assert rows == [["train", 30, "-", "0-2", 0]]
    assert base64.b64decode(png) == (
        output_dir / "reports" / report.FIGURES_DIR / drawn).read_bytes()
