"""`models`: the models the pipeline pushed, with their lineage; with
`--verify`, whether every served version still matches its manifest."""

import click

from pipeline.commands import options


@click.command()
@options.history_options
@click.option("--verify", is_flag=True,
              help="Check every version in the serving directory against "
                   "the sha256 manifest the Pusher wrote beside it; exit 1 "
                   "if any is damaged.")
@click.option("--serving-dir", default=None,
              help="With --verify: the serving directory as this machine "
                   "sees it (a gs:// URI or a mount) [default: where the "
                   "pipeline pushed].")
def models(output_dir, metadata_url, pipeline_name, limit, as_json, verify,
           serving_dir):
    """List pushed models with their lineage: the run that trained each,
    its evaluation and the data it was trained on (or, for a rollback,
    the version it published again)."""
    if verify:
        return _verify(output_dir, metadata_url, pipeline_name, as_json,
                       serving_dir)
    if serving_dir:
        raise click.UsageError("--serving-dir goes with --verify.")
    records, name = options.history_records(
        "model_records", output_dir, metadata_url, pipeline_name, limit, as_json)
    if records is None:
        return None
    click.echo(f"Models pushed by {name}, newest first:")
    click.echo(f"{'VERSION':12} {'PUSHED (UTC)':19}  {'ACCURACY':8}  "
               f"{'TRAINED IN RUN':24} DATA")
    for record in records:
        click.echo(
            f"{record.version:12} {record.pushed:%Y-%m-%d %H:%M:%S}  "
            f"{options.accuracy(record.accuracy):8}  "
            f"{record.trained_in_run or '-':24} {record.dataset or '-'} "
            f"{options.short(record.data_fingerprint)}")
        if record.weakest_class:
            click.echo(f"    weakest class {record.weakest_class}")
        if record.restores:
            click.echo(f"    rollback: publishes version {record.restores} "
                       "again")
        click.echo(f"    served from {record.destination}")
        click.echo(f"    model {record.model_uri}")
        click.echo(f"    examples {record.examples_uri or '-'}")
    return None


def _verify(output_dir, metadata_url, pipeline_name, as_json, serving_dir):
    import json  # pylint: disable=import-outside-toplevel
    from components.pusher import serving_dir as layout  # pylint: disable=import-outside-toplevel
    base = serving_dir or options.serving_base(
        output_dir, metadata_url, pipeline_name)
    versions = layout.versions(base)
    if not versions:
        raise click.ClickException(f"no served versions in {base}.")
    results = []
    for version in versions:
        found = layout.problems(base, version)
        results.append({"version": version,
                        "path": layout.version_dir(base, version),
                        "verified": found is not None,
                        "problems": found or []})
    damaged = [r for r in results if r["problems"]]
    unverified = [r for r in results if not r["verified"]]
    if as_json:
        click.echo(json.dumps(results, indent=2))
    else:
        click.echo(f"Served versions in {base} (a server serves "
                   f"{versions[-1]}):")
        for result in reversed(results):
            state = ("DAMAGED: " + "; ".join(result["problems"])
                     if result["problems"] else "ok" if result["verified"]
                     else "not verified: no manifest (pushed before "
                          "manifests existed)")
            click.echo(f"  {result['version']:12} {state}")
        checked = len(results) - len(unverified)
        click.echo(f"{len(damaged)} of {len(results)} version(s) damaged."
                   if damaged else f"All {checked} version(s) with a "
                                   "manifest match it.")
    if damaged:
        raise SystemExit(1)
    return None
