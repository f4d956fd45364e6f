"""Keras's own tests of `keras.distillation`, run on keras_distill: the drop-in promise, checked.

The test files are read from the installed Keras (`keras/src/distillation/*_test.py`) when this
module is imported, so they follow the installed version. Only their imports change: every name
they import from `keras.src.distillation` or `keras.distillation` (and every
`keras.distillation.<Name>` they use) is taken from keras_distill instead. The rewritten modules
are written to a temporary directory, imported from there, and their test classes collected here.

A Keras test that asserts behaviour keras_distill corrects on purpose would be listed in
`KNOWN_DIFFERENCES` with the reason, and in the README's comparison table; there are none.
"""

import atexit
import importlib.util
import os
import re
import shutil
import tempfile
import unittest
import warnings

import keras
import pytest

import keras_distill as kd

KERAS_DISTILLATION = os.path.join(os.path.dirname(keras.__file__), "src", "distillation")

# Where each public name of keras.distillation lives in keras_distill.
NAMES = {
    "Distiller": "keras_distill",
    "LogitsDistillation": "keras_distill",
    "FeatureDistillation": "keras_distill",
    "DistillationLoss": "keras_distill.losses",
}

# "TestClass.test_name": why keras_distill differs on purpose (also in the README's table).
KNOWN_DIFFERENCES = {}

_FROM_IMPORT = re.compile(
    r"^from keras(?:\.src)?\.distillation(?:\.\w+)? import (\([^)]*\)|[^\n]+)$", re.MULTILINE)
_ATTRIBUTE = re.compile(r"\bkeras\.distillation\.(\w+)")


def _imports(names):
    lines = []
    for name in names:
        if name not in NAMES:
            raise ImportError(
                f"Keras's distillation tests import {name!r}, which keras_distill does not "
                f"provide under that name. Add it to keras_distill (and to NAMES here)."
            )
        lines.append(f"from {NAMES[name]} import {name}")
    return "\n".join(lines)


def rewrite(source):
    """Points a Keras test module's distillation imports at keras_distill.

    Example:

    >>> rewrite("from keras.src.distillation.distiller import Distiller\\n")
    'from keras_distill import Distiller\\n'
    """
    def from_import(match):
        names = [n.strip().split(" as ")[0] for n in match.group(1).strip("()").split(",")]
        return _imports([n for n in names if n])

    source = _FROM_IMPORT.sub(from_import, source)
    used = sorted(set(_ATTRIBUTE.findall(source)))
    if used:
        source = _ATTRIBUTE.sub(r"\1", source)
        source = _imports(used) + "\n" + source
    if "keras.src.distillation" in source or "keras.distillation" in source:
        raise ImportError("A Keras distillation test still refers to Keras's distillation code "
                          "after the rewrite; extend `rewrite`.")
    return source


def _load_suite():
    if not os.path.isdir(KERAS_DISTILLATION):
        pytest.skip(f"Keras {keras.__version__} has no keras.distillation (Keras >= 3.12).",
                    allow_module_level=True)
    directory = tempfile.mkdtemp(prefix="keras_distillation_suite_")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    modules = []
    for file in sorted(os.listdir(KERAS_DISTILLATION)):
        if not file.endswith("_test.py"):
            continue
        with open(os.path.join(KERAS_DISTILLATION, file), encoding="utf-8") as handle:
            source = rewrite(handle.read())
        path = os.path.join(directory, f"keras_{file}")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(source)
        spec = importlib.util.spec_from_file_location(f"keras_suite_{file[:-3]}", path)
        module = importlib.util.module_from_spec(spec)
        with warnings.catch_warnings():  # Keras's own marker, registered in Keras's conftest.
            warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
            spec.loader.exec_module(module)
        modules.append(module)
    return modules


MODULES = _load_suite()

for _module in MODULES:
    for _name, _cls in vars(_module).items():
        if isinstance(_cls, type) and issubclass(_cls, unittest.TestCase) and _name.startswith(
                "Test") and _cls.__module__ == _module.__name__:
            for _key, _reason in KNOWN_DIFFERENCES.items():
                _class, _, _method = _key.partition(".")
                if _class == _name:
                    setattr(_cls, _method, unittest.skip(_reason)(getattr(_cls, _method)))
            assert _name not in globals(), f"Two Keras test modules define {_name}."
            globals()[_name] = _cls
del _module, _name, _cls


def test_the_suite_runs_keras_distill():
    assert len(MODULES) >= 2  # distiller_test.py and distillation_loss_test.py.
    for module in MODULES:
        for name, module_name in NAMES.items():
            if name in vars(module):
                assert getattr(module, name) is getattr(
                    __import__(module_name, fromlist=[name]), name)
    assert any(getattr(m, "Distiller", None) is kd.Distiller for m in MODULES)


def test_rewrite_covers_every_import_form():
    source = ("from keras.distillation import (\n    Distiller,\n    LogitsDistillation,\n)\n"
              "loss = keras.distillation.FeatureDistillation()\n")
    assert rewrite(source) == (
        "from keras_distill import FeatureDistillation\n"
        "from keras_distill import Distiller\nfrom keras_distill import LogitsDistillation\n"
        "loss = FeatureDistillation()\n")
    with pytest.raises(ImportError, match="'Unknown'"):
        rewrite("from keras.src.distillation.distiller import Unknown\n")
