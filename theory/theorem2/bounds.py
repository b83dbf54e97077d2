"""Theorem 2 and Corollary 3 of the seed as exact statements, derived with sympy.

The seed lost every formula of Theorem 2; its proofs survive in prose. This module rebuilds each
bound from the proof's structure, with sympy doing the algebra (the intersection of the proof's two
lines is ``sympy.solve``'d, not typed in), and evaluates a bound exactly (``Fraction``) for given
parameters (checked against Definition 4's domain, every symbol replaced at once by an exact
rational). It leaves out simulation (:mod:`prefix_sched.studies.theorem2`) and the checker that
holds computed schedules to the bound (:mod:`prefix_sched.theory.theorem2.guarantee`).

Symbols (Definition 4 and Theorem 2): ``n`` queries, ``r`` queries per user, user history ``u``
tokens, document ``d`` tokens, inter-arrival gap ``Delta``, k-LPM's ``k``, the slack ``eps``, the
time ``s`` at which processing starts, and ``i`` the arrival rank (1 = oldest).

The views (see :mod:`prefix_sched.solvers.online.simulate`):

- ``batch``: the theorem's own setting. Processing starts at ``s >= (n - 1) Delta``, when every
  query has arrived (Section 5: "the assumption that processing begins [after the queue arrived]
  in Theorem 2"), so the online and fixed-order decisions coincide; TTFT is still measured from
  each query's arrival ``(i - 1) Delta``.
- ``fixed`` and ``online``: processing may start at time 0.

k-LPM here is the toolkit's ``k-lpm`` with ``k = r - 1`` and ``cycle_start="fcfs"``: one FCFS step
then ``r - 1`` LPM steps, a cycle of ``r`` decisions (the seed's "k = r" counts the FCFS step in the
cycle). With every query waiting, each cycle serves one whole user group: its oldest waiting query,
then the ``r - 1`` others (overlap ``u``, any tie-breaking). Groups are served in the order of their
oldest member; a cycle costs ``u + r d``; the whole queue costs ``n (u/r + d)``.

Examples
--------
>>> p = dict(n=8, r=2, u=5, d=5, Delta=0, s=0)
>>> KLPM_TIGHT.value(**p), KLPM_PAPER.value(**p)
(Fraction(60, 1), Fraction(60, 1))
>>> KLPM_INTERSECTION
n/r
>>> KLPM_TIGHT.value(n=4, r=2, u=1, d=1, Delta=8, s=24) > KLPM_PAPER.value(n=4, r=2, u=1, d=1, Delta=8, s=24)
True
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import math

import sympy as sp

from prefix_sched.errors import InputError
from prefix_sched.theory.numbers import exact_int, exact_number

n, r, u, d, k = sp.symbols("n r u d k", positive=True, integer=True)
Delta, s = sp.symbols("Delta s", nonnegative=True)
eps = sp.symbols("epsilon", positive=True)
i = sp.symbols("i", positive=True)

SYMBOLS = {"n": n, "r": r, "u": u, "d": d, "Delta": Delta, "s": s, "eps": eps}

# ---- k-LPM: the proof's lines (Section 4.2, "k-LPM" part) -------------------------------------
ARRIVAL = (i - 1) * Delta  # arrival of the i-th oldest query
CYCLE = u + r * d  # one whole user group
TOTAL = n * (u / r + d)  # the whole queue: n/r users, n docs

# The paper's two lines: "the i-th query must be processed by s + i (u + r d)" (increasing) and
# "all queries finish by s + n (u/r + d)" (decreasing); TTFT subtracts the arrival.
PAPER_INCREASING = s + i * CYCLE - ARRIVAL
PAPER_DECREASING = s + TOTAL - ARRIVAL
KLPM_INTERSECTION = sp.solve(sp.Eq(PAPER_INCREASING, PAPER_DECREASING), i)[0]
_PAPER_PEAK = sp.simplify(PAPER_DECREASING.subs(i, KLPM_INTERSECTION))

# The corrected lines. Groups are served in the order of their oldest member (the "head"); the
# i-th oldest query's group is served in a cycle j <= i, and j = i only if it is that cycle's FCFS
# pick (served first in its cycle). So a head finishes by s + (min(i, n/r) - 1)(u + r d) + u + d,
# a non-head (served by an LPM step, at worst last in its group) by s + min(i - 1, n/r)(u + r d).
HEAD_INCREASING = s + (i - 1) * CYCLE + u + d - ARRIVAL
HEAD_DECREASING = s + (n / r - 1) * CYCLE + u + d - ARRIVAL
TAIL_INCREASING = s + (i - 1) * CYCLE - ARRIVAL
TAIL_DECREASING = s + TOTAL - ARRIVAL
HEAD_INTERSECTION = sp.solve(sp.Eq(HEAD_INCREASING, HEAD_DECREASING), i)[0]
TAIL_INTERSECTION = sp.solve(sp.Eq(TAIL_INCREASING, TAIL_DECREASING), i)[0]
_HEAD_PEAK = sp.expand(HEAD_INCREASING.subs(i, HEAD_INTERSECTION))
_TAIL_PEAK = sp.expand(TAIL_INCREASING.subs(i, TAIL_INTERSECTION))
_FIRST = sp.expand(HEAD_INCREASING.subs(i, 1))  # the oldest query, served first of all

# ---- LPM (uniformly random tie-breaking) ------------------------------------------------------
# Completion at position p is at least s + p d + ceil(p/r) u: every doc is prefilled, and at least
# ceil(p/r) distinct users appear among p queries. Event E: one of the eps n oldest queries is
# served at a position p >= (1 - eps) n. Then its TTFT is at least this:
_LPM_LOWER = s + (1 - eps) * n * (u / r + d) - (eps * n - 1) * Delta
# LPM's order is independent of the (uniform) arrival order, so the arrival ranks in serving order
# form a uniform permutation: P(not E) = C(n - m, L) / C(n, L), m = floor(eps n) early queries,
# L = n - ceil((1 - eps) n) + 1 late positions.
_M = sp.floor(eps * n)
_L = n - sp.ceiling((1 - eps) * n) + 1
_LPM_FAILURE = sp.binomial(n - _M, _L) / sp.binomial(n, _L)

# ---- FCFS -------------------------------------------------------------------------------------
# Serving order = arrival order. X = number of adjacent arrivals with the same user; each adjacent
# pair shares a user with probability (r - 1)/(n - 1), so E[X] is:
PAIR_PROBABILITY = (r - 1) / (n - 1)
EXPECTED_REUSES = sp.simplify((n - 1) * PAIR_PROBABILITY)
# The last arrival finishes at s + n (u + d) - X u or later; Markov: P(X >= eps n) <= E[X]/(eps n).
_FCFS_LOWER = s + n * (u + d) - eps * n * u - (n - 1) * Delta
_FCFS_FAILURE = EXPECTED_REUSES / (eps * n)


# ---- The parameters' domain (Definition 4 and Theorem 2) ---------------------------------------
# name -> (least value, whether the least value itself is allowed, whether it must be an integer).
# u and d may be rationals: the alpha > 0 bounds use effective_lengths' (u', d'), which are >= the
# token lengths. eps also has an upper end: 0 < eps < 1.
_DOMAIN = {
    "n": (1, True, True), "r": (1, True, True), "u": (1, True, False), "d": (1, True, False),
    "Delta": (0, True, False), "s": (0, True, False), "eps": (0, False, False),
}


def check_parameters(**params: object) -> dict[str, Fraction]:
    """Check Theorem 2's parameters against their domain and return them as exact fractions.

    The domain is Definition 4's, as the CLI enforces it: ``n >= 1`` and ``r >= 1`` integers with
    ``r`` dividing ``n``, ``u >= 1`` and ``d >= 1`` (token lengths; rationals are admitted for the
    alpha-rescaled lengths of :func:`effective_lengths`), ``Delta >= 0``, ``s >= 0`` and
    ``0 < eps < 1``. Values are read by :func:`~prefix_sched.theory.numbers.exact_number` (an int, a
    Fraction, a decimal or ``"p/q"``); any subset of the names in :data:`SYMBOLS` may be given.

    Raises
    ------
    InputError
        Naming the first parameter that is unknown, not an exact number, or outside its domain.

    Examples
    --------
    >>> check_parameters(n=4, r="2", Delta="383/2")
    {'n': Fraction(4, 1), 'r': Fraction(2, 1), 'Delta': Fraction(383, 2)}
    >>> check_parameters(n=26, r=2, u=0)
    Traceback (most recent call last):
    ...
    prefix_sched.errors.InputError: u must be >= 1, got 0
    """
    unknown = set(params) - set(SYMBOLS)
    if unknown:
        raise InputError(f"unknown parameter(s) {sorted(unknown)}; valid: {sorted(SYMBOLS)}")
    values = {}
    for name, value in params.items():
        least, closed, integral = _DOMAIN[name]
        number = exact_int(value, name) if integral else exact_number(value, name)
        if number < least or (number == least and not closed):
            raise InputError(f"{name} must be {'>=' if closed else '>'} {least}, got {value!r}")
        if name == "eps" and number >= 1:
            raise InputError(f"eps must be < 1, got {value!r}")
        values[name] = Fraction(number)
    if "n" in values and "r" in values and values["n"] % values["r"]:
        raise InputError(f"r must divide n, got n={params['n']!r}, r={params['r']!r}")
    return values


def _rationals(values: dict[str, Fraction]) -> dict[sp.Symbol, sp.Rational]:
    """Checked values as exact sympy numbers, keyed by symbol."""
    return {SYMBOLS[name]: sp.Rational(v.numerator, v.denominator) for name, v in values.items()}


def _substitute(expr: sp.Expr, values: dict[str, Fraction]) -> Fraction:
    """``expr`` at the checked ``values``: every symbol replaced at once, the result read back exactly.

    ``xreplace`` swaps all symbols in one pass, so no partly substituted ``Max`` is ever simplified
    with the symbols' assumptions (``u`` positive integer, hence ``u >= 1``) against values that
    were already put in; the result is a sympy ``Rational`` whose numerator and denominator are the
    ``Fraction``'s. Nothing is rounded or guessed (no ``nsimplify``).
    """
    names = {symbol: name for name, symbol in SYMBOLS.items()}
    missing = sorted(names.get(x, str(x)) for x in expr.free_symbols if names.get(x) not in values)
    if missing:
        raise InputError(f"{expr} needs values for {missing}, got {sorted(values)}")
    result = expr.xreplace(_rationals(values))
    if not result.is_Rational:
        shown = ", ".join(f"{name}={v}" for name, v in values.items())
        raise InputError(f"{expr} at {shown} is {result}, not a rational number")
    return Fraction(int(result.p), int(result.q))


@dataclass(frozen=True)
class Statement:
    """One reconstructed statement of Theorem 2, with exactly what it is about.

    Attributes
    ----------
    name : str
    policy : {"lpm", "fcfs", "k-lpm"}
    k : str
        k-LPM's ``k`` in terms of ``r`` (toolkit convention: LPM steps per cycle).
    cycle_start : str or None
        ``"fcfs"`` or ``"lpm"`` for k-LPM.
    tie_break : str
        ``"random"`` (uniform), ``"oldest"`` or ``"any"``.
    views : tuple of str
        The views it is claimed for, with the start time each uses (``s``).
    direction : {"lower", "upper"}
        Whether ``bound`` bounds max TTFT from below or above.
    guarantee : {"deterministic", "whp"}
        ``whp``: holds with probability at least ``1 - failure`` over the shuffle (and ties).
    bound : sympy expression
    failure : sympy expression or None
        An upper bound on the probability that ``bound`` fails (``whp`` statements).
    status : str
        ``verified``, ``refuted`` or ``corrected-and-verified`` (see THEORY.md).
    batch_start : bool
        Whether every view it is claimed for starts processing after the last arrival, so that
        :meth:`value` refuses ``s < (n - 1) Delta``.
    """

    name: str
    policy: str
    k: str
    cycle_start: str | None
    tie_break: str
    views: tuple[str, ...]
    direction: str
    guarantee: str
    bound: sp.Expr
    failure: sp.Expr | None
    status: str
    batch_start: bool = False

    def value(self, **params: object) -> Fraction:
        """The bound at ``params`` (checked by :func:`check_parameters`), exactly.

        Raises
        ------
        InputError
            If a parameter is outside its domain, a symbol of the bound has no value, or (for a
            ``batch_start`` statement) ``s < (n - 1) Delta``.

        Examples
        --------
        >>> KLPM_TIGHT.value(n=12, r=3, u=16, d=1, Delta="383/2", s="4219/2")
        Fraction(4253, 2)
        >>> KLPM_TIGHT.value(n=4, r=2, u=1, d=1, Delta=2, s=1)
        Traceback (most recent call last):
        ...
        prefix_sched.errors.InputError: Theorem 2 (k-LPM), corrected and tight is claimed for s >= (n - 1) Delta = 6, got s = 1
        """
        values = check_parameters(**params)
        if self.batch_start and {"n", "Delta", "s"} <= set(values):
            last = (values["n"] - 1) * values["Delta"]
            if values["s"] < last:
                raise InputError(f"{self.name} is claimed for s >= (n - 1) Delta = {last}, got s = {params['s']}")
        return _substitute(self.bound, values)

    def failure_probability(self, **params: object) -> Fraction:
        """The proof's bound on the probability that ``bound`` fails (capped at 1).

        >>> LPM_LOWER.failure_probability(n=8, eps="1/4"), KLPM_TIGHT.failure_probability(n=8)
        (Fraction(5, 14), Fraction(0, 1))
        """
        values = check_parameters(**params)
        if self.failure is None:
            return Fraction(0)
        return min(Fraction(1), _substitute(self.failure, values))


def evaluate_expression(expr: sp.Expr, **params: object) -> Fraction:
    """Evaluate ``expr`` exactly at ``params`` (names from :data:`SYMBOLS`), as a ``Fraction``.

    Every parameter is checked by :func:`check_parameters`; the symbols are replaced all at once by
    exact sympy rationals and the result is read back as a ``Fraction``.

    Raises
    ------
    InputError
        If a parameter is unknown or outside its domain, a symbol of ``expr`` has no value, or the
        value is not a rational number (``expr`` holds a root, or divides by zero there).

    Examples
    --------
    >>> evaluate_expression(n * (u / r + d), n=4, r=2, u=5, d=5)
    Fraction(30, 1)
    >>> evaluate_expression(sp.sqrt(n), n=2)
    Traceback (most recent call last):
    ...
    prefix_sched.errors.InputError: sqrt(n) at n=2 is sqrt(2), not a rational number
    """
    return _substitute(expr, check_parameters(**params))


def effective_lengths(u_tokens: int, d_tokens: int, alpha: object) -> tuple[Fraction, Fraction]:
    """Corollary 3's rescaling to ``alpha > 0``: the ``(u, d)`` with the same costs at alpha = 0.

    Under Definition 4 a query costs ``u + d + alpha (u + d)^2`` without reuse and
    ``d + alpha ((u + d)^2 - u^2)`` after a query of its user, so every bound holds with
    ``d' = d + alpha (2 u d + d^2)`` and ``u' = u + alpha u^2``. ``u`` and ``d`` are token counts
    (integers >= 1), ``alpha >= 0``.

    >>> effective_lengths(5, 5, 0), effective_lengths(2, 1, Fraction(1, 2))
    ((Fraction(5, 1), Fraction(5, 1)), (Fraction(4, 1), Fraction(7, 2)))
    """
    u_tokens = exact_int(u_tokens, "u", minimum=1)
    d_tokens = exact_int(d_tokens, "d", minimum=1)
    a = Fraction(exact_number(alpha, "alpha", minimum=0))
    return Fraction(u_tokens) + a * u_tokens**2, Fraction(d_tokens) + a * (2 * u_tokens * d_tokens + d_tokens**2)


_BATCH = ("batch (s >= (n-1) Delta)",)

LPM_LOWER = Statement(
    "Theorem 2 (LPM)", "lpm", "inf", None, "random", _BATCH, "lower", "whp",
    _LPM_LOWER, _LPM_FAILURE, "verified", batch_start=True,
)
FCFS_LOWER = Statement(
    "Theorem 2 (FCFS)", "fcfs", "0", None, "any",
    ("batch (s >= (n-1) Delta)", "online (s = 0)", "fixed (s = 0)"), "lower", "whp",
    _FCFS_LOWER, _FCFS_FAILURE, "verified",
)
KLPM_PAPER = Statement(
    "Theorem 2 (k-LPM), the proof's intersection value", "k-lpm", "r - 1", "fcfs", "any", _BATCH,
    "upper", "deterministic", _PAPER_PEAK, None, "refuted", batch_start=True,
)
KLPM_MODEL_READING = Statement(
    "Theorem 2 (k-LPM), MODEL.md's reading n(u/r + d - Delta/r)", "k-lpm", "r - 1", "fcfs", "any",
    ("online (s = 0)", "fixed (s = 0)"), "upper", "deterministic",
    sp.expand(_PAPER_PEAK.subs(s, 0) - Delta), None, "refuted",
)
KLPM_TIGHT = Statement(
    "Theorem 2 (k-LPM), corrected and tight", "k-lpm", "r - 1", "fcfs", "any",
    ("batch (s >= (n-1) Delta)", "fixed (s = (n-1) Delta)"), "upper", "deterministic",
    sp.Max(_FIRST, _HEAD_PEAK, _TAIL_PEAK), None, "corrected-and-verified", batch_start=True,
)
STATEMENTS = (LPM_LOWER, FCFS_LOWER, KLPM_PAPER, KLPM_MODEL_READING, KLPM_TIGHT)

# ---- Corollary 3 --------------------------------------------------------------------------------
LAST_ARRIVAL = (n - 1) * Delta


def _slope(expr: sp.Expr) -> sp.Expr:
    """The coefficient of ``n`` in a bound that is linear in ``n`` once ``s = (n-1) Delta``."""
    return sp.simplify(sp.diff(sp.expand(expr.subs(s, LAST_ARRIVAL)), n))


# With u + r d > Delta the tail peak dominates KLPM_TIGHT for large n (its slope is the largest).
KLPM_SLOPE = _slope(_TAIL_PEAK)
LPM_SLOPE = _slope(_LPM_LOWER)
FCFS_SLOPE = _slope(_FCFS_LOWER)
# Corollary 3's region: slopes strictly ordered (the eps -> 0 limit, then any small eps works).
COROLLARY3_REGION = sp.And(
    sp.simplify(LPM_SLOPE.subs(eps, 0) - KLPM_SLOPE) > 0,
    sp.simplify(FCFS_SLOPE.subs(eps, 0) - KLPM_SLOPE) > 0,
)


def in_corollary3_region(r_value: int, u_value: object, delta_value: object) -> bool:
    """Whether ``(r, u, Delta)`` lies in Corollary 3's region, computed from the slopes.

    The region is ``r >= 2`` and ``0 < Delta < u`` (``d`` cancels); the parameters are checked by
    :func:`check_parameters`:

    >>> in_corollary3_region(4, 100, 50), in_corollary3_region(4, 100, 0), in_corollary3_region(1, 100, 50)
    (True, False, False)
    >>> in_corollary3_region(4, 100, "99/2"), in_corollary3_region(2, 100, 100)
    (True, False)
    """
    values = _rationals(check_parameters(r=r_value, u=u_value, Delta=delta_value))
    return bool(COROLLARY3_REGION.xreplace({**values, d: sp.Integer(1)}))


def corollary3_threshold(r_value: int, u_value: object, d_value: object, delta_value: object, eps_value: object) -> int | None:
    """The least multiple ``n`` of ``r`` from which KLPM_TIGHT < min(LPM_LOWER, FCFS_LOWER) for good.

    All bounds are taken with ``s = (n - 1) Delta``. Each of KLPM_TIGHT's three terms and each lower
    bound is linear in ``n``, so every difference (lower bound minus term) is a line; the comparison
    holds for good exactly from the largest root on, provided every slope is positive. Returns
    ``None`` when some slope is not (``eps`` too large, or outside Corollary 3's region). The
    parameters are checked by :func:`check_parameters`.

    >>> corollary3_threshold(4, 100, 5, 50, "1/10")
    4
    >>> corollary3_threshold(4, 100, 5, 150, "1/100") is None
    True
    """
    base = _rationals(check_parameters(r=r_value, u=u_value, d=d_value, Delta=delta_value, eps=eps_value))
    roots = []
    for lower in (_LPM_LOWER, _FCFS_LOWER):
        for term in (_FIRST, _HEAD_PEAK, _TAIL_PEAK):
            gap = sp.expand((lower - term).subs(s, LAST_ARRIVAL).xreplace(base))
            slope = gap.coeff(n)
            if slope <= 0:
                return None
            roots.append(-gap.subs(n, 0) / slope)
    candidate = max(1, int(sp.floor(max(roots))) + 1)
    r_int = int(base[r])
    return candidate + (-candidate) % r_int


def lpm_failure(n_value: int, eps_value: object) -> Fraction:
    """LPM_LOWER's failure probability ``C(n - m, L) / C(n, L)``, exactly (fast path of its sympy form).

    >>> lpm_failure(100, "1/10") == LPM_LOWER.failure_probability(n=100, eps="1/10")
    True
    """
    values = check_parameters(n=n_value, eps=eps_value)
    n_int, e = int(values["n"]), values["eps"]
    early = math.floor(e * n_int)
    late = n_int - math.ceil((1 - e) * n_int) + 1
    return Fraction(math.comb(n_int - early, late), math.comb(n_int, late))


def corollary3_sample_size(
    r_value: int, u_value: object, d_value: object, delta_value: object, eps_value: object, delta_prob: object,
    max_n: int = 1_000_000,
) -> int | None:
    """The least multiple ``n`` of ``r``, from :func:`corollary3_threshold` on, at which the proof
    guarantees Corollary 3 with probability ``1 - delta_prob``: the bounds separate and the two
    failure probabilities (LPM's exact, FCFS's Markov) add up to at most ``delta_prob``.

    ``0 < delta_prob < 1``; ``None`` if no ``n <= max_n`` qualifies.

    >>> corollary3_sample_size(4, 100, 5, 50, "1/10", "1/10")
    360
    """
    start = corollary3_threshold(r_value, u_value, d_value, delta_value, eps_value)
    budget = Fraction(exact_number(delta_prob, "delta (failure probability)"))
    if not 0 < budget < 1:
        raise InputError(f"delta (failure probability) must be in (0, 1), got {delta_prob!r}")
    max_n = exact_int(max_n, "max_n", minimum=1)
    if start is None:
        return None
    r_int = exact_int(r_value, "r")
    e = Fraction(exact_number(eps_value, "eps"))
    for n_value in range(start, max_n + 1, r_int):
        fcfs = Fraction(r_int - 1) / (e * n_value)
        if fcfs <= budget and lpm_failure(n_value, e) + fcfs <= budget:
            return n_value
    return None
