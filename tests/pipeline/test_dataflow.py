"""The Beam steps on Dataflow, checked offline: TFX's own StatisticsGen
executor builds its Dataflow job with the Beam args `--beam-runner
dataflow` gives, through Beam's `--dry_run=True`, which builds the job and
returns instead of submitting it. No GCP project was reached; whether
Dataflow accepts and runs the job is not proven here (docs/beam-runners.md).
"""

import os

import pytest
import tensorflow as tf

import pipeline_config as pc

pytestmark = pytest.mark.slow

IMAGE = "europe-docker.pkg.dev/my-project/repo/tfds-pipeline:1"


def _examples(tmp_path):
    """A two-split Examples artifact of a few image records."""
    from tfx.types import standard_artifacts  # pylint: disable=import-outside-toplevel
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    examples.split_names = '["train", "eval"]'
    for split in ("train", "eval"):
        os.makedirs(os.path.join(examples.uri, f"Split-{split}"))
        path = os.path.join(examples.uri, f"Split-{split}", "data_tfrecord")
        with tf.io.TFRecordWriter(path) as writer:
            for label in range(4):
                features = {
                    "image": tf.train.Feature(bytes_list=tf.train.BytesList(
                        value=[bytes([label]) * 784])),
                    "label": tf.train.Feature(
                        int64_list=tf.train.Int64List(value=[label]))}
                writer.write(tf.train.Example(features=tf.train.Features(
                    feature=features)).SerializeToString())
    return examples


def test_statistics_gen_builds_its_dataflow_job_with_the_image(
        tmp_path, monkeypatch):
    from apache_beam.runners.dataflow import dataflow_runner  # pylint: disable=import-outside-toplevel
    from apache_beam.portability import common_urns  # pylint: disable=import-outside-toplevel
    from apache_beam.portability.api import beam_runner_api_pb2  # pylint: disable=import-outside-toplevel
    from tfx.components.statistics_gen import executor as statistics_gen  # pylint: disable=import-outside-toplevel
    from tfx.dsl.components.base import base_beam_executor  # pylint: disable=import-outside-toplevel
    from tfx.types import standard_artifacts  # pylint: disable=import-outside-toplevel
    from tfx.utils import dependency_utils  # pylint: disable=import-outside-toplevel

    beam = pc.BeamConfig(
        runner="dataflow", dataflow_project="my-project",
        dataflow_region="europe-west4",
        dataflow_temp_location="gs://my-bucket/tmp", worker_image=IMAGE,
        # Beam's offline job build; no credentials to look for.
        extra_args=("--dry_run=True", "--no_auth"))
    # What a compiled package's Beam task gets.
    args = beam.pipeline_args(pc.IMAGE_SETUP_FILE, in_image=True)

    jobs, sdists = [], []
    run_pipeline = dataflow_runner.DataflowRunner.run_pipeline

    def recording_run(runner, pipeline, options):
        result = run_pipeline(runner, pipeline, options)
        jobs.append(result.job)
        return result

    monkeypatch.setattr(dataflow_runner.DataflowRunner, "run_pipeline",
                        recording_run)
    monkeypatch.setattr(dependency_utils, "build_ephemeral_package",
                        lambda: sdists.append("built") or "/tmp/tfx.tar.gz")
    statistics = standard_artifacts.ExampleStatistics()
    statistics.uri = str(tmp_path / "statistics")
    statistics_gen.Executor(base_beam_executor.BaseBeamExecutor.Context(
        beam_pipeline_args=args, tmp_dir=str(tmp_path / "tmp"),
        unique_id="1")).Do(
            {"examples": [_examples(tmp_path)]},
            {"statistics": [statistics]}, {"exclude_splits": "[]"})

    # TFX built no throw-away sdist of itself: the image has the code.
    assert sdists == []
    [job] = jobs
    options = job.options.get_all_options()
    assert options["runner"] == "DataflowRunner"
    assert (options["project"], options["region"]) == ("my-project",
                                                        "europe-west4")
    # Beam gives each job a folder of its own under the temp location.
    assert options["temp_location"].startswith("gs://my-bucket/tmp/")
    assert options["sdk_container_image"] == IMAGE
    assert options["sdk_location"] == "container"
    assert not options["setup_file"] and not options["extra_packages"]
    # Every step's environment is the image, as Docker environments.
    environments = job.proto_pipeline.components.environments
    assert environments
    for environment in environments.values():
        assert environment.urn == common_urns.environments.DOCKER.urn
        payload = beam_runner_api_pb2.DockerPayload.FromString(
            environment.payload)
        assert payload.container_image == IMAGE
    # The job computes statistics of both splits.
    names = {t.unique_name
             for t in job.proto_pipeline.components.transforms.values()}
    assert any("train" in name for name in names)
    assert any("eval" in name for name in names)
