"""The Kubeflow package: strict PipelineSpec, the TFX DAG, resources."""

import importlib
import json
import re
import sys

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

import pipeline_config as pc
from components.schema_importer import executor as schema_importer
from components.trainer import settings as trainer_settings
from pipeline import nodes
from pipeline.runners import kubeflow as kubeflow_runner
from pipeline.metadata import urls
from pipeline.runners import node_entrypoint
from pipeline.scheduling import deploy
from tests.pipeline import helpers


def _compile(tmp, kubeflow, root="gs://bucket/root",
             data_dir="gs://bucket/tfds"):
    """(config, spec, platform) of a package compiled for `kubeflow`,
    parsed strictly: an unknown field raises."""
    config = helpers.tiny_config(tmp / "out", data_dir)
    config = pc.dataclasses.replace(config, remote_root=root)
    path = tmp / "pipeline.yaml"
    kubeflow_runner.compile_package(config, kubeflow, str(path))
    documents = _documents(path)
    return config, _spec(documents), _platform(documents)


def _documents(path) -> list:
    """The YAML documents of the package at `path`."""
    with open(path, encoding="utf-8") as f:
        return list(yaml.safe_load_all(f))


def _spec(documents):
    """The package's PipelineSpec, parsed strictly."""
    spec = pipeline_spec_pb2.PipelineSpec()
    json_format.ParseDict(documents[0], spec, ignore_unknown_fields=False)
    return spec


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    kubeflow = pc.KubeflowConfig(
        image="gcr.io/p/tfds-pipeline:1", trainer_gpus=2,
        metadata_url="mysql://mlmd@mysql:3306/metadb",
        metadata_secret="mlmd-mysql:password",
        trainer_node_selector=(("cloud.google.com/gke-accelerator",
                                "nvidia-tesla-t4"),))
    config, spec, platform = _compile(tmp_path_factory.mktemp("kfp"),
                                      kubeflow)
    return config, kubeflow, spec, platform


def _platform(documents):
    """Executor label -> KubernetesExecutorConfig, parsed strictly."""
    from kfp.kubernetes import kubernetes_executor_config_pb2 as k8s  # pylint: disable=import-outside-toplevel
    executors = documents[1]["platforms"]["kubernetes"]["deploymentSpec"][
        "executors"]
    return {label: json_format.ParseDict(value, k8s.KubernetesExecutorConfig(),
                                         ignore_unknown_fields=False)
            for label, value in executors.items()}


def _root_tasks(spec):
    return {t.task_info.name: t for t in spec.root.dag.tasks.values()}


def _tasks(spec):
    """Task name -> task, inside the condition on the decision."""
    condition = _root_tasks(spec)["changed"]
    dag = spec.components[condition.component_ref.name].dag
    return {t.task_info.name: t for t in dag.tasks.values()}


def _node_ids(spec, task):
    """The TFX nodes a task runs, in its order."""
    args = _args(_executor(spec, task))
    return [args[i + 1] for i, arg in enumerate(args) if arg == "--node-id"]


def _task_of(spec, node_id):
    """The task that runs a TFX node."""
    [task] = [t for t in _tasks(spec).values()
              if node_id in _node_ids(spec, t)]
    return task


def _args(container):
    return [v.string_value for v in container.fields["args"].list_value.values]


def _executor(spec, task):
    component = spec.components[task.component_ref.name]
    return spec.deployment_spec.fields["executors"].struct_value.fields[
        component.executor_label].struct_value.fields["container"] \
        .struct_value


def test_four_tasks_run_every_tfx_node_after_its_upstream_nodes(compiled):
    """data (all the Trainer needs), train (the Trainer alone),
    validate-data beside it (what only the Evaluator waits for) and
    evaluate-and-push; each node once, after every node it depends on,
    whether in its own task (earlier in its list) or in one it waits for."""
    config, _, spec, _ = compiled
    expected = kubeflow_runner.dag(kubeflow_runner.compile_ir(config))
    tasks = _tasks(spec)
    groups = {name: _node_ids(spec, task) for name, task in tasks.items()}
    assert {name: set(ids) for name, ids in groups.items()} == {
        kubeflow_runner.DATA_TASK: {
            nodes.EXAMPLE_GEN, nodes.SCHEMA_IMPORTER, nodes.TRANSFORM},
        kubeflow_runner.VALIDATE_TASK: {
            nodes.STATISTICS_GEN, nodes.EXAMPLE_VALIDATOR},
        kubeflow_runner.TRAIN_TASK: {nodes.TRAINER},
        kubeflow_runner.EVALUATE_TASK: {
            nodes.BASELINE_RESOLVER, nodes.EVALUATOR,
            nodes.SERVING_VALIDATOR, nodes.PUSHER}}
    assert sorted(sum(groups.values(), [])) == sorted(helpers.NODES) \
        == sorted(expected)
    inner = spec.components[_root_tasks(spec)["changed"].component_ref.name]
    names = {key: t.task_info.name for key, t in inner.dag.tasks.items()}
    for name, task in tasks.items():
        waits_for = [names[d] for d in task.dependent_tasks]
        for position, node_id in enumerate(groups[name]):
            for upstream in expected[node_id]:
                assert upstream in groups[name][:position] or any(
                    upstream in groups[w] for w in waits_for), (node_id,
                                                               upstream)


def test_one_decide_task_gates_every_tfx_task(compiled):
    """The TFX tasks run only if the decide task's output says `run`."""
    _, kubeflow, spec, platform = compiled
    root = _root_tasks(spec)
    assert set(root) == {kubeflow_runner.DECIDE_TASK, "changed"}
    decide, changed = root[kubeflow_runner.DECIDE_TASK], root["changed"]
    decide_key = next(k for k, t in spec.root.dag.tasks.items()
                      if t.task_info.name == kubeflow_runner.DECIDE_TASK)
    assert list(changed.dependent_tasks) == [decide_key]
    [channel] = [name for name, value in changed.inputs.parameters.items()
                 if value.task_output_parameter.producer_task == decide_key]
    assert changed.inputs.parameters[channel].task_output_parameter \
        .output_parameter_key == "decision"
    assert changed.trigger_policy.condition == (
        f"inputs.parameter_values['{channel}'] == 'run'")
    container = _executor(spec, decide)
    command = [v.string_value for v in
               container.fields["command"].list_value.values]
    assert command == kubeflow_runner.DECIDE_ENTRYPOINT
    args = _args(container)
    assert args[args.index("--metadata") + 1] == kubeflow.metadata_url
    trainer_args = _args(_executor(spec, _task_of(spec, nodes.TRAINER)))
    assert args[args.index("--pipeline-ir") + 1] == \
        trainer_args[trainer_args.index("--pipeline-ir") + 1]
    assert not decide.caching_options.enable_cache
    outputs = spec.components[decide.component_ref.name].output_definitions
    assert set(outputs.parameters) == {"decision", "reason"}
    [secret] = platform[spec.components[decide.component_ref.name]
                        .executor_label].secret_as_env
    assert secret.secret_name == "mlmd-mysql"


def test_trainer_has_accelerators_and_resources(compiled):
    _, kubeflow, spec, platform = compiled
    resources = _executor(spec, _task_of(spec, nodes.TRAINER)).fields[
        "resources"].struct_value.fields
    accelerator = resources["accelerator"].struct_value.fields
    assert accelerator["resourceType"].string_value == "nvidia.com/gpu"
    assert accelerator["resourceCount"].string_value == "2"
    assert resources["resourceCpuRequest"].string_value == \
        kubeflow.trainer_cpu
    assert resources["resourceMemoryLimit"].string_value == \
        kubeflow.trainer_memory
    other = _executor(spec, _task_of(spec, nodes.EVALUATOR)).fields[
        "resources"].struct_value.fields
    assert "accelerator" not in other
    trainer = platform[spec.components[_task_of(spec, nodes.TRAINER).component_ref
                                       .name].executor_label]
    assert [(t.key, t.operator, t.effect) for t in trainer.tolerations] == [
        ("nvidia.com/gpu", "Exists", "NoSchedule")]
    assert dict(trainer.node_selector.labels) == {
        "cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}


def test_every_task_gets_the_mysql_password_from_the_secret(compiled):
    _, _, spec, platform = compiled
    for name, task in _tasks(spec).items():
        config = platform[spec.components[task.component_ref.name]
                          .executor_label]
        [secret] = config.secret_as_env
        assert secret.secret_name == "mlmd-mysql", name
        assert [(k.secret_key, k.env_var) for k in secret.key_to_env] == [
            ("password", urls.MYSQL_PASSWORD_ENV)]


def test_committed_schema_is_named_inside_the_installed_package(compiled):
    config, _, spec, _ = compiled
    container = _executor(spec, _task_of(spec, nodes.SCHEMA_IMPORTER))
    args = [v.string_value for v in container.fields["args"].list_value.values]
    ir = node_entrypoint.decode_ir(args[args.index("--pipeline-ir") + 1])
    [node] = [n.pipeline_node for n in ir.nodes
              if n.pipeline_node.node_info.id == nodes.SCHEMA_IMPORTER]
    schema = node.parameters.parameters["schema_file"].field_value
    assert schema.string_value == "schemas/fashion_mnist/schema.pbtxt"
    assert schema_importer.resolve(schema.string_value) == \
        config.schema_file


def test_a_schema_only_this_machine_has_is_refused_for_remote_runs(tmp_path):
    schema = tmp_path / "schema.pbtxt"
    schema.write_text("")
    with pytest.raises(pc.ConfigError, match="containers cannot read"):
        pc.PipelineConfig(output_dir=str(tmp_path), schema_path=str(schema),
                          remote_root="gs://bucket/root")
    remote = pc.PipelineConfig(output_dir=str(tmp_path),
                               schema_path="gs://bucket/schema.pbtxt",
                               remote_root="gs://bucket/root")
    assert remote.schema_import_path == "gs://bucket/schema.pbtxt"


def test_tpu_trainer_on_gke(tmp_path):
    _, spec, platform = _compile(tmp_path, pc.KubeflowConfig(
        image="img:1", trainer_tpus=4, tpu_type="tpu-v5-lite-podslice",
        tpu_topology="2x2"))
    trainer_task = _task_of(spec, nodes.TRAINER)
    accelerator = _executor(spec, trainer_task).fields["resources"] \
        .struct_value.fields["accelerator"].struct_value.fields
    assert accelerator["resourceType"].string_value == "google.com/tpu"
    assert accelerator["resourceCount"].string_value == "4"
    trainer = platform[
        spec.components[trainer_task.component_ref.name].executor_label]
    assert dict(trainer.node_selector.labels) == {
        "cloud.google.com/gke-tpu-accelerator": "tpu-v5-lite-podslice",
        "cloud.google.com/gke-tpu-topology": "2x2"}
    assert [t.key for t in trainer.tolerations] == ["google.com/tpu"]
    args = [v.string_value for v in _executor(spec, trainer_task).fields[
        "args"].list_value.values]
    ir = node_entrypoint.decode_ir(args[args.index("--pipeline-ir") + 1])
    [node] = [n.pipeline_node for n in ir.nodes
              if n.pipeline_node.node_info.id == nodes.TRAINER]
    custom = json.loads(node.parameters.parameters["custom_config"]
                        .field_value.string_value)
    assert trainer_settings.read(custom).tpu == "local"


def test_tasks_retry_and_do_not_use_kfp_caching(compiled):
    _, _, spec, _ = compiled
    for task in _tasks(spec).values():
        assert task.retry_policy.max_retry_count == 2
        assert not task.caching_options.enable_cache


def test_every_command_runs_an_importable_module_with_the_ir(compiled):
    config, kubeflow, spec, _ = compiled
    for name, task in _tasks(spec).items():
        container = _executor(spec, task)
        command = [v.string_value for v in
                   container.fields["command"].list_value.values]
        assert command[:2] == ["python", "-m"]
        importlib.import_module(command[2])
        assert command[2] in sys.modules
        assert container.fields["image"].string_value == kubeflow.image
        args = [v.string_value for v in
                container.fields["args"].list_value.values]
        assert _node_ids(spec, task) == kubeflow_runner.task_groups(
            kubeflow_runner.compile_ir(config))[name]
        assert args[args.index("--metadata") + 1] == kubeflow.metadata_url
        ir = node_entrypoint.decode_ir(args[args.index("--pipeline-ir") + 1])
        root = ir.runtime_spec.pipeline_root.runtime_parameter
        assert root.default_value.string_value == "gs://bucket/root"


def test_epochs_dataset_version_and_only_if_changed_are_parameters(
        compiled):
    config, _, spec, _ = compiled
    parameters = spec.root.input_definitions.parameters
    assert set(parameters) == {"epochs", "dataset_version",
                               deploy.ONLY_IF_CHANGED}
    assert parameters["epochs"].default_value.number_value == \
        config.training.epochs
    # A run started by hand runs; `schedule` asks for the check.
    assert parameters[deploy.ONLY_IF_CHANGED].default_value \
        .bool_value is False
    run_ids = {t.inputs.parameters["run_id"].runtime_value.constant
               .string_value for t in _tasks(spec).values()}
    assert run_ids == {"{{$.pipeline_job_uuid}}"}


def test_bad_kubeflow_settings_are_named():
    with pytest.raises(pc.ConfigError, match="metadata URL 'http://x'"):
        pc.KubeflowConfig(image="img", metadata_url="http://x")
    with pytest.raises(pc.ConfigError, match="trainer GPUs .* got -1"):
        pc.KubeflowConfig(image="img", trainer_gpus=-1)
    with pytest.raises(pc.ConfigError, match="GPUs or TPUs, not both"):
        pc.KubeflowConfig(image="img", trainer_gpus=1, trainer_tpus=4)
    with pytest.raises(pc.ConfigError, match="SECRET_NAME:KEY"):
        pc.KubeflowConfig(image="img", metadata_secret="mlmd-mysql")
    with pytest.raises(pc.ConfigError, match="topology '2by2'"):
        pc.KubeflowConfig(image="img", tpu_topology="2by2")


def test_every_task_mounts_the_volumes_its_paths_lie_on(tmp_path):
    """--volume: the claim is mounted into every task, decide included."""
    kubeflow = pc.KubeflowConfig(
        image="img:1", volumes=(("pipeline-data", "/data"),
                                ("datasets", "/datasets")))
    config, spec, platform = _compile(tmp_path, kubeflow, root="/data/root",
                                      data_dir="/datasets/tfds")
    tasks = dict(_tasks(spec), **{
        kubeflow_runner.DECIDE_TASK: _root_tasks(spec)[
            kubeflow_runner.DECIDE_TASK]})
    assert set(tasks) == {kubeflow_runner.DATA_TASK,
                          kubeflow_runner.VALIDATE_TASK,
                          kubeflow_runner.TRAIN_TASK,
                          kubeflow_runner.EVALUATE_TASK,
                          kubeflow_runner.DECIDE_TASK}
    for name, task in tasks.items():
        label = spec.components[task.component_ref.name].executor_label
        mounts = [(m.constant or m.pvc_name_parameter.runtime_value.constant
                   .string_value or m.pvc_name, m.mount_path)
                  for m in platform[label].pvc_mount]
        assert mounts == [("pipeline-data", "/data"),
                          ("datasets", "/datasets")], name
    serving = config.serving_dir
    assert kubeflow.volume_for(serving) == ("pipeline-data", "/data")


@pytest.mark.parametrize("root,data_dir,flag,path", [
    ("/elsewhere/root", "/data/tfds", "--pipeline-root", "/elsewhere/root"),
    ("/data/root", "/mnt/tfds", "--tfds-data-dir", "/mnt/tfds"),
    # A path that merely starts with the mount path's text is not under it.
    ("/data2/root", "/data/tfds", "--pipeline-root", "/data2/root"),
])
def test_a_local_path_on_no_volume_is_refused(tmp_path, root, data_dir, flag,
                                              path):
    kubeflow = pc.KubeflowConfig(image="img:1",
                                 volumes=(("pipeline-data", "/data"),))
    config = pc.dataclasses.replace(
        helpers.tiny_config(tmp_path / "out", data_dir), remote_root=root)
    with pytest.raises(pc.ConfigError) as error:
        kubeflow_runner.compile_package(config, kubeflow,
                                        str(tmp_path / "p.yaml"))
    message = str(error.value)
    assert f"{flag} {path} lies on no volume" in message
    assert "pipeline-data:/data" in message and "--volume PVC_NAME:" in message
    assert not (tmp_path / "p.yaml").exists()


def test_uris_need_no_volume(tmp_path):
    config = pc.dataclasses.replace(
        helpers.tiny_config(tmp_path / "out", "gs://bucket/tfds"),
        remote_root="s3://bucket/root")
    kubeflow_runner.check_paths(config, pc.KubeflowConfig(image="img:1"))


@pytest.mark.parametrize("volumes,words", [
    ((("Pipeline_Data", "/data"),), "is not a PersistentVolumeClaim name"),
    ((("data", "relative"),), "absolute, normalized path"),
    ((("data", "/data/../x"),), "absolute, normalized path"),
    ((("data", "/"),), "absolute, normalized path"),
    ((("a", "/data"), ("b", "/data")), "mount at the same path"),
])
def test_bad_volumes_are_named(volumes, words):
    with pytest.raises(pc.ConfigError, match=words):
        pc.KubeflowConfig(image="img:1", volumes=volumes)


def test_compile_cli_refuses_a_root_on_no_volume(tmp_path):
    result = helpers.run_cli([
        sys.executable, "-m", "pipeline", "compile", "--target", "kubeflow",
        "--output", str(tmp_path / "p.yaml"), "--image", "img:1",
        "--pipeline-root", "/srv/root", "--volume", "pipeline-data:/data"])
    assert result.returncode == 2
    assert ("--pipeline-root /srv/root lies on no volume the tasks mount "
            "(mounted: pipeline-data:/data): add --volume PVC_NAME:/srv"
            in result.stderr)
    bad = helpers.run_cli([
        sys.executable, "-m", "pipeline", "compile", "--target", "kubeflow",
        "--output", str(tmp_path / "p.yaml"), "--image", "img:1",
        "--pipeline-root", "/data/root", "--volume", "pipeline-data"])
    assert "volume 'pipeline-data' is not PVC_NAME:/MOUNT/PATH" in bad.stderr


def test_every_task_gets_the_s3_endpoint_and_the_credentials_secret(
        tmp_path):
    kubeflow = pc.KubeflowConfig(
        image="img:1", s3_endpoint="http://minio-service.kubeflow:9000",
        s3_secret="mlpipeline-minio-artifact")
    _, spec, platform = _compile(tmp_path, kubeflow,
                                 root="s3://mlpipeline/tfds-pipeline")
    tasks = dict(_tasks(spec), **{
        kubeflow_runner.DECIDE_TASK: _root_tasks(spec)[
            kubeflow_runner.DECIDE_TASK]})
    for name, task in tasks.items():
        container = _executor(spec, task)
        env = {e.struct_value.fields["name"].string_value:
               e.struct_value.fields["value"].string_value
               for e in container.fields["env"].list_value.values}
        assert env == {"AWS_ENDPOINT_URL":
                       "http://minio-service.kubeflow:9000"}, name
        label = spec.components[task.component_ref.name].executor_label
        [secret] = platform[label].secret_as_env
        assert secret.secret_name == "mlpipeline-minio-artifact"
        assert {(k.secret_key, k.env_var) for k in secret.key_to_env} == {
            ("accesskey", "AWS_ACCESS_KEY_ID"),
            ("secretkey", "AWS_SECRET_ACCESS_KEY")}


@pytest.mark.parametrize("field,value,words", [
    ("s3_endpoint", "minio:9000", "is not http(s)://host"),
    ("s3_endpoint", "http://user:pw@minio:9000", "is not http(s)://host"),
    ("s3_secret", "creds:onlyone", "is not SECRET_NAME or"),
])
def test_bad_s3_settings_are_named(field, value, words):
    with pytest.raises(pc.ConfigError, match=re.escape(words)):
        pc.KubeflowConfig(image="img:1", **{field: value})


def test_a_relative_local_path_is_refused(tmp_path):
    kubeflow = pc.KubeflowConfig(image="img:1",
                                 volumes=(("pipeline-data", "/data"),))
    config = pc.dataclasses.replace(
        helpers.tiny_config(tmp_path / "out", "datasets/tfds"),
        remote_root="/data/root")
    with pytest.raises(pc.ConfigError,
                       match="--tfds-data-dir datasets/tfds is a relative "
                             "path"):
        kubeflow_runner.check_paths(config, kubeflow)


def _beam_args(spec) -> dict:
    """TFX node id -> the Beam args its task's IR gives it (Beam nodes
    only)."""
    from tfx.proto.orchestration import executable_spec_pb2  # pylint: disable=import-outside-toplevel
    from tfx.proto.orchestration import pipeline_pb2  # pylint: disable=import-outside-toplevel
    found = {}
    for task in _tasks(spec).values():
        args = _args(_executor(spec, task))
        ir = node_entrypoint.decode_ir(args[args.index("--pipeline-ir") + 1])
        deployment = pipeline_pb2.IntermediateDeploymentConfig()
        ir.deployment_config.Unpack(deployment)
        for node_id in _node_ids(spec, task):
            executor = deployment.executor_specs[node_id]
            if executor.Is(
                    executable_spec_pb2.BeamExecutableSpec.DESCRIPTOR):
                beam = executable_spec_pb2.BeamExecutableSpec()
                executor.Unpack(beam)
                found[node_id] = list(beam.beam_pipeline_args)
    return found


def test_every_beam_task_carries_the_flink_settings(tmp_path):
    """Compiled with the flags a local run takes, every Beam task runs its
    steps on the Flink cluster, the SDK workers in the worker pools beside
    the TaskManagers, through the job server beside the cluster (the image
    has no Java to start one); without that job server, one message."""
    result = helpers.run_cli([
        sys.executable, "-m", "pipeline", "compile", "--target", "kubeflow",
        "--output", str(tmp_path / "p.yaml"), "--image", "reg.example/img:1",
        "--pipeline-root", "gs://bucket/root",
        "--dataset", "mnist", "--beam-runner", "flink",
        "--flink-master", "flink-jobmanager:8081", "--flink-parallelism", "4",
        "--flink-worker-pool", "localhost:50000",
        "--flink-job-endpoint", "beam-flink-job-server:8099"])
    assert result.returncode == 0, result.stderr[-3000:]
    spec = _spec(_documents(tmp_path / "p.yaml"))
    beam = _beam_args(spec)
    assert set(beam) == {nodes.EXAMPLE_GEN, nodes.STATISTICS_GEN,
                         nodes.TRANSFORM, nodes.EVALUATOR}
    for args in beam.values():
        assert args == [
            "--runner=PortableRunner",
            "--job_endpoint=beam-flink-job-server:8099",
            "--flink_master=flink-jobmanager:8081",
            "--environment_type=EXTERNAL",
            "--environment_config=localhost:50000", "--parallelism=4",
            "--sdk_container_image=reg.example/img:1"]
    without = helpers.run_cli([
        sys.executable, "-m", "pipeline", "compile", "--target", "kubeflow",
        "--output", str(tmp_path / "q.yaml"), "--image", "reg.example/img:1",
        "--pipeline-root", "gs://bucket/root", "--dataset", "mnist",
        "--beam-runner", "flink", "--flink-master", "flink-jobmanager:8081",
        "--flink-worker-pool", "localhost:50000"])
    assert without.returncode == 2
    assert ("--beam-runner flink in a compiled package needs "
            "--flink-job-endpoint HOST:PORT") in without.stderr
    assert "Traceback" not in without.stderr
    assert not (tmp_path / "q.yaml").exists()


def test_a_trainer_with_workers_waits_small_and_its_tfjob_gets_the_gpus(
        tmp_path):
    kubeflow = pc.KubeflowConfig(image="gcr.io/p/tfds-pipeline:1",
                                 trainer_gpus=2, trainer_memory="32G")
    config = helpers.tiny_config(tmp_path / "out", "gs://bucket/tfds")
    config = pc.dataclasses.replace(
        config, remote_root="gs://bucket/root",
        training=pc.dataclasses.replace(config.training, workers=2))
    path = tmp_path / "pipeline.yaml"
    kubeflow_runner.compile_package(config, kubeflow, str(path))
    spec = _spec(_documents(path))
    resources = _executor(spec, _task_of(spec, nodes.TRAINER)).fields[
        "resources"].struct_value.fields
    assert "accelerator" not in resources
    assert resources["resourceMemoryLimit"].string_value == \
        kubeflow.memory_limit
    pod = kubeflow_runner.tfjob_pod(kubeflow)
    assert pod["spec"]["containers"][0]["resources"]["limits"] == {
        "cpu": kubeflow.trainer_cpu, "memory": "32G", "nvidia.com/gpu": "2"}


def test_flink_for_a_package_needs_the_worker_pools(tmp_path):
    result = helpers.run_cli([
        sys.executable, "-m", "pipeline", "compile", "--target", "kubeflow",
        "--output", str(tmp_path / "p.yaml"), "--image", "img:1",
        "--pipeline-root", "gs://bucket/root", "--beam-runner", "flink",
        "--flink-master", "flink-jobmanager:8081"])
    assert result.returncode == 2
    assert ("--beam-runner flink for a compiled package needs "
            "--flink-worker-pool HOST:PORT") in result.stderr
    assert not (tmp_path / "p.yaml").exists()
