"""`models`: the models the pipeline pushed, with their lineage."""

import click

from pipeline.commands import options


@click.command()
@options.history_options
def models(output_dir, metadata_url, pipeline_name, limit, as_json):
    """List pushed models with their lineage: the run that trained each,
    its evaluation and the data it was trained on."""
    records, name = options.history_records(
        "model_records", output_dir, metadata_url, pipeline_name, limit, as_json)
    if records is None:
        return
    click.echo(f"Models pushed by {name}, newest first:")
    click.echo(f"{'VERSION':12} {'PUSHED (UTC)':19}  {'ACCURACY':8}  "
               f"{'TRAINED IN RUN':24} DATA")
    for record in records:
        click.echo(
            f"{record.version:12} {record.pushed:%Y-%m-%d %H:%M:%S}  "
            f"{options.accuracy(record.accuracy):8}  "
            f"{record.trained_in_run or '-':24} {record.dataset or '-'} "
            f"{options.short(record.data_fingerprint)}")
        click.echo(f"    served from {record.destination}")
        click.echo(f"    model {record.model_uri}")
        click.echo(f"    examples {record.examples_uri or '-'}")
