"""What a cache model can hold of a window at its start: the window lemma's credit, per model.

The one place the lower bounds ask a cache model anything (besides ``check_stream``): whether it
is Definition 2's one-prompt cache (the credit is the heaviest single earlier prompt, and the runs
lemma holds) and, for the other (radix) models, how many tokens it holds at most (the credit is the
union of the earlier prefixes, capped at ``C`` tokens, which weigh at most ``C + alpha C^2``,
Definition 2's cost of ``C`` tokens from an empty cache). A model that does not say is refused
by the model itself, with an InputError naming it.

Examples
--------
>>> from fractions import Fraction
>>> from prefix_sched.theory.cache import parse_cache
>>> [credit_rule(parse_cache(spec)) for spec in ("last", "unbounded", "lru:6")]
[CreditRule(last=True, capacity=None), CreditRule(last=False, capacity=None), CreditRule(last=False, capacity=6)]
>>> credit_rule(parse_cache("lru:6")).cap_weight(Fraction(1, 2))     # 6 + 36 / 2
24
"""

from __future__ import annotations

from dataclasses import dataclass

from prefix_sched.theory.cache import CacheModel
from prefix_sched.theory.cost import prefill_cost, scaled_cost
from prefix_sched.theory.numbers import Exact


@dataclass(frozen=True)
class CreditRule:
    """The credit of a window under one cache model.

    Attributes
    ----------
    last : bool
        Definition 2's one-prompt cache: the credit is the heaviest single earlier prompt's share.
    capacity : int or None
        Otherwise: the credit is every window prefix an earlier prompt has, capped at the weight of
        ``capacity`` tokens (None: no cap).
    """

    last: bool
    capacity: int | None

    def cap_weight(self, alpha: Exact) -> Exact | None:
        """The most ``capacity`` tokens can weigh, ``C + alpha C^2`` (None: no cap)."""
        return None if self.capacity is None else prefill_cost(self.capacity, 0, alpha)

    def cap_scaled(self, scale: int, alpha_scaled: int) -> int | None:
        """:meth:`cap_weight` in units of ``1 / scale`` token-time."""
        return None if self.capacity is None else scaled_cost(self.capacity, 0, scale, alpha_scaled)


def credit_rule(model: CacheModel) -> CreditRule:
    """The window lemma's credit under ``model`` (module docstring)."""
    capacity = None if model.is_last_prompt else model.token_capacity()
    return CreditRule(model.is_last_prompt, capacity)
