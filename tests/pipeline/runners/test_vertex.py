"""The Vertex AI PipelineJob: strict spec, the DAG, the Trainer's worker
pool. Compiled here; running it needs Vertex AI, which these machines cannot
reach (docs/vertex.md)."""

import importlib
import json

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

import pipeline_config as pc
from components.trainer import settings as trainer_settings
from pipeline import nodes
from pipeline.runners import kubeflow as kubeflow_runner
from pipeline.runners import vertex as vertex_runner
from tests.pipeline import helpers

IMAGE = "us-docker.pkg.dev/p/repo/tfds-pipeline:1"
RESOLVER_TASKS = {"latest_blessed_model_resolver-model-resolver",
                  "latest_blessed_model_resolver-model-blessing-resolver"}


def _config(tmp_path):
    config = helpers.tiny_config(tmp_path / "out", str(tmp_path / "tfds"))
    return pc.dataclasses.replace(config, remote_root="gs://bucket/root")


def _compile(tmp_path, **vertex):
    path = tmp_path / "pipeline.json"
    job = vertex_runner.compile_job(
        _config(tmp_path), pc.VertexConfig(image=IMAGE, **vertex), str(path))
    with open(path, encoding="utf-8") as f:
        assert json.load(f) == job
    spec = pipeline_spec_pb2.PipelineSpec()
    json_format.ParseDict(job["pipelineSpec"], spec,
                          ignore_unknown_fields=False)
    return job, spec


def _executors(spec):
    return json_format.MessageToDict(spec.deployment_spec)["executors"]


def _custom_config(spec, task=nodes.TRAINER):
    return json.loads(_constant(spec, task, "custom_config"))


def _constant(spec, task, name):
    # TFX writes the older `constantValue` form of a constant parameter.
    value = spec.root.dag.tasks[task].inputs.parameters[name].runtime_value
    return value.constant_value.string_value


def test_job_parses_and_its_graph_is_the_tfx_dag(tmp_path):
    job, spec = _compile(tmp_path)
    from google.cloud.aiplatform_v1.types import PipelineJob  # pylint: disable=import-outside-toplevel
    PipelineJob.from_json(json.dumps(job))  # Vertex's own message, strict.
    assert job["runtimeConfig"]["gcsOutputDirectory"] == "gs://bucket/root"
    tasks = spec.root.dag.tasks
    # Vertex splits the baseline resolver into two queries.
    assert set(tasks) == (set(helpers.NODES)
                          - {nodes.BASELINE_RESOLVER}
                          | RESOLVER_TASKS)
    expected = kubeflow_runner.dag(kubeflow_runner.compile_ir(
        _config(tmp_path)))
    for node_id in (nodes.TRANSFORM, nodes.TRAINER, nodes.PUSHER):
        assert set(tasks[node_id].dependent_tasks) == set(expected[node_id])


def test_every_task_runs_an_importable_executor_in_the_image(tmp_path):
    _, spec = _compile(tmp_path)
    for label, executor in _executors(spec).items():
        if "resolver" in executor:
            continue
        container = executor["container"]
        assert container["image"] == IMAGE, label
        assert container["command"][:2] == ["python", "-m"]
        importlib.import_module(container["command"][2])
        args = container["args"]
        path = args[args.index("--executor_class_path") + 1]
        module, name = path.rsplit(".", 1)
        assert hasattr(importlib.import_module(module), name), path


def test_without_accelerators_the_trainer_is_a_pipeline_step(tmp_path):
    _, spec = _compile(tmp_path)
    args = _executors(spec)["Trainer_executor"]["container"]["args"]
    assert args[args.index("--executor_class_path") + 1] == \
        "components.trainer.executor.Executor"
    custom = _custom_config(spec)
    assert trainer_settings.read(custom).epochs == 2
    assert "ai_platform_training_args" not in custom


def test_gpu_trainer_is_a_vertex_custom_job_with_a_worker_pool(tmp_path):
    _, spec = _compile(tmp_path, project="my-project", region="europe-west4",
                       machine_type="n1-standard-8",
                       accelerator_type="NVIDIA_TESLA_T4",
                       accelerator_count=2)
    args = _executors(spec)["Trainer_executor"]["container"]["args"]
    assert args[args.index("--executor_class_path") + 1] == \
        "components.trainer.vertex.Executor"
    custom = _custom_config(spec)
    assert custom["ai_platform_enable_vertex"] is True
    assert custom["ai_platform_vertex_region"] == "europe-west4"
    training = custom["ai_platform_training_args"]
    assert training["project"] == "my-project"
    assert training["worker_pool_specs"] == [{
        "machine_spec": {"machine_type": "n1-standard-8",
                         "accelerator_type": "NVIDIA_TESLA_T4",
                         "accelerator_count": 2},
        "replica_count": 1,
        "container_spec": {"image_uri": IMAGE, "env": [{
            "name": "PIPELINE_TRAINER_JOIN_TIMEOUT_SECONDS",
            "value": "1800"}]}}]
    # run_fn's own settings travel with it.
    training = trainer_settings.read(custom)
    assert training.tpu is None
    assert training.epochs == 2 and training.batch_size_per_replica == 64


def test_tpu_trainer_uses_a_tpu_vm_and_tpu_strategy(tmp_path):
    _, spec = _compile(tmp_path, project="p", machine_type="ct5lp-hightpu-4t",
                       accelerator_type="TPU_V5_LITEPOD", accelerator_count=4,
                       tpu_topology="2x2")
    custom = _custom_config(spec)
    [pool] = custom["ai_platform_training_args"]["worker_pool_specs"]
    assert pool["machine_spec"]["tpu_topology"] == "2x2"
    assert trainer_settings.read(custom).tpu == "local"


def test_committed_schema_is_package_relative(tmp_path):
    _, spec = _compile(tmp_path)
    value = _constant(spec, nodes.SCHEMA_IMPORTER, "schema_file")
    assert value == "schemas/fashion_mnist/schema.pbtxt"


@pytest.mark.parametrize("settings,message", [
    ({"project": "p", "accelerator_type": "NVIDIA_TESLA_T4"},
     "set both the accelerator type and count"),
    ({"region": "mars"}, "region 'mars'"),
])
def test_bad_vertex_settings_are_named(settings, message):
    with pytest.raises(pc.ConfigError, match=message):
        pc.VertexConfig(image=IMAGE, **settings)


def test_unknown_accelerator_is_named_before_compiling(tmp_path):
    with pytest.raises(pc.ConfigError, match="'NVIDIA_K9000' is not a"):
        _compile(tmp_path, project="p", accelerator_type="NVIDIA_K9000",
                 accelerator_count=1)
    assert not (tmp_path / "pipeline.json").exists()


def test_without_a_project_the_custom_job_takes_the_pipelines(tmp_path):
    from components.trainer import vertex  # pylint: disable=import-outside-toplevel
    _, spec = _compile(tmp_path, accelerator_type="NVIDIA_TESLA_T4",
                       accelerator_count=1)
    training = _custom_config(spec)["ai_platform_training_args"]
    assert "project" not in training
    filled = vertex.with_project(training, lambda: "runs-in-project")
    assert filled["project"] == "runs-in-project"
    assert filled["worker_pool_specs"] == training["worker_pool_specs"]
    assert vertex.with_project({"project": "given"},
                               lambda: "unused")["project"] == "given"


def test_example_gen_is_never_cached_on_vertex_and_every_other_task_is(
        tmp_path):
    """Vertex runs no custom drivers, so the data's fingerprint is not in
    ExampleGen's cache key: ExampleGen must read the data in every run."""
    job, spec = _compile(tmp_path)
    tasks = job["pipelineSpec"]["root"]["dag"]["tasks"]
    assert tasks[nodes.EXAMPLE_GEN]["cachingOptions"] == {
        "enableCache": False}
    assert not spec.root.dag.tasks[nodes.EXAMPLE_GEN].caching_options \
        .enable_cache
    # TFX compiles the resolver queries uncached, as they must be.
    assert {task_id: task.get("cachingOptions") for task_id, task in
            tasks.items() if task_id != nodes.EXAMPLE_GEN} == {
        task_id: None if task_id in RESOLVER_TASKS else {"enableCache": True}
        for task_id in tasks if task_id != nodes.EXAMPLE_GEN}


def test_uncaching_a_task_the_job_lacks_is_an_error():
    with pytest.raises(ValueError, match="no task 'Nope'"):
        vertex_runner.uncache({"pipelineSpec": {"root": {"dag": {
            "tasks": {"A": {}}}}}}, ["Nope"])


@pytest.mark.slow
def test_the_pipeline_built_for_vertex_reads_and_trains_on_new_data(
        tmp_path):
    """Run here as Vertex would run it: no custom drivers or resolvers,
    ExampleGen uncached. A new release of the data is read and trained on;
    unchanged data is read again (what a tick costs on Vertex)."""
    from pipeline.metadata import lineage  # pylint: disable=import-outside-toplevel
    from pipeline.metadata import runs as metadata_runs  # pylint: disable=import-outside-toplevel
    from pipeline.metadata import store as metadata_store  # pylint: disable=import-outside-toplevel
    from pipeline.runners import local  # pylint: disable=import-outside-toplevel
    from tests import growing_dataset  # pylint: disable=import-outside-toplevel
    data_dir = str(tmp_path / "tfds")
    config = pc.dataclasses.replace(
        helpers.tiny_config(tmp_path / "out", data_dir),
        dataset=pc.DatasetConfig(name=growing_dataset.NAME,
                                 data_dir=data_dir))
    as_vertex = vertex_runner.orchestration(pc.VertexConfig(image=IMAGE))
    assert not as_vertex.custom_drivers
    summaries = []
    for version in ("1.0.0", "2.0.0", None):
        if version:
            growing_dataset.release(data_dir, version)
        summaries.append(local.run(config, "local", echo=lambda line: None,
                                   orchestration=as_vertex))
    first, new, unchanged = (helpers.statuses(s) for s in summaries)
    assert first[nodes.EXAMPLE_GEN] == new[nodes.EXAMPLE_GEN] == \
        unchanged[nodes.EXAMPLE_GEN] == "executed"
    assert new[nodes.TRAINER] == "executed"
    # What an unchanged-data run costs on Vertex: the new Examples artifact
    # makes everything after ExampleGen run again, and the model trained
    # again is another model, pushed when it passes the gate.
    assert unchanged[nodes.TRAINER] == "executed"
    assert summaries[2]["blessed"] and summaries[2]["pushed_model"]
    assert summaries[1]["data"]["new"] is True
    assert summaries[1]["dataset"]["version"] == "2.0.0"
    store = metadata_store.open_store(local.metadata_url(config),
                                      read_only=True)
    run = metadata_runs.get_run(store, config.name, summaries[1]["run_id"])
    examples = metadata_runs.examples(store, run)
    assert examples.custom_properties["tfds_version"].string_value == "2.0.0"
    # The run's Trainer read the new examples: all 400 of them.
    trained_on = lineage.inputs(store, run.executions[nodes.TRAINER].id)[
        nodes.EXAMPLES_KEY]
    assert [a.id for a in trained_on] == [examples.id]
    assert lineage.custom_property(examples, "num_examples")["train"] == 400


def test_trainer_workers_are_a_chief_pool_and_a_worker_pool(tmp_path):
    config = pc.dataclasses.replace(
        _config(tmp_path), training=pc.TrainingConfig(epochs=2, workers=3))
    job = vertex_runner.compile_job(
        config, pc.VertexConfig(image=IMAGE, project="p",
                                accelerator_type="NVIDIA_TESLA_T4",
                                accelerator_count=2),
        str(tmp_path / "pipeline.json"))
    spec = pipeline_spec_pb2.PipelineSpec()
    json_format.ParseDict(job["pipelineSpec"], spec)
    custom = _custom_config(spec)
    pools = custom["ai_platform_training_args"]["worker_pool_specs"]
    assert [p["replica_count"] for p in pools] == [1, 2]
    assert all(p["machine_spec"]["accelerator_count"] == 2
               and p["container_spec"]["image_uri"] == IMAGE for p in pools)
    # Replicas may wait for machines: they wait longer for each other.
    assert all(p["container_spec"]["env"] == [{
        "name": "PIPELINE_TRAINER_JOIN_TIMEOUT_SECONDS", "value": "1800"}]
        for p in pools)
    assert trainer_settings.read(custom).workers == 3
