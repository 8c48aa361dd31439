"""Names other steps read from TfdsExampleGen without TensorFlow or TFDS:
its execution parameters (read from a compiled pipeline) and the custom
properties it records on its Examples artifact."""

import json
from typing import List, Optional, Sequence

# Execution parameters: `name[/config][:version]`, the split mapping (JSON)
# and the TFDS data dir.
DATASET_PARAMETER = "dataset"
SPLITS_PARAMETER = "splits"
DATA_DIR_PARAMETER = "data_dir"

# Split name -> number of examples written, e.g. {"train": 60000}.
NUM_EXAMPLES = "num_examples"
# The label's class names from the dataset's TFDS ClassLabel, as a JSON
# list (index = class id); absent when the label has no names.
CLASS_NAMES = "class_names"


def class_names(recorded: Optional[str]) -> Optional[List[str]]:
    """The class names a CLASS_NAMES property holds, or None."""
    return json.loads(recorded) if recorded else None


def class_name(index, names: Optional[Sequence[str]]) -> Optional[str]:
    """The name of class `index` (an int or its string), if known."""
    index = int(index)
    return names[index] if names and 0 <= index < len(names) else None


def describe_class(index, names: Optional[Sequence[str]]) -> str:
    """A class as messages and tables show it: `3 (Dress)`, or `3`."""
    name = class_name(index, names)
    return f"{int(index)} ({name})" if name else str(int(index))
