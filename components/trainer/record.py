"""What the Trainer writes about its training, beside the TensorBoard logs
in its ModelRun artifact: one home for the file's name (run.py writes it;
the report and the model card read it). No TensorFlow needed to import."""

import os

TRAINING_RECORD = "training.json"


def path(model_run_uri: str) -> str:
    """The training record of a ModelRun artifact."""
    return os.path.join(model_run_uri, TRAINING_RECORD)
