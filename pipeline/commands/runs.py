"""`runs`: the pipeline's past runs, from ML Metadata."""

import click

from pipeline.commands import options


@click.command()
@options.history_options
def runs(output_dir, metadata_url, pipeline_name, limit, as_json):
    """List past runs from ML Metadata: time, status, what each component
    did, data fingerprint, accuracy, blessing and pushed version."""
    records, name = options.history_records(
        "run_records", output_dir, metadata_url, pipeline_name, limit, as_json)
    if records is None:
        return
    click.echo(f"Runs of {name}, newest first:")
    click.echo(f"{'RUN':24} {'STARTED (UTC)':19}  {'STATUS':10} "
               f"{'DATA':12}  {'ACCURACY':8}  {'BLESSED':7}  PUSHED")
    for record in records:
        blessed = {True: "yes", False: "no", None: "-"}[record.blessed]
        click.echo(
            f"{record.run_id:24} {record.started:%Y-%m-%d %H:%M:%S}  "
            f"{record.status:10} {options.short(record.data_fingerprint):12}"
            f"  {options.accuracy(record.accuracy):8}  {blessed:7}  "
            f"{record.pushed_version or '-'}")
        by_status = {}
        for node_id, status in record.components.items():
            by_status.setdefault(status, []).append(node_id)
        click.echo("    " + "; ".join(
            f"{status}: {', '.join(nodes)}"
            for status, nodes in sorted(by_status.items())))
