"""Theorem 2 and Corollary 3 of the first seed: the statements, the Definition 4 streams they speak
about, and the check that holds a schedule to the proven bound.

- :mod:`~prefix_sched.theory.theorem2.bounds`: the bounds as sympy expressions, derived and
  corrected (THEORY.md), evaluated exactly;
- :mod:`~prefix_sched.theory.theorem2.definition4`: Definition 4 streams from a user order, read back
  from prompts, the batch view's TTFTs, and every arrival order up to symmetry;
- :mod:`~prefix_sched.theory.theorem2.guarantee`: the CI check (:func:`check_order`,
  :func:`check_run`, :func:`assert_guarantee`) that fails when a schedule breaks the proven k-LPM
  bound.
"""

from prefix_sched.theory.theorem2.definition4 import (
    Definition4, batch_ttfts, canonical_user_sequences, definition4_stream, gated_stream, parse_definition4,
)
from prefix_sched.theory.theorem2.guarantee import GuaranteeCheck, GuaranteeViolation, assert_guarantee, check_order, check_run

__all__ = ["Definition4", "GuaranteeCheck", "GuaranteeViolation", "assert_guarantee", "batch_ttfts",
           "canonical_user_sequences", "check_order", "check_run", "definition4_stream", "gated_stream",
           "parse_definition4"]
