"""The packages stack as STYLE.md says ("How the packages stack"): a lower layer never imports a higher one.

Layers, lowest first: the foundation (``prefix_sched`` itself, ``errors``, ``provenance``) <-
``theory`` <- ``solvers`` (inside it, lowest first: its base ``status`` and ``deadline``, then
``online``, ``serving``, ``exact``, ``approx``, ``bounds``) <- ``reductions`` <- ``studies`` (every loop that
runs solvers to check a claim or draw a figure, and the sweep engine) <- ``gpu_validation`` <- the
CLI (``prefix_sched.cli``, ``prefix_sched.commands``).

Every module of the installed package folders is read with :mod:`ast` (nothing is imported to scan
it) and every import it can make is collected: at module level, inside functions and classes (a
lazy import is still an import), in ``>>>`` doctest examples of any string in the file (doctests
run in CI), and ``importlib.import_module("...")`` / ``__import__("...")`` calls with a literal
name. Relative imports are resolved against the module's package. A module that no layer claims
fails the test too, so a new top-level module must be placed in a layer here.

Cycles: the graph of the imports the modules make (module level and inside functions; doctests
left out) must be a DAG, as STYLE.md asks (a module-level cycle can break an import depending on
which module is imported first), and every module must import first in a fresh interpreter.
"""

from __future__ import annotations

import ast
import doctest
import importlib.util
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import pytest

# Lowest first; a module belongs to the layer of its longest matching prefix (``prefix_sched``
# itself matches only its ``__init__``: its other modules are placed one by one).
LAYERS = (
    ("foundation", ("prefix_sched", "prefix_sched.errors", "prefix_sched.provenance")),
    ("theory", ("prefix_sched.theory",)),
    ("solvers base", ("prefix_sched.solvers",)),
    ("solvers.online", ("prefix_sched.solvers.online",)),
    ("solvers.serving", ("prefix_sched.solvers.serving",)),
    ("solvers.exact", ("prefix_sched.solvers.exact",)),
    ("solvers.approx", ("prefix_sched.solvers.approx",)),
    ("solvers.bounds", ("prefix_sched.solvers.bounds",)),
    ("reductions", ("prefix_sched.reductions",)),
    ("studies", ("prefix_sched.studies",)),
    ("gpu_validation", ("prefix_sched.gpu_validation",)),
    ("cli", ("prefix_sched.cli", "prefix_sched.commands")),
)
PACKAGES = ("prefix_sched.theory", "prefix_sched.solvers", "prefix_sched.reductions", "prefix_sched.studies",
            "prefix_sched.gpu_validation", "prefix_sched")
ROOT = "prefix_sched"


def layer_of(name: str) -> int | None:
    """Index in :data:`LAYERS` of the module ``name`` (longest matching prefix); None if unplaced."""
    best, best_len = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            inside = name == prefix or (prefix != ROOT and name.startswith(prefix + "."))
            if inside and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    return best


@dataclass(frozen=True)
class Import:
    """One import a module can make: the imported name, its line, and how it is made."""

    target: str
    line: int
    how: str  # "module level", "in a function", "doctest", "import_module"

    @property
    def runs(self) -> bool:
        """Whether the module itself makes this import (now or when a function runs), not a doctest."""
        return self.how != "doctest"


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute name of ``from <level dots><name> import ...`` inside ``module``."""
    if level == 0:
        return name or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts + ([name] if name else []))


def _imports_of_tree(tree: ast.AST, module: str, is_package: bool, how_outside: str) -> list[Import]:
    found: list[Import] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        how = "in a function" if lazy else how_outside
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, node.lineno, how) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            # ``from pkg import x``: x may be a submodule or a name; :func:`scan` falls back to pkg
            # when pkg.x is not a module.
            found.extend(Import(f"{base}.{alias.name}" if alias.name != "*" else base, node.lineno, how)
                         for alias in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called in ("import_module", "__import__"):
                found.append(Import(node.args[0].value, node.lineno, "import_module"))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and ">>>" in node.value:
            for example in doctest.DocTestParser().get_examples(node.value):
                example_tree = ast.parse(example.source)  # a doctest that does not parse fails loudly
                found.extend(Import(x.target, node.lineno + example.lineno, "doctest")
                             for x in _imports_of_tree(example_tree, module, is_package, "doctest"))
        for child in ast.iter_child_nodes(node):
            visit(child, lazy or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    return found


def imports_of(source: str, module: str, is_package: bool = False) -> list[Import]:
    """Every import ``source`` (the text of ``module``) can make, with its line and kind.

    Examples
    --------
    >>> [(x.target, x.how) for x in imports_of("import os\\ndef f():\\n    from . import b", "p.a")]
    [('os', 'module level'), ('p.b', 'in a function')]
    """
    return _imports_of_tree(ast.parse(source), module, is_package, "module level")


def package_modules() -> dict[str, Path]:
    """Every module of the installed package folders, by dotted name (nothing is imported but the
    packages' ``__init__``, to find where they are installed)."""
    modules: dict[str, Path] = {}
    subpackage_folders = {p.rsplit(".", 1)[1] for p in PACKAGES if p != ROOT}
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.submodule_search_locations, f"{package} is not installed"
        for location in spec.submodule_search_locations:
            folder = Path(location)
            for path in sorted(folder.rglob("*.py")):
                rel = path.relative_to(folder)
                if "__pycache__" in rel.parts:
                    continue
                if package == ROOT and len(rel.parts) > 1 and rel.parts[0] in subpackage_folders:
                    continue  # a wheel nests the subpackages inside prefix_sched/: scanned as themselves
                parts = list(rel.with_suffix("").parts)
                if parts[-1] == "__init__":
                    parts.pop()
                modules[".".join([package, *parts])] = path
    return modules


MODULES = package_modules()


def scan(modules: dict[str, Path]) -> tuple[list[str], list[str], nx.DiGraph]:
    """(layer violations, modules no layer claims, import graph among ``modules``, doctests left out)."""
    violations, unplaced = [], []
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in sorted(modules.items()):
        mine = layer_of(name)
        if mine is None:
            unplaced.append(name)
            continue
        for item in imports_of(path.read_text(encoding="utf-8"), name, path.name == "__init__.py"):
            target = item.target
            if not (target == ROOT or target.startswith(ROOT + ".")):
                continue
            if target not in modules and target.rsplit(".", 1)[0] in modules:
                target = target.rsplit(".", 1)[0]  # ``from pkg.mod import name``: the module is pkg.mod
            theirs = layer_of(target)
            if theirs is not None and theirs > mine:
                violations.append(f"{path}:{item.line}: {name} ({LAYERS[mine][0]}) imports {target} "
                                  f"({LAYERS[theirs][0]}), {item.how}")
            if item.runs and target in modules and target != name:
                graph.add_edge(name, target)
    return list(dict.fromkeys(violations)), unplaced, graph


def test_scan_covers_every_layer_and_the_cli():
    """The scan sees all six package folders (a wrong location would make the test vacuous),
    including the CLI's commands, every solver kind and the sweep package."""
    layers = {LAYERS[layer_of(name)][0] for name in MODULES if layer_of(name) is not None}
    assert layers == {name for name, _ in LAYERS}
    for name in ("prefix_sched.theory.evaluator", "prefix_sched.solvers.online.simulate", "prefix_sched.cli",
                 "prefix_sched.commands.simulate_cmd", "prefix_sched.reductions.verify",
                 "prefix_sched.solvers.exact.dp", "prefix_sched.studies.gap"):
        assert name in MODULES
    assert any(name.startswith("prefix_sched.studies.sweep.") for name in MODULES)


def test_no_module_imports_a_higher_layer():
    violations, unplaced, _ = scan(MODULES)
    assert not unplaced, f"modules that no layer claims (place them in LAYERS): {unplaced}"
    assert not violations, "lower layers import higher ones:\n" + "\n".join(violations)


def test_imports_form_a_dag():
    _, _, graph = scan(MODULES)
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, f"import cycles: {cycles[:5]}"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_imports_first_in_a_fresh_interpreter(package):
    """Each module is imported as the first module of the package tree (the package tree is
    dropped from ``sys.modules`` before each), in a fresh interpreter per package."""
    names = sorted(name for name in MODULES if name == package or name.startswith(package + ".")
                   if package != ROOT or layer_of(name) in (0, len(LAYERS) - 1))
    assert names
    script = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    for key in [k for k in sys.modules if k == 'prefix_sched' or k.startswith('prefix_sched.')]:\n"
        "        del sys.modules[key]\n"
        "    importlib.import_module(name)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


# ---- the scanner itself, on sources with a known answer -------------------------------------------

BAD_THEORY = '''"""A theory module that reaches up four ways.

>>> from prefix_sched.solvers.online.simulate import simulate
"""
from prefix_sched.theory.theorem2 import bounds
from . import evaluator
from ..solvers.online import policies


def lazy():
    from prefix_sched.reductions.verify import verify
    import importlib
    return importlib.import_module("prefix_sched.commands.solve_cmd")
'''


def test_scanner_finds_every_kind_of_upward_import(tmp_path):
    """Hand-worked: the module above imports upward at lines 3 (doctest), 7 (relative, module
    level), 11 (in a function) and 13 (import_module); bounds and evaluator are its own layer."""
    path, empty = tmp_path / "bad.py", tmp_path / "empty.py"
    path.write_text(BAD_THEORY)
    empty.write_text("")
    modules = {"prefix_sched.theory.bad": path, "prefix_sched.theory.theorem2.bounds": empty,
               "prefix_sched.theory.evaluator": empty}
    violations, unplaced, _ = scan({"prefix_sched.theory.bad": path})
    assert unplaced == []
    found = sorted((int(v.split(":")[1]), v.rsplit(", ", 1)[1]) for v in violations)
    assert found == [(3, "doctest"), (7, "module level"), (11, "in a function"), (13, "import_module")]
    assert any("prefix_sched.solvers.online.policies" in v for v in violations)
    _, _, graph = scan(modules)
    assert set(graph.successors("prefix_sched.theory.bad")) == {"prefix_sched.theory.theorem2.bounds",
                                                              "prefix_sched.theory.evaluator"}


def test_scanner_claims_no_unknown_module_and_orders_the_layers(tmp_path):
    path = tmp_path / "x.py"
    path.write_text("import prefix_sched.errors\nfrom prefix_sched import theory\n")
    assert scan({"prefix_sched.extra": path})[1] == ["prefix_sched.extra"]
    assert scan({"prefix_sched.studies.sweep.x": path})[0] == []
    assert [layer_of(x) for x in ("prefix_sched", "prefix_sched.errors", "prefix_sched.theory.cache",
                                  "prefix_sched.solvers.status", "prefix_sched.solvers.online.simulate",
                                  "prefix_sched.solvers.exact", "prefix_sched.solvers.approx.blocks",
                                  "prefix_sched.solvers.bounds.lower", "prefix_sched.reductions",
                                  "prefix_sched.studies.adversary", "prefix_sched.studies.sweep.spec",
                                  "prefix_sched.gpu_validation.fit", "prefix_sched.commands.common",
                                  "prefix_sched.cli")] \
        == [0, 0, 1, 2, 3, 5, 6, 7, 8, 9, 9, 10, 11, 11]
    assert layer_of("prefix_schedule") is None and layer_of("prefix_sched.extra") is None


def test_scanner_finds_an_import_cycle(tmp_path):
    """a -> b at module level and b -> a inside a function is a cycle; b -> a in a doctest is not."""
    a, b, c = tmp_path / "a.py", tmp_path / "b.py", tmp_path / "c.py"
    a.write_text("from prefix_sched.solvers import b\n")
    b.write_text("def f():\n    from prefix_sched.solvers.a import thing\n")
    c.write_text('"""\n>>> from prefix_sched.solvers.a import thing\n"""\n')
    _, _, graph = scan({"prefix_sched.solvers.a": a, "prefix_sched.solvers.b": b})
    assert sorted(map(sorted, nx.simple_cycles(graph))) == [["prefix_sched.solvers.a", "prefix_sched.solvers.b"]]
    _, _, graph = scan({"prefix_sched.solvers.a": a, "prefix_sched.solvers.b": c})
    assert list(nx.simple_cycles(graph)) == []
