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

`defer_optional_imports()` goes further, for a run that may find every
node in the cache: TFX 1.16's orchestration imports TensorFlow and Beam
(4-5 s here) only in modules that also work without them
(`OPTIONAL_IMPORTS`), and while deferred those modules take their
fallbacks, as where neither is installed. `restore_optional_imports()`,
called before any executor runs, imports them and gives those modules
what they would have had; every other import of TensorFlow or Beam is
never touched.
"""

import importlib
import importlib.abc
import importlib.metadata
import importlib.util
import logging
import sys
import threading
import types
import typing

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


# TFX 1.16's modules that import a package only if it is installed, and
# what they do without it: importing module -> the module it imports.
OPTIONAL_IMPORTS = {
    # TensorFlow's doc decorators; without them, decorators that do nothing.
    "tfx.utils.doc_controls": "tensorflow",
    # The gs://, s3:// and hdfs:// filesystem of `tfx.dsl.io.fileio`;
    # without it, local paths only (restored below).
    "tfx.dsl.io.plugins.tensorflow_gfile": "tensorflow",
    # Beam's Pipeline for the Beam executors (restored below).
    "tfx.dsl.components.base.base_beam_executor": "apache_beam",
    # Beam's Pipeline, for a type annotation.
    "tfx.orchestration.portable.beam_executor_operator": "apache_beam",
    # Only for the name of the `span` property, the fallback's value.
    "tfx.dsl.input_resolution.strategies.span_range_strategy":
        "tfx.components.example_gen.utils",
}
_FROZEN_IMPORTLIB = "<frozen importlib"


class _OptionalImportsDeferral(importlib.abc.MetaPathFinder):
    """Makes the imports of `OPTIONAL_IMPORTS` fail as if the package were
    not installed; every other import goes on to the next finder."""

    def find_spec(self, fullname, path, target=None):
        del path, target
        frame = sys._getframe(1)  # pylint: disable=protected-access
        while frame and frame.f_code.co_filename.startswith(
                _FROZEN_IMPORTLIB):
            frame = frame.f_back
        importer = frame.f_globals.get("__name__") if frame else None
        wanted = OPTIONAL_IMPORTS.get(importer)
        if wanted and (fullname == wanted
                       or fullname.startswith(wanted + ".")):
            raise ModuleNotFoundError(
                f"{fullname} is deferred until an executor runs "
                "(components/tfx_imports.py)", name=fullname)
        return None


_DEFERRAL = _OptionalImportsDeferral()


def defer_optional_imports() -> bool:
    """Defers TFX's optional imports of TensorFlow and Beam (see the module
    docstring) until `restore_optional_imports()`. For a process whose
    storage is local: until then `tfx.dsl.io.fileio` knows local paths only.

    Returns whether they are deferred: False when TFX is not a release in
    `LAZY_FOR_TFX` or a module of `OPTIONAL_IMPORTS` is already imported
    (then nothing changes)."""
    if _DEFERRAL in sys.meta_path:
        return True
    try:
        version = importlib.metadata.version("tfx")
    except importlib.metadata.PackageNotFoundError:
        return False
    if version not in LAZY_FOR_TFX or any(
            name in sys.modules for name in OPTIONAL_IMPORTS):
        return False
    sys.meta_path.insert(0, _DEFERRAL)
    return True


def optional_imports_deferred() -> bool:
    """Whether TFX's optional imports are deferred now."""
    return _DEFERRAL in sys.meta_path


def restore_optional_imports() -> None:
    """Ends `defer_optional_imports()`: imports TensorFlow and Beam where
    TFX's modules took their fallbacks without them, as if they had been
    there all along. A no-op when nothing is deferred."""
    with _LOCK:
        if _DEFERRAL not in sys.meta_path:
            return
        sys.meta_path.remove(_DEFERRAL)
    # Each module's fallback, where it took one, says so itself.
    gfile = sys.modules.get("tfx.dsl.io.plugins.tensorflow_gfile")
    if gfile is not None and gfile.tf is None:
        # Run again, it registers TensorFlow's filesystem with fileio.
        importlib.reload(gfile)
    for name in ("tfx.dsl.components.base.base_beam_executor",
                 "tfx.orchestration.portable.beam_executor_operator"):
        module = sys.modules.get(name)
        if module is not None and module._BeamPipeline is typing.Any:  # pylint: disable=protected-access
            import apache_beam  # pylint: disable=import-outside-toplevel
            module._BeamPipeline = apache_beam.Pipeline  # pylint: disable=protected-access
            if hasattr(module, "beam"):
                module.beam = apache_beam
