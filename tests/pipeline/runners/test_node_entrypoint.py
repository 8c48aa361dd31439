"""The per-node entrypoint Kubeflow tasks run."""

import json
import sys

import pytest

from components.trainer import settings as trainer_settings
from pipeline import factory
from pipeline import nodes
from pipeline.metadata import models
from pipeline.metadata import runs
from pipeline.metadata import store as metadata_store
from pipeline.metadata import urls
from pipeline.runners import node_entrypoint
from tests.pipeline import helpers


def _ir(tmp_path):
    config = helpers.tiny_config(tmp_path, str(tmp_path / "tfds"))
    return factory.compile_ir(factory.create_pipeline(config))


def test_ir_round_trip(tmp_path):
    ir = _ir(tmp_path)
    text = node_entrypoint.encode_ir(ir)
    assert node_entrypoint.decode_ir(text) == ir
    assert len(text) < len(ir.SerializeToString())


def test_run_parameters_change_epochs_and_version(tmp_path):
    ir = _ir(tmp_path)
    node_entrypoint.set_run_parameters(ir, epochs=7, dataset_version="2.0.0")
    parameters = {n.pipeline_node.node_info.id: n.pipeline_node.parameters
                  .parameters for n in ir.nodes}
    custom = json.loads(parameters[nodes.TRAINER]["custom_config"]
                        .field_value.string_value)
    training = trainer_settings.read(custom)
    assert training.epochs == 7 and training.batch_size_per_replica == 64
    assert parameters[nodes.EXAMPLE_GEN]["dataset"].field_value \
        .string_value == \
        "tiny_images/clean:2.0.0"


def _invoke(tmp_path, ir, *extra):
    from click.testing import CliRunner  # pylint: disable=import-outside-toplevel
    return CliRunner().invoke(node_entrypoint.main, [
        "--pipeline-ir", node_entrypoint.encode_ir(ir), "--node-id",
        nodes.TRAINER, "--run-id", "r", "--metadata",
        f"sqlite://{tmp_path / 'metadata.sqlite'}", *extra])


def test_epochs_below_one_are_refused(tmp_path):
    result = _invoke(tmp_path, _ir(tmp_path), "--epochs", "0")
    assert result.exit_code == 2
    assert "--epochs" in result.output and "0" in result.output


def test_a_package_of_another_version_is_one_message(tmp_path):
    ir = _ir(tmp_path)
    [trainer] = [n.pipeline_node for n in ir.nodes
                 if n.pipeline_node.node_info.id == nodes.TRAINER]
    value = trainer.parameters.parameters["custom_config"].field_value
    value.string_value = json.dumps({"epochs": 5})  # the flat, old layout
    result = _invoke(tmp_path, ir, "--epochs", "3")
    assert result.exit_code == 1
    assert "Recompile it with this one." in result.output
    assert "Traceback" not in result.output


def _run_in_processes(ir_text, run_id, metadata_url, groups):
    """One process per group of nodes, as a Kubeflow task runs them."""
    for group in groups:
        result = helpers.run_cli(
            [sys.executable, "-m", "pipeline.runners.node_entrypoint",
             "--pipeline-ir", ir_text,
             *(arg for node_id in group for arg in ("--node-id", node_id)),
             "--run-id", run_id, "--metadata", metadata_url])
        assert result.returncode == 0, (group, result.stderr[-3000:])
        for node_id in group:
            assert f"{node_id}: launching" in result.stderr


@pytest.mark.slow
def test_nodes_in_processes_of_their_own_share_metadata(tmp_path,
                                                        tfds_data_dir):
    """What a Kubeflow run does, on this machine: the package's three
    tasks of nodes, in DAG order, all against one ML Metadata store; then
    a cached re-run with one process per node. Every node is its own
    execution, with its own log file."""
    from pipeline.runners import kubeflow  # pylint: disable=import-outside-toplevel
    config = helpers.tiny_config(tmp_path / "out", tfds_data_dir)
    ir = factory.compile_ir(factory.create_pipeline(
        config, beam_pipeline_args=config.beam.pipeline_args()))
    node_ids = [n.pipeline_node.node_info.id for n in ir.nodes]
    url = f"sqlite://{tmp_path / 'metadata.sqlite'}"
    text = node_entrypoint.encode_ir(ir)
    _run_in_processes(text, "run-1", url,
                      kubeflow.task_groups(ir).values())
    _run_in_processes(text, "run-2", url, [[n] for n in node_ids])
    for node_id in node_ids:
        log = node_entrypoint.log_path(ir, "run-1", node_id)
        with open(log, encoding="utf-8") as f:
            # One launch per file: its own node's.
            assert f.read().count("Running launcher for node_info") == 1, log
    with open(node_entrypoint.log_path(ir, "run-1", nodes.TRANSFORM),
              encoding="utf-8") as f:
        transform_log = f.read()
    # Transform's file has its own lines, not those of the nodes before it
    # in its task.
    assert f"[{nodes.TRANSFORM}] Resolved inputs" in transform_log
    assert f"[{nodes.STATISTICS_GEN}] Resolved inputs" not in transform_log

    store = metadata_store.open_store(url, read_only=True)
    destination = models.last_pushed(store, config.name).destination
    helpers.check_signatures(destination)
    first, second = (runs.get_run(store, config.name, run_id)
                     for run_id in ("run-1", "run-2"))
    assert first.status == second.status == runs.SUCCEEDED
    assert set(first.states.values()) == {"executed"}
    assert set(first.states) == set(node_ids) == first.node_ids
    # Every component is cached on the re-run; the resolver resolves anew.
    assert second.fully_cached
    assert helpers.serving_versions(config.serving_dir) == [
        destination.rsplit("/", 1)[1]]
    # A task of cached nodes imports none of their executors (and what
    # they import): here the Evaluator's TFMA and the statistics' TFDV;
    # with its storage local, not even TensorFlow or Beam.
    imported = _imports_of_a_task(text, "run-3", url, node_ids)
    assert not any(imported.values()), imported
    assert runs.get_run(store, config.name, "run-3").fully_cached


def _imports_of_a_task(ir_text, run_id, metadata_url, group):
    """Which heavy packages a task's process had imported when its nodes
    were done, as the module's own `__main__` runs it."""
    script = (
        "import json, os, sys\n"
        "os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')\n"
        "from components import tfx_imports\n"
        "tfx_imports.lazy_tfx_components()\n"
        "from pipeline.runners import node_entrypoint\n"
        "node_entrypoint.main(sys.argv[1:], standalone_mode=False)\n"
        "print(json.dumps({m: m in sys.modules for m in ("
        "'tensorflow_model_analysis', 'tensorflow_data_validation', "
        "'tensorflow', 'apache_beam', 'tensorflow_datasets')}))\n")
    result = helpers.run_cli(
        [sys.executable, "-c", script, "--pipeline-ir", ir_text,
         *(arg for node_id in group for arg in ("--node-id", node_id)),
         "--run-id", run_id, "--metadata", metadata_url])
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_retry_runs_only_the_nodes_that_did_not_finish(tmp_path,
                                                         monkeypatch):
    """A task's second attempt: the nodes that finished in this run (ML
    Metadata says so) are not run again, the rest run in order; a node
    that fails stops the ones after it; each node's log lines go to its
    own file."""
    import logging  # pylint: disable=import-outside-toplevel
    ir = _ir(tmp_path)
    url = urls.parse(f"sqlite://{tmp_path / 'm.sqlite'}")
    metadata_store.open_store(url, read_only=False)
    states = {nodes.EVALUATOR: "COMPLETE", nodes.SERVING_VALIDATOR: "FAILED"}
    ran = []

    def run_node(_, node_id, run_id, __):
        logging.getLogger("tfx").warning("%s working in %s", node_id, run_id)
        ran.append(node_id)
        if node_id == nodes.SERVING_VALIDATOR and len(ran) == 1:
            raise node_entrypoint.NodeFailed("the serving check failed")
        states[node_id] = "COMPLETE"
        return "COMPLETE"

    monkeypatch.setattr(node_entrypoint, "run_node", run_node)
    monkeypatch.setattr(runs, "node_states", lambda *_: dict(states))
    group = [nodes.EVALUATOR, nodes.SERVING_VALIDATOR, nodes.PUSHER]
    said = []
    with pytest.raises(node_entrypoint.NodeFailed):
        node_entrypoint.run_nodes(ir, group, "r", url, echo=said.append)
    assert ran == [nodes.SERVING_VALIDATOR]
    node_entrypoint.run_nodes(ir, group, "r", url, echo=said.append)
    assert ran == [nodes.SERVING_VALIDATOR, nodes.SERVING_VALIDATOR,
                   nodes.PUSHER]
    assert said[0] == (f"{nodes.EVALUATOR}: already COMPLETE in run r (an "
                       "earlier attempt of this task); not run again")
    assert f"{nodes.PUSHER}: COMPLETE" in said
    with open(node_entrypoint.log_path(ir, "r", nodes.PUSHER),
              encoding="utf-8") as f:
        assert f.read().rstrip().endswith(f"{nodes.PUSHER} working in r")
    with pytest.raises(ValueError, match="has no node Nope"):
        node_entrypoint.run_nodes(ir, [nodes.PUSHER, "Nope"], "r", url)
    assert len(ran) == 3


@pytest.mark.parametrize("group, finished, cached, early", [
    ([nodes.EVALUATOR, nodes.SERVING_VALIDATOR, nodes.PUSHER], {}, (), True),
    # Found in the cache, the Evaluator's executor never starts.
    ([nodes.EVALUATOR, nodes.SERVING_VALIDATOR, nodes.PUSHER], {},
     (nodes.EVALUATOR, nodes.SERVING_VALIDATOR), False),
    # The serving check finished in an earlier attempt: nothing to wait for.
    ([nodes.EVALUATOR, nodes.SERVING_VALIDATOR, nodes.PUSHER],
     {nodes.SERVING_VALIDATOR: "COMPLETE"}, (), False),
    # Not in this task: its own task starts its process when it runs.
    ([nodes.EVALUATOR], {}, (), False),
])
def test_the_serving_check_process_starts_as_the_evaluator_works(
        tmp_path, monkeypatch, caplog, group, finished, cached, early):
    """In a task that runs the ServingValidator after the Evaluator, the
    probe's process is started as the Evaluator's executor starts, as the
    local runner does (components/serving_validator/standby.py), and one
    that was not asked for is stopped as the task's nodes end."""
    import logging  # pylint: disable=import-outside-toplevel
    caplog.set_level(logging.INFO)
    ir = _ir(tmp_path)
    url = urls.parse(f"sqlite://{tmp_path / 'm.sqlite'}")
    metadata_store.open_store(url, read_only=False)
    events = []
    monkeypatch.setattr(node_entrypoint.standby, "beside_evaluator",
                        lambda: events.append("probe started"))
    monkeypatch.setattr(node_entrypoint.standby, "discard",
                        lambda: events.append("probe discarded"))

    def run_node(_, node_id, *__):
        if node_id not in cached:
            # What TFX's launcher logs as it runs an executor.
            logging.getLogger("absl").info("Going to run a new execution 7")
        events.append(node_id)
        return "CACHED" if node_id in cached else "COMPLETE"

    monkeypatch.setattr(node_entrypoint, "run_node", run_node)
    monkeypatch.setattr(runs, "node_states", lambda *_: dict(finished))
    node_entrypoint.run_nodes(ir, group, "r", url, echo=lambda _: None)
    ran = [n for n in group if n not in finished]
    assert events == (["probe started"] if early else []) + ran + [
        "probe discarded"]


@pytest.mark.parametrize("store_goes_away", [True, False])
def test_a_store_lost_mid_task_is_one_message(tmp_path, monkeypatch,
                                              store_goes_away):
    """Whatever TFX raises when the store goes away mid-task, the task
    ends with one message naming the store; an error with the store still
    there is not dressed up as one."""
    from click.testing import CliRunner  # pylint: disable=import-outside-toplevel
    path = tmp_path / "metadata.sqlite"
    url = f"sqlite://{path}"
    metadata_store.open_store(url, read_only=False)

    def run_node(*_):
        if store_goes_away:
            path.unlink()
        raise RuntimeError("Failed to establish connection (TFX's words)")

    monkeypatch.setattr(node_entrypoint, "run_node", run_node)
    result = CliRunner().invoke(node_entrypoint.main, [
        "--pipeline-ir", node_entrypoint.encode_ir(_ir(tmp_path)),
        "--node-id", nodes.TRAINER, "--run-id", "r", "--metadata", url])
    if store_goes_away:
        assert result.exit_code == 1
        [error] = [line for line in result.output.splitlines()
                   if line.startswith("Error:")]
        assert error.startswith(
            f"Error: {nodes.TRAINER} failed: the ML Metadata store went away "
            f"while the task ran (no ML Metadata store at {path}")
        assert "retry runs again every node that did not finish" in error
        assert "Traceback" not in result.output
    else:
        assert isinstance(result.exception, RuntimeError)


def test_storage_locations_are_the_root_and_the_data_dir(tmp_path):
    """What the decide task checks and every task enables."""
    import pipeline_config as pc  # pylint: disable=import-outside-toplevel
    config = pc.dataclasses.replace(
        helpers.tiny_config(tmp_path, "s3://data/tfds"),
        remote_root="s3://artifacts/root")
    ir = factory.compile_ir(factory.create_pipeline(config))
    assert node_entrypoint.storage_locations(ir) == ["s3://artifacts/root",
                                                     "s3://data/tfds"]
