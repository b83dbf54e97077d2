"""The model of the first seed, as pure functions and data: nothing here schedules.

- :mod:`~prefix_sched.theory.numbers`: exact numbers (``int`` or ``Fraction``) read from text;
- :mod:`~prefix_sched.theory.prompt` and :mod:`~prefix_sched.theory.stream`: prompts as segments and
  streams of queries (Definition 1);
- :mod:`~prefix_sched.theory.cost`: Definition 2's prefill cost, written once;
- :mod:`~prefix_sched.theory.cache`: the cache models (Definition 2's previous prompt, SGLang's LRU
  radix cache, unbounded) behind one interface;
- :mod:`~prefix_sched.theory.evaluator`: the Definition 2 evaluator, the single source of truth for
  completion times and TTFTs;
- :mod:`~prefix_sched.theory.measures`: the one vocabulary of a policy run's figures (``p99``,
  ``max``, ``reused_share``, ``max_waited``, ...), each computed from an evaluation;
- :mod:`~prefix_sched.theory.load`: offered load and rescaling a stream to a load;
- :mod:`~prefix_sched.theory.generators`: Definition 4 streams, Poisson prefix trees, the
  shared-prefix workload;
- :mod:`~prefix_sched.theory.formats`: the file formats and their careful readers;
- :mod:`~prefix_sched.theory.theorem2`: Theorem 2 and Corollary 3 in sympy, and the guarantee check;
- :mod:`~prefix_sched.theory.outputs`: the one writer for result files; :mod:`~prefix_sched.theory.gantt`
  draws a schedule.

Examples
--------
>>> from prefix_sched.theory import Stream, evaluate
>>> s = Stream.from_records([("a", (("u", 5), ("x", 5)), 0), ("b", (("u", 5), ("y", 5)), 0)])
>>> evaluate(s, [0, 1]).ttft
(10, 15)
"""

from prefix_sched.theory.cache import DEFAULT_CACHE, CacheModel, parse_cache
from prefix_sched.theory.cost import prefill_cost
from prefix_sched.theory.evaluator import Evaluation, evaluate
from prefix_sched.theory.numbers import Exact, exact_number
from prefix_sched.theory.stream import Query, Stream

__all__ = ["DEFAULT_CACHE", "CacheModel", "Evaluation", "Exact", "Query", "Stream", "evaluate", "exact_number",
           "parse_cache", "prefill_cost"]
