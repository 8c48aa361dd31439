"""Custom properties TfdsExampleGen records on its Examples artifact that
other steps read; importable without TensorFlow or TFDS."""

# Split name -> number of examples written, e.g. {"train": 60000}.
NUM_EXAMPLES = "num_examples"
