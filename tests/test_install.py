"""How the package is found: installed, it imports whole; from a checkout that is not installed, it
stops at once with one line saying how to install (instead of half working)."""

from __future__ import annotations

import shutil
import subprocess
import sys

from paths import REPO


def test_an_uninstalled_checkout_says_how_to_install(tmp_path):
    """A copy of the checkout's ``prefix_sched/`` folder alone, imported with no installed package
    on the path (``-S -E``: no site-packages, no PYTHONPATH), fails with the install hint as the last
    line of the error."""
    shutil.copytree(REPO / "prefix_sched", tmp_path / "prefix_sched",
                    ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([sys.executable, "-S", "-E", "-c", "import prefix_sched"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last == ("ImportError: prefix_sched is not installed: run `pip install -e .` in the repository "
                    "(see README.md)")


def test_the_installed_package_has_every_layer():
    done = subprocess.run([sys.executable, "-c", "import prefix_sched.theory, prefix_sched.solvers, "
                           "prefix_sched.reductions, prefix_sched.studies, prefix_sched.gpu_validation"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
