"""The layering of `keras_distill`, read from its source with `ast`: no import cycle (imports
inside functions count) and no `_private` name taken from outside the taker's own subpackage."""

import ast
import os

import pytest

import keras_distill

ROOT = os.path.dirname(keras_distill.__file__)
PACKAGE = "keras_distill"


def _module_names():
    """`{module name: path}` of every `.py` file under `keras_distill/`."""
    names = {}
    for directory, _, files in os.walk(ROOT):
        for file in files:
            if file.endswith(".py"):
                path = os.path.join(directory, file)
                parts = os.path.relpath(path, os.path.dirname(ROOT))[:-3].split(os.sep)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                names[".".join(parts)] = path
    return names


MODULES = _module_names()


def _package(name):
    """The package a module runs in: itself for a package's `__init__`, else its parent."""
    return name if MODULES[name].endswith("__init__.py") else name.rpartition(".")[0]


def _ancestors(name):
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def _resolve(module, name):
    """`from module import name`: the submodule `module.name` if there is one, else `module`."""
    return f"{module}.{name}" if f"{module}.{name}" in MODULES else module


class _Imports(ast.NodeVisitor):
    """Collects the `keras_distill` modules a module imports and the private names it takes."""

    def __init__(self, importer):
        self.importer = importer
        self.targets = set()
        self.private = []
        self.aliases = {}

    def _add(self, target):
        if target in MODULES:
            self.targets.add(target)

    def visit_Import(self, node):
        for alias in node.names:
            if alias.name.startswith(PACKAGE):
                self._add(alias.name)
                if alias.asname:
                    self.aliases[alias.asname] = alias.name

    def visit_ImportFrom(self, node):
        module = node.module or ""
        if node.level:
            base = _package(self.importer).split(".")
            base = base[:len(base) - node.level + 1]
            module = ".".join(base + ([module] if module else []))
        if not module.startswith(PACKAGE):
            return
        for alias in node.names:
            target = _resolve(module, alias.name)
            self._add(target)
            if target != module:
                self.aliases[alias.asname or alias.name] = target
            elif alias.name.startswith("_") and not alias.name.startswith("__"):
                self.private.append((target, alias.name, node.lineno))

    def visit_Attribute(self, node):
        if (isinstance(node.value, ast.Name) and node.value.id in self.aliases
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            self.private.append((self.aliases[node.value.id], node.attr, node.lineno))
        self.generic_visit(node)


def _scan(name):
    with open(MODULES[name], encoding="utf-8") as f:
        visitor = _Imports(name)
        visitor.visit(ast.parse(f.read(), MODULES[name]))
    return visitor


SCANS = {name: _scan(name) for name in MODULES}


def _graph():
    """Module -> the modules importing it runs: the target and the packages above it that are
    not already running (the importer's own ancestors, and the root package, are)."""
    graph = {}
    for name, scan in SCANS.items():
        edges = set()
        for target in scan.targets:
            edges.add(target)
            edges |= _ancestors(target) - _ancestors(name) - {PACKAGE, name}
        edges.discard(name)
        graph[name] = edges
    return graph


def find_cycle(graph):
    """A list of modules forming a cycle, or `None`.

    Example:

    >>> find_cycle({"a": {"b"}, "b": {"a"}})
    ['a', 'b', 'a']
    >>> find_cycle({"a": {"b"}, "b": set()}) is None
    True
    """
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_scanner_sees_lazy_imports_and_submodules():
    # `workflow/run.py` imports its sibling stages; `cli` reaches `config`; a lazy import
    # inside a function body is seen too (`export.signature` imports the distiller lazily).
    assert "keras_distill.workflow.teacher" in SCANS["keras_distill.workflow.run"].targets
    assert "keras_distill.config" in SCANS["keras_distill.cli"].targets
    assert any(t.startswith("keras_distill.distiller")
               for t in SCANS["keras_distill.export.signature"].targets)


def test_no_import_cycle():
    cycle = find_cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_private_name_from_another_package():
    offences = []
    for name, scan in SCANS.items():
        for target, attribute, line in scan.private:
            shared = _package(name) == _package(target) and _package(name) != PACKAGE
            if not shared:
                offences.append(f"{MODULES[name]}:{line} takes {target}.{attribute}")
    assert not offences, "\n".join(offences)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_over_400_lines(name):
    with open(MODULES[name], encoding="utf-8") as f:
        lines = sum(1 for _ in f)
    assert lines <= 400, f"{MODULES[name]} has {lines} lines; split it into a package"


def test_the_checks_catch_what_they_look_for(tmp_path):
    tree = ast.parse("from keras_distill.workflow import setup\n"
                     "from keras_distill.losses import _TERMS\n"
                     "def f():\n    return setup._private()\n")
    visitor = _Imports("keras_distill.cli")
    visitor.visit(tree)
    assert ("keras_distill.workflow.setup", "_private", 4) in visitor.private
    assert ("keras_distill.losses", "_TERMS", 2) in visitor.private
    assert find_cycle({"x": {"y"}, "y": {"z"}, "z": {"x"}}) == ["x", "y", "z", "x"]
