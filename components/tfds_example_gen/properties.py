"""Custom properties TfdsExampleGen records on its Examples artifact that
other steps read; importable without TensorFlow or TFDS."""

import json
from typing import List, Mapping, Optional, Sequence, Union

# Split name -> number of examples written, e.g. {"train": 60000}.
NUM_EXAMPLES = "num_examples"
# The label's class names from the dataset's TFDS ClassLabel, as a JSON
# list (index = class id); absent when the label has no names.
CLASS_NAMES = "class_names"


def class_names(recorded: Optional[str]) -> Optional[List[str]]:
    """The class names a CLASS_NAMES property holds, or None."""
    return json.loads(recorded) if recorded else None


def describe_class(index, names: Union[None, Sequence[str],
                                       Mapping[str, str]]) -> str:
    """A class as messages and tables show it: `3 (Dress)`, or `3`.

    Args:
      index: the class id.
      names: the names by index, as a list or as {"3": "Dress", ...}.
    """
    index = int(index)
    if isinstance(names, Mapping):
        name = names.get(str(index))
    else:
        name = names[index] if names and 0 <= index < len(names) else None
    return f"{index} ({name})" if name else str(index)
