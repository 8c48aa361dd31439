"""What a process of this project need not import from TFX.

`import tfx.components.<anything>` first runs `tfx/components/__init__.py`,
which imports every TFX component (BulkInferrer, Tuner, InfraValidator,
the Evaluator's TFMA, ...), paid before the first node by every run and
every Kubeflow task, even when every node is then found in the cache,
because TFX's own launcher reaches it through
`tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy`, which
only wants the Evaluator's constants (what it costs: docs/performance.md).

`lazy_tfx_components()` registers the package without running its
`__init__` until something asks it for one of the names that `__init__`
defines (`from tfx.components import Trainer`); then it runs as usual, so
nothing changes for code that uses those names. Submodules
(`tfx.components.trainer.component`) import as always. This project
imports the submodules it uses, so a run imports the components it runs
and no others. It leans on how TFX 1.16 lays out that package, so with any
other TFX the package imports eagerly, as TFX ships it, with one log line.
The CLI, the node entrypoint, the Trainer's fresh process and the test
session (tests/conftest.py) install it, so tests import the way
production does.
"""

import importlib.metadata
import importlib.util
import logging
import sys
import threading
import types

# The TFX releases whose `tfx.components` package this was written for.
LAZY_FOR_TFX = ("1.16.0",)
# Held while the real __init__ runs; reentrant, because that __init__ asks
# the package for names it is still defining.
_LOCK = threading.RLock()
_RUNNING = "_lazy_init_running"
_REGISTERED = "__deferred_by_components_tfx_imports__"


class _LazyPackage(types.ModuleType):
    """A package whose `__init__` runs on the first missing attribute,
    once, whichever thread asks first; the others wait for it."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        with _LOCK:
            if type(self) is _LazyPackage and not self.__dict__.get(_RUNNING):
                self.__dict__[_RUNNING] = True
                try:
                    self.__spec__.loader.exec_module(self)
                    # An ordinary module from now on.
                    self.__class__ = types.ModuleType
                finally:
                    del self.__dict__[_RUNNING]
        try:
            return self.__dict__[name]
        except KeyError:
            raise AttributeError(
                f"module {self.__name__!r} has no attribute {name!r}"
            ) from None


def lazy_tfx_components() -> bool:
    """Defers `tfx/components/__init__.py` (see the module docstring).

    Returns whether the package is deferred: False when it was already
    imported, or TFX is not a release in `LAZY_FOR_TFX` (then nothing is
    changed and one line is logged)."""
    if "tfx.components" in sys.modules:
        return tfx_components_deferred()
    try:
        version = importlib.metadata.version("tfx")
    except importlib.metadata.PackageNotFoundError:
        return False
    if version not in LAZY_FOR_TFX:
        logging.getLogger(__name__).warning(
            "TFX %s is not one this start-up deferral was written for (%s): "
            "tfx.components imports as TFX ships it.", version,
            ", ".join(LAZY_FOR_TFX))
        return False
    spec = importlib.util.find_spec("tfx.components")
    if spec is None or spec.loader is None:
        return False
    package = importlib.util.module_from_spec(spec)
    package.__class__ = _LazyPackage
    package.__dict__[_REGISTERED] = True
    sys.modules["tfx.components"] = package
    import tfx  # pylint: disable=import-outside-toplevel
    tfx.components = package
    return True


def tfx_components_deferred() -> bool:
    """Whether `tfx.components` was registered by `lazy_tfx_components`
    in this process (its `__init__` may have run since)."""
    return getattr(sys.modules.get("tfx.components"), _REGISTERED, False)
