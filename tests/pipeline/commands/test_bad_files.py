"""Every option that names a file or a URL, given something malformed:
one clear message naming it and a non-zero exit, never a traceback, and
nothing written. Runs the commands in-process (click's test runner), except
`run`, whose console handling is checked as users meet it."""

import gzip
import sys

import pytest
from click.testing import CliRunner

from pipeline import nodes
from pipeline.cli import cli
from pipeline.runners import node_entrypoint
from tests.conftest import SCHEMA
from tests.pipeline import helpers

TINY = ["--dataset", "tiny_images", "--dataset-config", "clean"]


@pytest.fixture
def bad(tmp_path):
    """Malformed files of every kind the options take."""
    files = {
        "garbage_schema": "feature { name: 'image' type: BYTES",
        "schema_without_image": "feature { name: 'label' type: INT }",
        "schema_bad_shape": (
            "feature { name: 'image' type: BYTES "
            "annotation { tag: 'image_shape:28xtwox1' } }\n"
            "feature { name: 'label' type: INT "
            "int_domain { min: 0 max: 9 } }"),
        "bad_yaml": "pipelineInfo: [1\n",
        "scalar_yaml": "just a string\n",
        "not_ir": "this is not an IR\n",
    }
    paths = {}
    for name, text in files.items():
        path = tmp_path / name
        path.write_text(text)
        paths[name] = str(path)
    (tmp_path / "binary").write_bytes(b"\xff\xfe\x00\x81" * 64)
    paths["binary"] = str(tmp_path / "binary")
    (tmp_path / "a_dir").mkdir()
    paths["dir"] = str(tmp_path / "a_dir")
    paths["missing"] = str(tmp_path / "missing" / "file")
    return paths


def _invoke(*args):
    result = CliRunner().invoke(cli, list(args))
    # An exception click did not turn into a message is a traceback.
    assert isinstance(result.exception, SystemExit), (
        result.output, result.exception)
    assert result.exit_code in (1, 2), result.output
    assert "Traceback" not in result.output
    return result.output


@pytest.mark.parametrize("schema,words", [
    ("garbage_schema", "is not a text-format TFMD Schema"),
    ("schema_without_image", "schema has no feature 'image'"),
    ("schema_bad_shape", "'image_shape:28xtwox1', which is not"),
    ("binary", "cannot read schema"),
    ("dir", "is a directory"),
])
def test_run_with_a_malformed_schema(tmp_path, tfds_data_dir, bad, schema,
                                     words):
    result = helpers.run_cli([
        sys.executable, "-m", "pipeline", "run", "--output-dir",
        str(tmp_path / "out"), *TINY, "--tfds-data-dir", tfds_data_dir,
        "--schema", bad[schema]])
    assert result.returncode == 1
    assert words in result.stderr and bad[schema] in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "pipeline_root").exists()


def test_once_if_changed_with_a_malformed_schema(tmp_path, tfds_data_dir,
                                                 bad):
    output = _invoke("schedule", "--target", "local", "--once-if-changed",
                     "--output-dir", str(tmp_path / "out"), *TINY,
                     "--tfds-data-dir", tfds_data_dir,
                     "--schema", bad["garbage_schema"])
    assert "is not a text-format TFMD Schema" in output


def test_a_data_dir_that_is_a_file(tmp_path, bad):
    output = _invoke("run", "--output-dir", str(tmp_path / "out"),
                     "--tfds-data-dir", bad["scalar_yaml"])
    assert "TFDS data dir" in output and "is not a directory" in output


def test_a_manual_dir_with_damaged_files(tmp_path):
    """Fashion-MNIST's four file names, with content that is not theirs."""
    manual = tmp_path / "manual"
    manual.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (manual / name).write_bytes(gzip.compress(b"not the data"))
    output = _invoke("schedule", "--target", "local", "--once-if-changed",
                     "--output-dir", str(tmp_path / "out"),
                     "--tfds-data-dir", str(tmp_path / "tfds"),
                     "--tfds-manual-dir", str(manual))
    assert f"from manual dir '{manual}'" in output
    assert "official source files" in output


@pytest.mark.parametrize("where,words", [
    ("missing", "does not exist; create it first"),
    ("dir", "is a directory"),
    ("binary", "a Kubeflow package is YAML"),
])
def test_compile_output_that_cannot_be_written(bad, where, words):
    output = _invoke("compile", "--target", "kubeflow", "--output",
                     bad[where], "--image", "img", "--pipeline-root",
                     "gs://b/r")
    assert words in output


@pytest.mark.parametrize("package,words", [
    ("missing", "does not exist"),
    ("dir", "is a directory"),
    ("bad_yaml", "is not a pipeline package"),
    ("scalar_yaml", "is not a compiled pipeline"),
    ("binary", "is not a pipeline package"),
    ("garbage_schema", "is not a"),
])
@pytest.mark.parametrize("target", ["kubeflow", "vertex"])
def test_deploy_a_malformed_package(bad, package, words, target):
    where = (["--host", "http://127.0.0.1:9"] if target == "kubeflow"
             else ["--project", "p"])
    output = _invoke("deploy", "--target", target, "--package", bad[package],
                     *where)
    assert words in output


@pytest.mark.parametrize("command", ["runs", "models"])
@pytest.mark.parametrize("store,words", [
    ("binary", "file is not a database"),
    ("scalar_yaml", "file is not a database"),
    ("dir", "nothing has run there yet"),
    ("missing", "nothing has run there yet"),
])
def test_history_of_a_file_that_is_not_a_store(bad, command, store, words):
    output = _invoke(command, "--metadata", f"sqlite://{bad[store]}")
    assert words in output


@pytest.mark.parametrize("url,words", [
    ("sqlite://relative", "three slashes"),
    ("mysql://u:pw@host:port/db", "port that is not a number"),
    ("postgres://h/db", "has scheme 'postgres'"),
])
def test_history_of_a_malformed_url(url, words):
    output = _invoke("runs", "--metadata", url)
    assert words in output and "pw" not in output


@pytest.mark.parametrize("where,words", [
    ("dir", "Is a directory"),
    ("scalar_yaml", "File exists"),
])
def test_infer_schema_output_that_cannot_be_written(tfds_data_dir, bad,
                                                    where, words):
    target = bad[where] if where == "dir" else bad[where] + "/schema.pbtxt"
    output = _invoke("infer-schema", "--dataset", "tiny_images/clean",
                     "--tfds-data-dir", tfds_data_dir, "--output", target)
    assert "cannot write the schema" in output and words in output


@pytest.mark.parametrize("args,words", [
    (["--pipeline-ir-file", "not_ir"], "is not a compiled pipeline"),
    (["--pipeline-ir-file", "binary"], "cannot read --pipeline-ir-file"),
    (["--pipeline-ir-file", "missing"], "cannot read --pipeline-ir-file"),
    (["--pipeline-ir", "bm90IGFuIElS"], "is not a compiled pipeline"),
])
def test_node_entrypoint_with_a_malformed_ir(tmp_path, bad, args, words):
    option, value = args
    result = CliRunner().invoke(node_entrypoint.main, [
        option, bad.get(value, value), "--node-id", nodes.TRAINER,
        "--run-id", "r", "--metadata", f"sqlite://{tmp_path}/m.sqlite"])
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (1, 2)
    assert words in result.output


def test_the_committed_schema_still_loads():
    from components import features  # pylint: disable=import-outside-toplevel
    assert features.load_contract(SCHEMA).image_shape == (28, 28, 1)
