"""`runs` and `models`: the pipeline's history, from ML Metadata."""

import os

import click

from pipeline.commands.options import PIPELINE, default


def _history_options(function):
    """Which store and pipeline `runs` and `models` read."""
    decorators = [
        click.option("--output-dir",
                     default=default(PIPELINE, "output_dir"),
                     show_default=True, envvar="PIPELINE_OUTPUT_DIR",
                     help="Read the local sqlite store under this dir."),
        click.option("--metadata", "metadata_url", default=None,
                     help="Read this store instead: sqlite:///path, "
                          "mysql://user[:password]@host:port/db or "
                          "grpc://host:port."),
        click.option("--pipeline", "pipeline_name", default=None,
                     help="Pipeline name [default: the store's only one]."),
        click.option("--limit", type=int, default=20, show_default=True,
                     help="Show this many, newest first (0: all)."),
        click.option("--json", "as_json", is_flag=True,
                     help="Print JSON instead of a table."),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def _history(output_dir, metadata_url, pipeline_name):
    """(History, pipeline name) for the history commands."""
    # TFMA's metric reader logs deprecation warnings; they are not news here.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    tf.get_logger().setLevel("ERROR")
    from pipeline import history  # pylint: disable=import-outside-toplevel
    from pipeline import node_entrypoint  # pylint: disable=import-outside-toplevel
    if metadata_url is None:
        path = os.path.join(os.path.abspath(output_dir), "metadata.sqlite")
        if not os.path.isfile(path):
            raise click.ClickException(
                f"no ML Metadata store at {path}: nothing has run with "
                f"--output-dir {output_dir} (or pass --metadata URL).")
        metadata_url = f"sqlite://{path}"
    try:
        connection = node_entrypoint.connection_config(metadata_url)
    except node_entrypoint.MetadataUrlError as error:
        raise click.UsageError(str(error)) from None
    store = node_entrypoint.open_store(connection, metadata_url)
    names = history.pipeline_names(store)
    if pipeline_name is None:
        if len(names) != 1:
            raise click.UsageError(
                f"the store has pipelines {names or '(none)'}; choose one "
                "with --pipeline.")
        pipeline_name = names[0]
    elif pipeline_name not in names:
        raise click.UsageError(
            f"the store has no pipeline {pipeline_name!r}; it has "
            f"{names or '(none)'}.")
    return history.History(store, pipeline_name), pipeline_name


def _listing(kind, output_dir, metadata_url, pipeline_name, limit, as_json):
    """(records, pipeline name) for a table; prints JSON and returns
    (None, name) with --json."""
    import json  # pylint: disable=import-outside-toplevel
    past, name = _history(output_dir, metadata_url, pipeline_name)
    records = getattr(past, kind)()[:limit or None]
    if as_json:
        click.echo(json.dumps([r.to_json() for r in records], indent=2))
        return None, name
    return records, name


def _short(fingerprint):
    return fingerprint[:12] if fingerprint else "-"


def _accuracy(value):
    return f"{value:.4f}" if value is not None else "-"


@click.command()
@_history_options
def runs(output_dir, metadata_url, pipeline_name, limit, as_json):
    """List past runs from ML Metadata: time, status, what each component
    did, data fingerprint, accuracy, blessing and pushed version."""
    records, name = _listing("runs", output_dir, metadata_url,
                             pipeline_name, limit, as_json)
    if records is None:
        return
    click.echo(f"Runs of {name}, newest first:")
    click.echo(f"{'RUN':24} {'STARTED (UTC)':19}  {'STATUS':10} "
               f"{'DATA':12}  {'ACCURACY':8}  {'BLESSED':7}  PUSHED")
    for record in records:
        blessed = {True: "yes", False: "no", None: "-"}[record.blessed]
        click.echo(
            f"{record.run_id:24} {record.started:%Y-%m-%d %H:%M:%S}  "
            f"{record.status:10} {_short(record.data_fingerprint):12}  "
            f"{_accuracy(record.accuracy):8}  {blessed:7}  "
            f"{record.pushed_version or '-'}")
        by_status = {}
        for node_id, status in record.components.items():
            by_status.setdefault(status, []).append(node_id)
        click.echo("    " + "; ".join(
            f"{status}: {', '.join(nodes)}"
            for status, nodes in sorted(by_status.items())))


@click.command()
@_history_options
def models(output_dir, metadata_url, pipeline_name, limit, as_json):
    """List pushed models with their lineage: the run that trained each,
    its evaluation and the data it was trained on."""
    records, name = _listing("models", output_dir, metadata_url,
                             pipeline_name, limit, as_json)
    if records is None:
        return
    click.echo(f"Models pushed by {name}, newest first:")
    click.echo(f"{'VERSION':12} {'PUSHED (UTC)':19}  {'ACCURACY':8}  "
               f"{'TRAINED IN RUN':24} DATA")
    for record in records:
        click.echo(
            f"{record.version:12} {record.pushed:%Y-%m-%d %H:%M:%S}  "
            f"{_accuracy(record.accuracy):8}  "
            f"{record.trained_in_run or '-':24} {record.dataset or '-'} "
            f"{_short(record.data_fingerprint)}")
        click.echo(f"    served from {record.destination}")
        click.echo(f"    model {record.model_uri}")
        click.echo(f"    examples {record.examples_uri or '-'}")
