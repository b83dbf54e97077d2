"""Every docstring example of the package runs, each module imported once, by its installed name.

pytest's own doctest collection imports a module from its file path; with the user's layout
(``theory/`` installed as ``prefix_sched.theory``) that made a second copy of every module under
the name ``theory.*``, whose classes and enums are not the package's. Here the modules are found
by walking the installed package (:func:`pkgutil.walk_packages`) and imported with
:func:`importlib.import_module`, so a doctest sees exactly what a user sees. The notebook builders'
helper (``notebook_builder``, on the test path) is collected the same way. One test per docstring
that holds examples; options as pytest's default (``ELLIPSIS``).
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import prefix_sched

SUBPACKAGES = ("theory", "solvers", "reductions", "studies", "gpu_validation")
"""The user's top-level folders, installed as subpackages (an editable install maps them from their
own folders, so they are walked one by one)."""
EXTRA_MODULES = ("notebook_builder",)
"""Modules outside the package whose examples run too (on pytest's ``pythonpath``)."""
FLAGS = doctest.ELLIPSIS


def module_names() -> list[str]:
    """Every module of the installed package, by dotted name, and :data:`EXTRA_MODULES`."""
    names = {"prefix_sched"}
    names.update(info.name for info in pkgutil.walk_packages(prefix_sched.__path__, "prefix_sched."))
    for folder in SUBPACKAGES:
        package = importlib.import_module(f"prefix_sched.{folder}")
        names.add(package.__name__)
        names.update(info.name for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."))
    return sorted(names) + list(EXTRA_MODULES)


def collect() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = []
    for name in module_names():
        module = importlib.import_module(name)
        tests.extend(test for test in finder.find(module, name) if test.examples)
    return sorted(tests, key=lambda test: test.name)


DOCTESTS = collect()


def test_every_package_folder_has_examples():
    """The walk reaches every package folder (a wrong walk would make the doctests vacuous)."""
    folders = {test.name.split(".")[1] for test in DOCTESTS if test.name.startswith("prefix_sched.")}
    assert {"theory", "solvers", "reductions", "studies", "gpu_validation", "commands"} <= folders
    assert len(DOCTESTS) > 130


@pytest.mark.parametrize("test", DOCTESTS, ids=[test.name for test in DOCTESTS])
def test_docstring_examples(test: doctest.DocTest):
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    result = runner.run(test, out=report.append, clear_globs=True)
    assert result.failed == 0, "".join(report)
