"""Installs the pipeline package: `pipeline`, `components`, `schemas` and
`pipeline_config`, with the `tfds-pipeline` console script.

The dependency set that is known to work together is pinned in
constraints.txt; install with
  pip install --ignore-requires-python -c constraints.txt -e .
"""

import setuptools

setuptools.setup(
    name="tfds-tfx-pipeline",
    version="0.1.0",
    description=("A TFX pipeline that trains, validates, evaluates and "
                 "pushes a Keras image classifier on any TFDS dataset."),
    python_requires=">=3.9",
    packages=setuptools.find_packages(include=["pipeline", "pipeline.*",
                                               "components", "components.*",
                                               "schemas", "schemas.*"]),
    py_modules=["pipeline_config"],
    package_data={"schemas": ["*/schema.pbtxt"]},
    install_requires=[
        "tfx",
        "tensorflow",
        "tf-keras",
        "tensorflow-transform",
        "tensorflow-model-analysis",
        "tensorflow-data-validation",
        "apache-beam[gcp,aws]",  # gs:// and s3:// for the Beam steps.
        "tensorflow-io",  # s3:// for TensorFlow (see components/storage.py).
        "tensorflow-datasets",
        "importlib_resources",  # TFDS needs it to prepare, but does not say.
        "kfp",
        "kfp-kubernetes",
        "click",
        "croniter",
        "matplotlib",
        "markdown",  # The model card's HTML (TensorBoard needs it too).
        "tensorflow-serving-api",  # The warm-up file's PredictionLogs.
    ],
    extras_require={"test": ["pytest", "psutil"]},
    entry_points={"console_scripts": ["tfds-pipeline=pipeline.cli:console_main"]},
)
