"""Nodes side by side (`launching.side_by_side`), with launches that only
record when they ran: the order the DAG allows, how many at a time, and
what a failure stops."""

import os
import sys
import threading
import time

import pytest

import pipeline_config
from pipeline.runners import launching
from pipeline.runners import local

# A diamond with a tail: A -> (B, C) -> D -> E.
DAG = {"A": (), "B": ("A",), "C": ("A",), "D": ("B", "C"), "E": ("D",)}


class _Recorder:
    def __init__(self, seconds=0.05, fail=None):
        self.spans, self.seconds, self.fail = {}, seconds, fail
        self._lock = threading.Lock()
        self._running = 0
        self.most_at_once = 0

    def __call__(self, node_id):
        with self._lock:
            self._running += 1
            self.most_at_once = max(self.most_at_once, self._running)
        began = time.monotonic()
        time.sleep(self.seconds)
        with self._lock:
            self._running -= 1
            self.spans[node_id] = (began, time.monotonic())
        if node_id == self.fail:
            raise RuntimeError(f"{node_id} failed")


def test_every_node_starts_after_those_it_waits_for():
    launch = _Recorder()
    launching.side_by_side(DAG, launch, parallel=2)
    assert set(launch.spans) == set(DAG)
    for node_id, upstream in DAG.items():
        for before in upstream:
            assert launch.spans[before][1] <= launch.spans[node_id][0]


def test_independent_nodes_run_at_the_same_time_up_to_the_limit():
    launch = _Recorder(seconds=0.3)
    launching.side_by_side(DAG, launch, parallel=2)
    (b_began, b_ended), (c_began, c_ended) = launch.spans["B"], \
        launch.spans["C"]
    assert b_began < c_ended and c_began < b_ended
    assert launch.most_at_once == 2
    wide = {"A": (), "B": (), "C": (), "D": ()}
    launch = _Recorder(seconds=0.2)
    launching.side_by_side(wide, launch, parallel=3)
    assert launch.most_at_once == 3


def test_after_a_failure_nothing_starts_and_running_nodes_finish():
    launch = _Recorder(fail="B")
    launch.seconds = 0.05
    slow_c = _Recorder(seconds=0.5)

    def launch_with_slow_c(node_id):
        (slow_c if node_id == "C" else launch)(node_id)

    with pytest.raises(RuntimeError, match="B failed"):
        launching.side_by_side(DAG, launch_with_slow_c, parallel=2)
    # C was running when B failed: it finished; D and E never started.
    assert "C" in slow_c.spans
    assert not {"D", "E"} & set(launch.spans)


def test_nodes_to_finish_run_after_a_failure_and_their_error_comes_first():
    # The pipeline's shape: statistics and validation beside the Trainer;
    # the Trainer fails on the data the validation rejects.
    dag = {"gen": (), "stats": ("gen",), "train": ("gen",),
           "validate": ("stats",), "evaluate": ("validate", "train"),
           "after_train": ("train",)}
    spans = []

    def launch(node_id):
        spans.append(node_id)
        if node_id == "stats":
            time.sleep(0.3)  # still running when the Trainer fails
        if node_id in ("train", "validate"):
            raise RuntimeError(f"{node_id} failed")

    with pytest.raises(RuntimeError, match="validate failed"):
        launching.side_by_side(dag, launch, parallel=2,
                               finish=("stats", "validate"))
    assert "validate" in spans
    assert not {"evaluate", "after_train"} & set(spans)


def test_a_node_to_finish_does_not_start_after_its_upstream_failed():
    dag = {"gen": (), "stats": ("gen",)}
    spans = []

    def launch(node_id):
        spans.append(node_id)
        if node_id == "gen":
            raise RuntimeError("gen failed")

    with pytest.raises(RuntimeError, match="gen failed"):
        launching.side_by_side(dag, launch, parallel=2, finish=("stats",))
    assert spans == ["gen"]


def test_a_node_waiting_for_an_unknown_node_is_named():
    with pytest.raises(ValueError, match="B"):
        launching.side_by_side({"A": (), "B": ("X",)}, _Recorder(),
                               parallel=2)


def test_with_a_beam_runner_beyond_this_process_nodes_run_one_at_a_time(
        tmp_path):
    # Beam's job server for a portable runner (Flink) starts only from the
    # main thread.
    direct = pipeline_config.PipelineConfig(output_dir=str(tmp_path))
    flink = pipeline_config.PipelineConfig(
        output_dir=str(tmp_path), beam=pipeline_config.BeamConfig(
            runner="flink", flink_master="localhost:8081"))
    side_by_side = local._side_by_side  # pylint: disable=protected-access
    assert side_by_side(direct, 2) == 2
    assert side_by_side(flink, 2) == 1
    assert side_by_side(direct, 1) == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="a priority of one thread exists on Linux only")
def test_a_yielding_node_lowers_its_own_thread_and_the_ones_it_starts():
    seen = {}

    def child():
        seen["child"] = os.getpriority(os.PRIO_PROCESS,
                                       threading.get_native_id())

    def node():
        seen["lowered"] = launching.lowest_priority_for_this_thread()
        seen["node"] = os.getpriority(os.PRIO_PROCESS,
                                      threading.get_native_id())
        started = threading.Thread(target=child)
        started.start()
        started.join()

    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    thread = threading.Thread(target=node)
    thread.start()
    thread.join()
    assert seen == {"lowered": True, "node": 19, "child": 19}
    # The rest of the process keeps its priority.
    assert os.getpriority(os.PRIO_PROCESS,
                          threading.get_native_id()) == before
    assert os.getpriority(os.PRIO_PROCESS, 0) == before


def test_the_runners_work_after_a_node_gets_its_outputs_and_cannot_fail_it(
        monkeypatch):
    from tfx.proto.orchestration import pipeline_pb2  # pylint: disable=import-outside-toplevel
    ir = pipeline_pb2.Pipeline()
    for node_id, upstream in (("A", ()), ("B", ("A",)), ("C", ("B",))):
        node = ir.nodes.add().pipeline_node
        node.node_info.id = node_id
        node.upstream_nodes.extend(upstream)
    ran = []

    def launch(_, node, __):
        ran.append(node.node_info.id)
        return f"outputs of {node.node_info.id}"

    monkeypatch.setattr(launching, "_launch", launch)
    seen = []

    def broken(_):
        raise RuntimeError("the runner's own work failed")

    launching.run_all(ir, None, parallel=2,
                      after={"A": seen.append, "B": broken})
    assert seen == ["outputs of A"]
    assert ran == ["A", "B", "C"]  # B's failed follow-up did not stop C


def test_the_report_figure_is_drawn_early_only_from_statistics_written(
        tmp_path, monkeypatch, caplog):
    from pipeline import nodes  # pylint: disable=import-outside-toplevel
    from pipeline.reporting import report  # pylint: disable=import-outside-toplevel
    from tests.pipeline.reporting import test_report  # pylint: disable=import-outside-toplevel
    drawn = []
    monkeypatch.setattr(report, "draw_early",
                        lambda uri, output_dir: drawn.append(uri))

    class Artifact:  # pylint: disable=too-few-public-methods
        def __init__(self, uri):
            self.uri = uri

    class Info:  # pylint: disable=too-few-public-methods
        def __init__(self, uri):
            self.output_dict = {nodes.STATISTICS_KEY: [Artifact(uri)]}

    after = local._report_early(str(tmp_path), 2)  # pylint: disable=protected-access
    assert local._report_early(str(tmp_path), 1) == {}  # pylint: disable=protected-access
    # Found in the cache: TFX hands back artifacts it did not write.
    after[nodes.STATISTICS_GEN](Info(str(tmp_path / "never-written")))
    written = test_report._statistics(tmp_path)  # pylint: disable=protected-access
    after[nodes.STATISTICS_GEN](Info(written))
    deadline = time.monotonic() + 10
    while not drawn and time.monotonic() < deadline:
        time.sleep(0.01)
    assert drawn == [written]
    assert "could not draw" not in caplog.text
