"""prefix-sched: scheduling LLM inference with prefix reuse, from the theory to checked numbers.

The subpackages follow the repository's layout, lowest first (a layer imports only those before
it; ``tests/test_layering.py`` keeps it so):

- :mod:`prefix_sched.theory` - the model: prompts, streams, cache models, Definition 2's cost and
  evaluator, generators, file formats, Theorem 2 as pure math;
- :mod:`prefix_sched.solvers` - online policies, exact engines, Appendix A, lower and upper bounds;
- :mod:`prefix_sched.reductions` - the Theorem 1 reduction from 3-PARTITION;
- :mod:`prefix_sched.studies` - the loops that check a claim or draw a figure, and the sweep engine;
- :mod:`prefix_sched.gpu_validation` - replaying schedules on a real transformer;
- :mod:`prefix_sched.cli` and :mod:`prefix_sched.commands` - the command line.

The folders ``theory/``, ``solvers/``, ``reductions/``, ``studies/`` and ``gpu_validation/`` sit at the
top of the repository and become subpackages only when the project is installed, so importing
``prefix_sched`` from a checkout that is not installed stops at once with one line saying how.
"""

import importlib.util as _util

__version__ = "0.1.0"

if _util.find_spec("prefix_sched.theory") is None:
    raise ImportError("prefix_sched is not installed: run `pip install -e .` in the repository (see README.md)")
