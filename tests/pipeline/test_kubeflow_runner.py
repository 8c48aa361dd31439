"""The Kubeflow package: strict PipelineSpec, the TFX DAG, resources."""

import importlib
import sys

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

import pipeline_config as pc
from pipeline import kubeflow_runner
from pipeline import node_entrypoint
from tests.pipeline import helpers


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kfp")
    config = helpers.tiny_config(tmp / "out", str(tmp / "tfds"))
    config = pc.dataclasses.replace(config, remote_root="gs://bucket/root")
    kubeflow = pc.KubeflowConfig(
        image="gcr.io/p/tfds-pipeline:1", trainer_gpus=2,
        metadata_url="mysql://mlmd@mysql:3306/metadb")
    path = tmp / "pipeline.yaml"
    kubeflow_runner.compile_package(config, kubeflow, str(path))
    with open(path, encoding="utf-8") as f:
        documents = list(yaml.safe_load_all(f))
    spec = pipeline_spec_pb2.PipelineSpec()
    # Strict: an unknown field raises.
    json_format.ParseDict(documents[0], spec, ignore_unknown_fields=False)
    return config, kubeflow, spec


def _tasks(spec):
    return {t.task_info.name: t for t in spec.root.dag.tasks.values()}


def _executor(spec, task):
    component = spec.components[task.component_ref.name]
    return spec.deployment_spec.fields["executors"].struct_value.fields[
        component.executor_label].struct_value.fields["container"] \
        .struct_value


def test_task_graph_equals_the_tfx_dag(compiled):
    config, _, spec = compiled
    expected = kubeflow_runner.dag(kubeflow_runner.compile_ir(config))
    tasks = _tasks(spec)
    names = {key: t.task_info.name for key, t in
             spec.root.dag.tasks.items()}
    assert set(tasks) == set(expected) == set(helpers.NODES)
    for node_id, task in tasks.items():
        assert sorted(names[d] for d in task.dependent_tasks) == \
            sorted(expected[node_id]), node_id


def test_trainer_has_accelerators_and_resources(compiled):
    _, kubeflow, spec = compiled
    resources = _executor(spec, _tasks(spec)["Trainer"]).fields[
        "resources"].struct_value.fields
    accelerator = resources["accelerator"].struct_value.fields
    assert accelerator["resourceType"].string_value == "nvidia.com/gpu"
    assert accelerator["resourceCount"].string_value == "2"
    assert resources["resourceCpuRequest"].string_value == \
        kubeflow.trainer_cpu
    assert resources["resourceMemoryLimit"].string_value == \
        kubeflow.trainer_memory
    other = _executor(spec, _tasks(spec)["Evaluator"]).fields[
        "resources"].struct_value.fields
    assert "accelerator" not in other


def test_tasks_retry_and_do_not_use_kfp_caching(compiled):
    _, _, spec = compiled
    for task in _tasks(spec).values():
        assert task.retry_policy.max_retry_count == 2
        assert not task.caching_options.enable_cache


def test_every_command_runs_an_importable_module_with_the_ir(compiled):
    config, kubeflow, spec = compiled
    for node_id, task in _tasks(spec).items():
        container = _executor(spec, task)
        command = [v.string_value for v in
                   container.fields["command"].list_value.values]
        assert command[:2] == ["python", "-m"]
        importlib.import_module(command[2])
        assert command[2] in sys.modules
        assert container.fields["image"].string_value == kubeflow.image
        args = [v.string_value for v in
                container.fields["args"].list_value.values]
        assert args[args.index("--node-id") + 1] == node_id
        assert args[args.index("--metadata") + 1] == kubeflow.metadata_url
        ir = node_entrypoint.decode_ir(args[args.index("--pipeline-ir") + 1])
        root = ir.runtime_spec.pipeline_root.runtime_parameter
        assert root.default_value.string_value == "gs://bucket/root"


def test_epochs_and_dataset_version_are_pipeline_parameters(compiled):
    config, _, spec = compiled
    parameters = spec.root.input_definitions.parameters
    assert set(parameters) == {"epochs", "dataset_version"}
    assert parameters["epochs"].default_value.number_value == \
        config.training.epochs
    run_ids = {t.inputs.parameters["run_id"].runtime_value.constant
               .string_value for t in _tasks(spec).values()}
    assert run_ids == {"{{$.pipeline_job_uuid}}"}


def test_bad_kubeflow_settings_are_named():
    with pytest.raises(pc.ConfigError, match="metadata URL 'http://x'"):
        pc.KubeflowConfig(image="img", metadata_url="http://x")
    with pytest.raises(pc.ConfigError, match="trainer GPUs .* got -1"):
        pc.KubeflowConfig(image="img", trainer_gpus=-1)
