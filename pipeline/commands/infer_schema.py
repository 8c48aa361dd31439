"""`infer-schema`: a first schema for a TFDS image classification dataset."""

import os

import click


@click.command("infer-schema")
@click.option("--dataset", required=True, help="TFDS dataset name[:version].")
@click.option("--tfds-data-dir", default=None, envvar="PIPELINE_TFDS_DATA_DIR")
@click.option("--output", default=None,
              help="Where to write [default: schemas/<dataset>/schema.pbtxt "
                   "in the current directory].")
def infer_schema(dataset, tfds_data_dir, output):
    """Write a first schema for a TFDS image classification dataset, from
    the dataset's declared features (no data is read). Review and commit
    it under schemas/<dataset>/."""
    from google.protobuf import text_format  # pylint: disable=import-outside-toplevel
    from components import features  # pylint: disable=import-outside-toplevel
    from components.tfds_example_gen import dataset as tfds_dataset  # pylint: disable=import-outside-toplevel
    try:
        builder = tfds_dataset.get_builder(dataset, tfds_data_dir)
    except tfds_dataset.DatasetError as error:
        raise click.ClickException(str(error)) from None
    info = builder.info.features
    if features.IMAGE_KEY not in info or features.LABEL_KEY not in info:
        raise click.ClickException(
            f"{dataset!r} has features {sorted(info.keys())}; the pipeline "
            f"needs {features.IMAGE_KEY!r} and {features.LABEL_KEY!r}.")
    contract = features.FeatureContract(
        image_shape=tuple(info[features.IMAGE_KEY].shape),
        num_classes=info[features.LABEL_KEY].num_classes)
    output = output or os.path.join("schemas", builder.info.name,
                                    "schema.pbtxt")
    try:
        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
        with open(output, "w", encoding="utf-8") as f:
            f.write(text_format.MessageToString(
                features.schema_for(contract)))
    except OSError as error:
        raise click.ClickException(
            f"cannot write the schema to {output!r}: {error.strerror}; "
            "choose another --output.") from None
    click.echo(f"Wrote {output}")
