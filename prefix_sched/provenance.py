"""Versions of what a result depends on, recorded in every result's settings.

>>> sorted(package_versions("prefix-sched"))
['platform', 'prefix-sched', 'python']
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata


def package_versions(*packages: str) -> dict[str, str]:
    """Python, the platform and each named package's version ("not installed" when absent)."""
    found = {"python": sys.version.split()[0], "platform": platform.platform()}
    for package in packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found
