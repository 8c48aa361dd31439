"""Decides whether a run of the Kubeflow package goes on: the first task.

  python -m pipeline.runners.decide_entrypoint --pipeline-ir IR \
      --metadata mysql://mlmd@mysql.kubeflow:3306/mlmd --only-if-changed true \
      --decision-file /tmp/decision --reason-file /tmp/reason

The package runs its TFX tasks only when this task writes `run`. With
`--only-if-changed false` (a run started by hand) it always does; a
scheduled run passes `true`, and then the DAG is skipped when the last
successful run in ML Metadata ran the same compiled pipeline (with the same
run-time parameters) on data that is certainly the same, by the manifest
ExampleGen recorded (see `runs.decide_for_package`). The reason is the
task's second output, shown by KFP with the run, and its log line.

It needs neither TensorFlow nor TFDS, so the task costs the interpreter and
an ML Metadata query, not the seconds of TensorFlow's imports that every
TFX task pays (docs/performance.md); when the data cannot be judged that cheaply (e.g. a `gs://` data
dir), it says so and lets the DAG run, where TFX's cache does the rest.
"""

import json
import os
from typing import Mapping, Optional

import click

from components import storage
from components.tfds_example_gen import manifest
from components.tfds_example_gen import properties
from pipeline import nodes
from pipeline import startup
from pipeline.metadata import runs
from pipeline.metadata import store as metadata_store
from pipeline.metadata import urls
from pipeline.runners import node_entrypoint

RUN, SKIP = "run", "skip"


def example_gen_dataset(ir) -> Mapping[str, Optional[str]]:
    """TfdsExampleGen's dataset parameters (`dataset`, `splits`,
    `data_dir`) as the compiled pipeline gives them."""
    example_gen = next(n.pipeline_node for n in ir.nodes
                       if n.pipeline_node.node_info.id == nodes.EXAMPLE_GEN)
    parameters = example_gen.parameters.parameters
    return {key: (parameters[key].field_value.string_value
                  if key in parameters else None)
            for key in (properties.DATASET_PARAMETER,
                        properties.SPLITS_PARAMETER,
                        properties.DATA_DIR_PARAMETER)}


def decide(ir, store: metadata_store.MetadataStore) -> runs.Decision:
    """Whether this pipeline (run-time parameters applied) should run."""
    dataset = example_gen_dataset(ir)
    name, config, version = manifest.split_name(
        dataset[properties.DATASET_PARAMETER])
    check = manifest.checker(
        data_dir=dataset[properties.DATA_DIR_PARAMETER] or None, name=name,
        config=config, version=version,
        splits=json.loads(dataset[properties.SPLITS_PARAMETER]))
    return runs.decide_for_package(store, ir.pipeline_info.id,
                                   runs.pipeline_fingerprint(ir), check)


def _write(path: str, text: str) -> None:
    """An output parameter file (KFP creates its folder on a real pod)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


@click.command()
@click.option("--pipeline-ir", required=True,
              help="The compiled pipeline, as written by encode_ir.")
@click.option("--metadata", "metadata_url", required=True,
              help="The ML Metadata URL the TFX tasks use.")
@click.option("--epochs", type=int, default=None)
@click.option("--dataset-version", default=None)
@click.option("--only-if-changed", type=bool, default=False,
              help="true: skip the run when nothing changed.")
@click.option("--decision-file", required=True,
              help="Where to write `run` or `skip` (a KFP output).")
@click.option("--reason-file", required=True,
              help="Where to write why (a KFP output).")
def main(pipeline_ir, metadata_url, epochs, dataset_version,
         only_if_changed, decision_file, reason_file):
    """Decide whether a run of the package goes on, and say why."""
    try:
        ir = node_entrypoint.decode_ir(pipeline_ir)
    except node_entrypoint.BadIr as error:
        raise click.UsageError(f"--pipeline-ir is {error}") from None
    node_entrypoint.set_run_parameters(ir, epochs, dataset_version)
    startup.report_startup("deciding")
    try:
        # Before any TFX task: an object store that cannot be used is one
        # message here, not a component failing after tensorflow-io's
        # minutes of retries inside one call.
        storage.check(node_entrypoint.storage_locations(ir))
    except storage.StorageError as error:
        raise click.ClickException(str(error)) from None
    if only_if_changed:
        try:
            # Writable although it only reads: a new MySQL database has no
            # ML Metadata tables yet, which a read-only connection cannot
            # create (the first TFX task would create them anyway).
            store = metadata_store.open_store(urls.parse(metadata_url),
                                              read_only=False)
        except urls.MetadataUrlError as error:
            raise click.UsageError(str(error)) from None
        except metadata_store.StoreError as error:
            raise click.ClickException(str(error)) from None
        decision = decide(ir, store)
    else:
        decision = runs.Decision(True, "started by hand (only_if_changed "
                                       "is false): running.")
    _write(decision_file, RUN if decision.run else SKIP)
    _write(reason_file, decision.reason)
    click.echo(f"{ir.pipeline_info.id}: {decision.reason}")


if __name__ == "__main__":
    from pipeline import exit as process_exit  # pylint: disable=ungrouped-imports
    process_exit.run_then_exit(main)
