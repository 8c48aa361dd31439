"""Runs nodes of a compiled pipeline with TFX's portable `Launcher`, the
way TFX's LocalDagRunner does, but with executor operators that import a
node's executor only when it runs (executor_operators.py), and with
independent nodes side by side. TFX 1.16's LocalDagRunner takes no
executor operators, so a fully cached run through it imports every
executor (TFMA, TFDV, TensorFlow...), and it runs one node at a time. The
local runner and the Kubeflow node entrypoint both launch their nodes here.

Side by side (`run_all(..., parallel=N)`): a node starts once every node
upstream of it has finished, at most N at a time, in the compiled
(topological) order; each in a thread of its own, with its own launcher
and its own ML Metadata connection (ML Metadata's sqlite store waits and
retries while another connection writes). StatisticsGen and the
ExampleValidator, mostly Python, then run while the Trainer's steps run in
TensorFlow's threads, which do not hold Python's lock. When a node fails,
no other node starts, the ones running finish (as Argo, Kubeflow
Pipelines' engine, does with failFast), and one failure is raised (see
`side_by_side`). Nodes named `yielding`, the data's statistics
and validation, still run to their end after a failure elsewhere (as in
Kubeflow, where they are one task, `validate-data`): a Trainer that fails
on bad data beside them then fails a run that names the data's anomalies.
They also run at the lowest CPU priority (Linux's per-thread
nice 19, which threads they start inherit): beside the Trainer, which
keeps both cores of this project's machine busy, they take what it leaves
instead of half of it (docs/performance.md).
"""

import os
import queue
import sys
import threading
from typing import (Any, Callable, Collection, Dict, Mapping, Optional,
                    Tuple)

from absl import logging
from tfx.orchestration import metadata
from tfx.orchestration.local import runner_utils
from tfx.orchestration.portable import launcher

from pipeline.runners import executor_operators


def launcher_for(ir, node_id: str, connection_config) -> launcher.Launcher:
    """TFX's Launcher for node `node_id` of `ir` (its run id set), with its
    deployment's executor and driver, on the store `connection_config`."""
    deployment = runner_utils.extract_local_deployment_config(ir)
    [node] = [n.pipeline_node for n in ir.nodes
              if n.pipeline_node.node_info.id == node_id]
    return launcher.Launcher(
        pipeline_node=node,
        mlmd_connection=metadata.Metadata(connection_config),
        pipeline_info=ir.pipeline_info,
        pipeline_runtime_spec=ir.runtime_spec,
        executor_spec=runner_utils.extract_executor_spec(deployment, node_id),
        custom_driver_spec=runner_utils.extract_custom_driver_spec(
            deployment, node_id),
        # A node found in the cache imports nothing of its executor.
        custom_executor_operators=executor_operators.OPERATORS)


def run_all(ir, connection_config, parallel: int = 1,
            yielding: Collection[str] = (),
            after: Optional[Mapping[str, Callable[[Any], None]]] = None
            ) -> None:
    """Every node of `ir` (its run id set), with LocalDagRunner's log lines
    (`pipeline.reporting.progress` times nodes by them): one after the
    other in the compiled order, or up to `parallel` at a time as their
    upstream nodes finish, those in `yielding` then at the lowest CPU
    priority (see the module docstring; one at a time, nothing is
    lowered). `after[node_id]`, if given, is called with the node's
    execution info (TFX's `ExecutionInfo`: its output artifacts) once the
    node succeeded, in the node's thread: for work of the runner's own
    that needs those outputs and can be done before the run ends. Its
    failure is logged, not raised: the node succeeded."""
    nodes = {n.pipeline_node.node_info.id: n.pipeline_node for n in ir.nodes}
    after = after or {}

    def launch(node_id: str) -> None:
        if node_id in yielding and parallel > 1:
            lowest_priority_for_this_thread()
        info = _launch(ir, nodes[node_id], connection_config)
        if info is not None and node_id in after:
            try:
                after[node_id](info)
            except Exception:  # pylint: disable=broad-except
                logging.exception("after node %s: could not finish the "
                                  "runner's work on its outputs", node_id)

    if parallel <= 1:
        for node_id in nodes:
            launch(node_id)
        return
    side_by_side({node_id: tuple(node.upstream_nodes)
                  for node_id, node in nodes.items()}, launch, parallel,
                 finish=yielding)


def side_by_side(upstream: Mapping[str, Collection[str]],
                 launch: Callable[[str], None], parallel: int,
                 finish: Collection[str] = ()) -> None:
    """Calls `launch(node_id)` for every node of `upstream` (node id -> the
    ids it waits for, in a topological order), each once those it waits
    for have returned, up to `parallel` at a time, each in a thread of its
    own; the first ready in `upstream`'s order goes first. Once a launch
    raises, none starts but those in `finish` whose upstream nodes all
    returned normally; when the running ones have returned, the error of
    the first failed node of `finish` is raised (the data's validation,
    rather than a Trainer that failed on the same data), or else of the
    first failed node in `upstream`'s order. The threads are daemons: an
    interrupted run (Ctrl-C) stops at once instead of waiting for its
    nodes, as it does when nodes run one at a time."""
    pending = list(upstream)
    done, running = set(), set()
    finished: "queue.Queue[Tuple[str, Optional[BaseException]]]" = \
        queue.Queue()
    failures: Dict[str, BaseException] = {}

    def work(node_id: str) -> None:
        try:
            launch(node_id)
        except BaseException as error:  # pylint: disable=broad-except
            finished.put((node_id, error))  # raised by the scheduler
        else:
            finished.put((node_id, None))

    def ready(node_id: str) -> bool:
        if not failures:
            return done.issuperset(upstream[node_id])
        return (node_id in finish
                and (done - set(failures)).issuperset(upstream[node_id]))

    while True:
        for node_id in [n for n in pending if ready(n)]:
            if len(running) >= parallel:
                break
            pending.remove(node_id)
            running.add(node_id)
            threading.Thread(target=work, args=(node_id,),
                             name=f"node {node_id}", daemon=True).start()
        if not running:
            break
        node_id, error = finished.get()
        running.remove(node_id)
        done.add(node_id)
        if error is not None:
            failures[node_id] = error
            # Only one error is raised: each is logged with its traceback.
            logging.error("node %s failed", node_id, exc_info=error)
    if failures:
        failed = [n for n in upstream if n in failures]
        raise failures[next((n for n in failed if n in finish), failed[0])]
    if pending:
        raise ValueError("nodes waiting for nodes that are not in the "
                         f"pipeline: {', '.join(pending)}")


def lowest_priority_for_this_thread() -> bool:
    """Gives the calling thread, and the threads it starts from now on,
    the lowest CPU priority, on Linux, where a priority can be a thread's
    (elsewhere it would be the whole process's: nothing changes there).
    Returns whether it did."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except OSError as error:  # a speed-up only: the node runs anyway
        logging.warning("could not lower this node's CPU priority: %s",
                        error)
        return False
    return True


def _launch(ir, node, connection_config):
    """Launches `node`; its execution info (None if skipped)."""
    node_id = node.node_info.id
    if node.execution_options.HasField("skip"):
        logging.info("Skipping component %s.", node_id)
        return None
    node_launcher = launcher_for(ir, node_id, connection_config)
    logging.info("Component %s is running.", node_id)
    info = node_launcher.launch()
    logging.info("Component %s is finished.", node_id)
    return info
