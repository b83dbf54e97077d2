"""Versions of what a result depends on, recorded in every result's settings.

>>> sorted(package_versions("prefix-sched"))
['platform', 'prefix-sched', 'python']
"""

from __future__ import annotations

import functools
import platform
import sys
from importlib import metadata


def package_versions(*packages: str) -> dict[str, str]:
    """Python, the platform and each named package's version ("not installed" when absent).

    Read once per process (reading package metadata costs about half a millisecond, more than a
    small exact solve); each call returns a fresh dict.
    """
    return dict(_versions(packages))


@functools.cache
def _versions(packages: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    found = {"python": sys.version.split()[0], "platform": platform.platform()}
    for package in packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return tuple(found.items())
