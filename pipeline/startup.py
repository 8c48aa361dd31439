"""Starting a command's process: what it need not import.

`import tfx.components.<anything>` first runs `tfx/components/__init__.py`,
which imports every TFX component (BulkInferrer, Tuner, InfraValidator,
the Evaluator's TFMA, ...): 1.8 s by `python -X importtime`, paid before
the first node by every run and every Kubeflow task, even when every node
is then found in the cache, because TFX's own launcher reaches it through
`tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy`, which
only wants the Evaluator's constants.

`lazy_tfx_components()` registers the package without running its
`__init__` until something asks it for one of the names that `__init__`
defines (`from tfx.components import Trainer`); then it runs as usual, so
nothing changes for code that uses those names. Submodules
(`tfx.components.trainer.component`) import as always. This project
imports the submodules it uses, so a run imports the components it runs
and no others.
"""

import importlib.util
import sys
import time
import types

# The line `report_startup` writes; the container tests read its figures.
STARTUP_LINE = "task start-up:"


def report_startup(reached: str) -> None:
    """Writes one stderr line: the seconds from process start (interpreter,
    imports) to `reached`, and when the process started (seconds since the
    epoch), so that a runner can tell a container's start from the task's
    own start-up."""
    from pipeline.reporting import console  # pylint: disable=import-outside-toplevel
    seconds = console.process_seconds()
    print(f"{STARTUP_LINE} {seconds:.3f} s from process start to {reached} "
          f"(process started at {time.time() - seconds:.3f})",
          file=sys.stderr, flush=True)


class _LazyPackage(types.ModuleType):
    """A package whose `__init__` runs on the first missing attribute."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        # Become an ordinary module, then run the real __init__ in it.
        self.__class__ = types.ModuleType
        self.__spec__.loader.exec_module(self)
        return getattr(self, name)


def lazy_tfx_components() -> None:
    """Defers `tfx/components/__init__.py` (see the module docstring); a
    no-op if the package is already imported."""
    if "tfx.components" in sys.modules:
        return
    spec = importlib.util.find_spec("tfx.components")
    if spec is None or spec.loader is None:
        return
    package = importlib.util.module_from_spec(spec)
    package.__class__ = _LazyPackage
    sys.modules["tfx.components"] = package
    import tfx  # pylint: disable=import-outside-toplevel
    tfx.components = package
