"""The error a dataset that cannot be used raises, importable without
TensorFlow or TFDS (the CLI catches it before either is imported)."""


class DatasetError(ValueError):
    """A dataset cannot be found or prepared; the message says what to do."""
