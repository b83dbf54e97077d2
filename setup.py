"""Package discovery for the user's layout, complete by construction.

theory/, solvers/, reductions/, studies/ and gpu_validation/ sit at the top of the repository and install as
subpackages of ``prefix_sched``. Every folder with an ``__init__.py`` under each of them (and under
``prefix_sched/``) is found here, so a new subpackage can never be left out of the wheel. Everything
else about the project is in pyproject.toml.
"""

from setuptools import find_packages, setup

LAYOUT = {
    "prefix_sched": "prefix_sched",
    "prefix_sched.theory": "theory",
    "prefix_sched.solvers": "solvers",
    "prefix_sched.reductions": "reductions",
    "prefix_sched.studies": "studies",
    "prefix_sched.gpu_validation": "gpu_validation",
}

packages = []
for package, folder in LAYOUT.items():
    packages.append(package)
    packages.extend(f"{package}.{sub}" for sub in find_packages(folder))

setup(packages=packages, package_dir=LAYOUT)
