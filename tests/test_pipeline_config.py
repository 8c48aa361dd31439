"""Config validation: defaults work, bad values get messages naming them."""

import dataclasses
import os
import re

import pytest

import pipeline_config as pc


def test_defaults_are_valid_and_derive_locations(tmp_path):
    config = pc.PipelineConfig(output_dir=str(tmp_path / "out"))
    assert config.training.epochs == 5
    assert config.training.batch_size_per_replica == 64
    assert config.pipeline_root == str(tmp_path / "out" / "pipeline_root")
    assert config.metadata_path == str(tmp_path / "out" / "metadata.sqlite")
    assert config.serving_dir == str(tmp_path / "out" / "serving")
    assert config.summary_path == str(tmp_path / "out" / "last_run.json")
    assert config.name == "fashion-mnist-classifier"
    assert os.path.isfile(config.schema_file)
    assert config.dataset.splits == {"train": "train", "eval": "test"}


def test_output_dir_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert pc.PipelineConfig(output_dir="rel").output_dir == str(
        tmp_path / "rel")


def test_tfds_name_includes_config_and_version():
    dataset = pc.DatasetConfig(name="tiny_images", config="clean",
                               version="1.0.0")
    assert dataset.tfds_name == "tiny_images/clean:1.0.0"


@pytest.mark.parametrize("field,value,words", [
    ("epochs", 0, "epochs must be a positive whole number, got 0"),
    ("epochs", -3, "got -3"),
    ("batch_size_per_replica", 0, "batch size per replica"),
    ("cpu_replicas", 0, "cpu replicas"),
])
def test_training_rejects_non_positive(field, value, words):
    with pytest.raises(pc.ConfigError, match=words):
        pc.TrainingConfig(**{field: value})


def test_shuffle_buffer_zero_means_seed_order():
    assert pc.TrainingConfig().shuffle_buffer == 0
    with pytest.raises(pc.ConfigError, match="shuffle buffer .* got -5"):
        pc.TrainingConfig(shuffle_buffer=-5)


@pytest.mark.parametrize("field, value, message", [
    ("validate_every", -1, "validate every must be 0 .* got -1"),
    ("validate_every", True, "validate every must be 0 .* got True"),
    ("steps_per_execution", 0, "steps per execution must be a positive"),
    ("cache_budget_mib", -1, "cache budget must be 0 .* got -1"),
])
def test_training_performance_settings(field, value, message):
    with pytest.raises(pc.ConfigError, match=message):
        pc.TrainingConfig(**{field: value})


def test_seed_must_be_non_negative():
    assert pc.TrainingConfig().seed == 0
    with pytest.raises(pc.ConfigError, match="seed must be .* got -1"):
        pc.TrainingConfig(seed=-1)


def test_bad_dataset_name_and_version():
    with pytest.raises(pc.ConfigError, match="'Fashion MNIST' is not a TFDS"):
        pc.DatasetConfig(name="Fashion MNIST")
    with pytest.raises(pc.ConfigError, match="'3.0' is not of the form"):
        pc.DatasetConfig(version="3.0")


def test_missing_manual_dir(tmp_path):
    dataset = pc.DatasetConfig(manual_dir=str(tmp_path / "nowhere"))
    with pytest.raises(pc.ConfigError, match="manual dir .*nowhere.* is not"):
        pc.PipelineConfig(output_dir=str(tmp_path / "out"), dataset=dataset)


def test_a_compiled_pipeline_checks_no_local_paths(tmp_path):
    """Its tasks read the manual dir and write the pipeline root in their
    own containers: this machine's files say nothing about them."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    config = pc.PipelineConfig(
        output_dir=str(blocker / "out"), remote_root="gs://bucket/root",
        dataset=pc.DatasetConfig(manual_dir="/mnt/datasets/fashion_mnist"))
    assert config.pipeline_root == "gs://bucket/root"
    assert config.serving_dir == "gs://bucket/root/serving"


def test_compiled_metadata_url_has_no_password():
    with pytest.raises(pc.ConfigError, match="--metadata-secret") as error:
        pc.KubeflowConfig(image="img",
                          metadata_url="mysql://mlmd:hunter2@db/metadb")
    assert "hunter2" not in str(error.value)
    with pytest.raises(pc.ConfigError, match="a file on this machine"):
        pc.KubeflowConfig(image="img", metadata_url="sqlite:///tmp/m.db")


def test_thresholds_in_range():
    with pytest.raises(pc.ConfigError, match="minimum accuracy.*1.5"):
        pc.EvaluationConfig(min_accuracy=1.5)
    with pytest.raises(pc.ConfigError, match="max accuracy drop.*-0.1"):
        pc.EvaluationConfig(max_accuracy_drop=-0.1)


def test_beam_settings():
    beam = pc.BeamConfig(direct_num_workers=2,
                         direct_running_mode="multi_processing",
                         extra_args=("--foo=1",))
    assert beam.pipeline_args() == [
        "--runner=DirectRunner", "--direct_num_workers=2",
        "--direct_running_mode=multi_processing", "--foo=1"]
    assert beam.pipeline_args("/src/setup.py")[-1] == (
        "--setup_file=/src/setup.py")
    with pytest.raises(pc.ConfigError, match="running mode 'fast'"):
        pc.BeamConfig(direct_running_mode="fast")


def test_the_image_has_setup_py_where_beam_is_told():
    with open(os.path.join(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))), "Dockerfile"), encoding="utf-8") as f:
        dockerfile = f.read()
    assert f"WORKDIR {os.path.dirname(pc.IMAGE_SETUP_FILE)}\n" in dockerfile
    assert re.search(r"^COPY [^\n]*\bsetup\.py\b[^\n]* \./$", dockerfile,
                     re.MULTILINE)


@pytest.mark.parametrize("flag", [
    "--setup_file=/mine/setup.py", "--extra_package=/x.tar.gz",
    "--extra_packages=/x.tar.gz", "--sdk_container_image=gcr.io/p/i"])
def test_beam_keeps_the_users_own_dependency_flag(flag):
    args = pc.BeamConfig(extra_args=(flag,)).pipeline_args("/src/setup.py")
    assert args[-1] == flag
    assert "--setup_file=/src/setup.py" not in args


def test_output_dir_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(pc.ConfigError, match="cannot be created"):
        pc.PipelineConfig(output_dir=str(blocker / "out"))


def test_output_dir_that_is_a_file(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(pc.ConfigError, match="not a writable directory"):
        pc.PipelineConfig(output_dir=str(path))


def test_beam_on_flink_loopback_and_external():
    loopback = pc.BeamConfig(runner="flink", flink_master="jm:8081")
    assert loopback.pipeline_args("/src/setup.py") == [
        "--runner=FlinkRunner",
        f"--flink_job_server_jar={pc.FLINK_JOB_SERVER_JAR}",
        "--flink_master=jm:8081", "--environment_type=LOOPBACK",
        "--setup_file=/src/setup.py"]
    external = pc.BeamConfig(
        runner="flink", flink_master="jm:8081", parallelism=4,
        flink_job_server_jar="/jars/js.jar", flink_worker_pool="localhost:50000",
        worker_image="registry.example/tfds-pipeline:1")
    # The workers' code is the image's: nothing is staged (no setup.py, no
    # TFX sdist, which TFX builds only when no such flag is there).
    assert external.pipeline_args("/src/setup.py") == [
        "--runner=FlinkRunner", "--flink_job_server_jar=/jars/js.jar",
        "--flink_master=jm:8081", "--environment_type=EXTERNAL",
        "--environment_config=localhost:50000", "--parallelism=4",
        "--sdk_container_image=registry.example/tfds-pipeline:1"]


def test_beam_on_flink_through_a_running_job_server():
    beam = pc.BeamConfig(
        runner="flink", flink_master="jm:8081",
        flink_job_endpoint="beam-job-server:8099",
        flink_worker_pool="localhost:50000", worker_image="img:1")
    expected = [
        "--runner=PortableRunner", "--job_endpoint=beam-job-server:8099",
        "--flink_master=jm:8081", "--environment_type=EXTERNAL",
        "--environment_config=localhost:50000", "--sdk_container_image=img:1"]
    assert beam.pipeline_args("/src/setup.py") == expected
    # What a compiled package's tasks get: the same, no jar, no Java.
    assert beam.pipeline_args(pc.IMAGE_SETUP_FILE, in_image=True) == expected


def test_a_compiled_package_on_flink_needs_a_running_job_server():
    beam = pc.BeamConfig(runner="flink", flink_master="jm:8081",
                         flink_worker_pool="localhost:50000",
                         worker_image="img:1")
    with pytest.raises(pc.ConfigError, match=(
            "in a compiled package needs --flink-job-endpoint HOST:PORT.*"
            "the image has no Java")):
        beam.pipeline_args(pc.IMAGE_SETUP_FILE, in_image=True)
    # A jar the user's own image holds is theirs to name.
    jar = dataclasses.replace(beam, flink_job_server_jar="/opt/js.jar")
    assert "--flink_job_server_jar=/opt/js.jar" in jar.pipeline_args(
        pc.IMAGE_SETUP_FILE, in_image=True)


def test_dataflow_needs_the_data_and_the_root_on_cloud_storage(tmp_path):
    beam = pc.BeamConfig(runner="dataflow", dataflow_project="p",
                         dataflow_region="r",
                         dataflow_temp_location="gs://b/t",
                         worker_image="img:1")
    on_gcs = pc.DatasetConfig(data_dir="gs://b/tfds")
    pc.PipelineConfig(output_dir=str(tmp_path), remote_root="gs://b/root",
                      dataset=on_gcs, beam=beam)
    with pytest.raises(pc.ConfigError, match=(
            r"needs the TFDS data dir \(--tfds-data-dir\) on Cloud Storage, "
            r"got '/data/tfds'")):
        pc.PipelineConfig(output_dir=str(tmp_path), remote_root="gs://b/root",
                          dataset=pc.DatasetConfig(data_dir="/data/tfds"),
                          beam=beam)
    with pytest.raises(pc.ConfigError, match=(
            r"needs the pipeline root \(--pipeline-root\) on Cloud Storage, "
            r"got '.*/pipeline_root'")):
        pc.PipelineConfig(output_dir=str(tmp_path), dataset=on_gcs, beam=beam)


def test_beam_on_dataflow():
    beam = pc.BeamConfig(runner="dataflow", dataflow_project="p",
                         dataflow_region="europe-west4",
                         dataflow_temp_location="gs://b/tmp",
                         worker_image="europe-docker.pkg.dev/p/r/img:1")
    assert beam.pipeline_args("/src/setup.py") == [
        "--runner=DataflowRunner", "--project=p", "--region=europe-west4",
        "--temp_location=gs://b/tmp", "--sdk_location=container",
        "--sdk_container_image=europe-docker.pkg.dev/p/r/img:1"]


@pytest.mark.parametrize("settings, words", [
    (dict(runner="spark"), "Beam runner 'spark' is unknown"),
    (dict(flink_master="jm:8081"),
     "--flink-master is a setting of --beam-runner flink"),
    (dict(runner="flink"), "needs --flink-master HOST:PORT"),
    (dict(runner="flink", flink_master="http://jm"), "is not HOST:PORT"),
    (dict(runner="flink", flink_master="jm:1", flink_job_endpoint="js"),
     "--flink-job-endpoint 'js' is not HOST:PORT"),
    (dict(runner="flink", flink_master="jm:1", flink_job_endpoint="js:1",
          flink_job_server_jar="/js.jar"),
     "--flink-job-endpoint and --flink-job-server-jar are two ways"),
    (dict(flink_job_endpoint="js:1"),
     "--flink-job-endpoint is a setting of --beam-runner flink"),
    (dict(runner="flink", flink_master="jm:1", flink_worker_pool="w:2"),
     "--flink-worker-pool and --beam-worker-image go together"),
    (dict(runner="flink", flink_master="jm:1", parallelism=-1),
     "parallelism must be 0"),
    (dict(parallelism=2),
     "--flink-parallelism is a setting of --beam-runner flink"),
    (dict(worker_image="img"), "the DirectRunner runs in this process"),
    (dict(runner="dataflow", dataflow_project="p", dataflow_region="r",
          worker_image="i"), "needs --dataflow-temp-location"),
    (dict(runner="dataflow", dataflow_project="p", dataflow_region="r",
          dataflow_temp_location="/tmp/x", worker_image="i"),
     "is not a gs:// URI"),
    (dict(runner="dataflow", dataflow_project="p", dataflow_region="r",
          dataflow_temp_location="gs://b/t"), "needs --beam-worker-image"),
    (dict(runner="dataflow", dataflow_project="p", dataflow_region="r",
          dataflow_temp_location="gs://b/t", worker_image="i",
          flink_master="jm:1"),
     "--flink-master is a setting of --beam-runner flink"),
])
def test_bad_beam_runner_settings_are_named(settings, words):
    with pytest.raises(pc.ConfigError, match=re.escape(words)):
        pc.BeamConfig(**settings)


def test_the_users_own_worker_image_flag_wins():
    beam = pc.BeamConfig(runner="flink", flink_master="jm:8081",
                         flink_worker_pool="localhost:50000",
                         worker_image="img:1",
                         extra_args=("--sdk_container_image=mine:2",))
    args = beam.pipeline_args("/src/setup.py")
    assert [a for a in args if a.startswith("--sdk_container_image")] == [
        "--sdk_container_image=mine:2"]
