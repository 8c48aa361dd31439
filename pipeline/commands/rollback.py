"""`rollback`: serve an earlier pushed model again, safely and on record."""

import contextlib
import os

import click

import pipeline_config
from pipeline.commands import options


@click.command(epilog="""
\b
Examples:
  # Serve the model that was served before the current one:
  python -m pipeline rollback --output-dir output
  # Serve version 1764400000 again:
  python -m pipeline rollback --output-dir output --to 1764400000
  # Kubeflow: the pipeline's MySQL store and its serving dir on GCS:
  MLMD_MYSQL_PASSWORD=... python -m pipeline rollback \\
      --metadata mysql://mlmd@127.0.0.1:3306/metadb
""")
@options.store_options
@click.option("--serving-dir", default=None,
              help="The serving directory as this machine sees it (a "
                   "gs:// URI or a mount) [default: where the pipeline "
                   "pushed].")
@click.option("--to", "to_version", default=None,
              help="The version to serve again [default: the newest "
                   "version before the served one that holds another "
                   "model].")
def rollback(output_dir, metadata_url, pipeline_name, serving_dir,
             to_version):
    """Serve an earlier pushed model again.

    TensorFlow Serving serves the highest version, so the earlier model is
    published again as a new version (copied, checked against its sha256
    manifest, renamed into place atomically); every version stays on disk.
    A version whose files do not match its manifest is refused. ML Metadata
    records the rollback with the model's lineage, so `models` lists it.
    With --output-dir it holds the output dir's lock, as a run does.
    """
    from pipeline.runners import output_lock  # pylint: disable=import-outside-toplevel
    local_store = pipeline_config.metadata_path(output_dir)
    if metadata_url is None and not os.path.isfile(local_store):
        raise click.ClickException(
            f"no ML Metadata store at {local_store}: nothing has run in "
            f"--output-dir {output_dir} (or pass --metadata URL).")
    # A local output dir is not rolled back while a run might push to it.
    lock = (output_lock.exclusive(output_dir) if metadata_url is None
            else contextlib.nullcontext())
    try:
        with lock:
            _rollback(output_dir, metadata_url, pipeline_name, serving_dir,
                      to_version)
    except output_lock.Busy as error:
        raise click.ClickException(str(error)) from None


def _rollback(output_dir, metadata_url, pipeline_name, serving_dir,
              to_version) -> None:
    from components.pusher import serving_dir as layout  # pylint: disable=import-outside-toplevel
    from pipeline.metadata import models  # pylint: disable=import-outside-toplevel
    store, name = options.history_store(output_dir, metadata_url,
                                        pipeline_name, read_only=False)
    pushed = models.pushed_models(store, name)
    if not pushed:
        raise click.ClickException(f"{name} has pushed no model yet: "
                                   "nothing to roll back to.")
    recorded_base = pushed[0].serving_dir
    base = serving_dir or recorded_base
    versions = layout.versions(base)
    if not versions:
        raise click.ClickException(f"no served versions in {base}.")
    served = versions[-1]
    target = _target(layout, base, versions, served, to_version)
    damage = layout.problems(base, target)
    if damage is None:
        click.echo(f"Version {target} has no manifest (pushed before "
                   "manifests existed): its files cannot be checked; the "
                   "new version gets a manifest of them.")
    elif damage:
        raise click.ClickException(
            f"version {target} in {base} does not match its manifest "
            f"({'; '.join(damage)}): not rolled back. `python -m pipeline "
            "models --verify` checks every version; choose another with "
            "--to.")
    record = next((m for m in pushed if m.version == target), None)
    if record is None:
        raise click.ClickException(
            f"version {target} is not a push of {name} that ML Metadata "
            "recorded; choose one `models` lists.")
    version, path = layout.publish(
        layout.version_dir(base, target), base,
        model_source=layout.source(base, target),
        extra={"restores": target, "replaces": served})
    destination = (path if serving_dir is None else
                   f"{recorded_base}/{version}")
    try:
        models.record_rollback(store, name, record, version, destination,
                               replaces=served)
    except Exception as error:  # pylint: disable=broad-except
        # MLMD raises its own errors; the version is served either way.
        raise click.ClickException(
            f"version {version} ({path}) now serves the model of version "
            f"{target}, but ML Metadata did not record it "
            f"({type(error).__name__}: {error}), so `models` will not list "
            "it; to undo, remove that version folder and its "
            f".manifest-{version}.json and .source-{version}.") from None
    click.echo(f"Rolled back {name}: version {version} now serves the model "
               f"of version {target} (replacing {served}, which stays on "
               f"disk); {path}.")


def _target(layout, base, versions, served, to_version) -> str:
    """The version to publish again."""
    if to_version is not None:
        if to_version not in versions:
            raise click.UsageError(
                f"--to {to_version}: no such version in {base}; it has "
                f"{', '.join(versions)}.")
        if to_version == served:
            raise click.UsageError(f"--to {to_version}: that version is "
                                   "already served.")
        return to_version
    served_model = layout.source(base, served)
    for version in reversed(versions[:-1]):
        if layout.source(base, version) != served_model:
            return version
    raise click.ClickException(
        f"no earlier version in {base} holds another model than the "
        f"served {served}: nothing to roll back to.")
