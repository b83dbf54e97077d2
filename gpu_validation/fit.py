"""Fit Definition 2's cost to measured prefill times by least squares; R^2 and residuals.

Definition 2 charges ``(|p| - ov) + alpha (|p|^2 - ov^2)`` token-times for a prefill. Measured in
seconds, that is ``t = beta * ((|p| - ov) + alpha (|p|^2 - ov^2))`` with ``beta`` the seconds per
token-time, a linear model in ``c_new = beta`` and ``c_quad = beta * alpha``:

    t = c_new * (|p| - ov) + c_quad * (|p|^2 - ov^2)                     (Definition 2)
    t = c_0 + c_new * (|p| - ov) + c_quad * (|p|^2 - ov^2)               (with a fixed overhead)

The second form is the correction for what Definition 2 leaves out: a per-query cost independent of
the tokens (kernel launches, Python, cache bookkeeping) that dominates small prefills. Both are
fitted by non-negative least squares (every coefficient >= 0, as a cost must be; solved exactly by
trying every active set, which is cheap for three columns) in floating point: a fit is a
measurement, not a verdict, so it is not done in exact arithmetic.

A free fit can put no cost on new tokens at all (``c_new = 0``): on short prompts, where a fixed
per-query cost dominates, noise can make a pure quadratic the best non-negative fit. Then alpha is
undefined and :class:`DegenerateFitError` says so; the caller may fix alpha from elsewhere (the
architecture's FLOP count) and fit only ``beta`` (``alpha=...``), recording that it did.

R^2 is ``1 - SS_res / SS_tot`` with ``SS_tot`` taken about the mean (also for the fit without an
intercept, which is the stricter choice).

Examples
--------
>>> lengths, reused = [100, 200, 400, 400], [0, 50, 0, 200]
>>> seconds = [2e-3 * ((l - o) + 1e-3 * (l * l - o * o)) for l, o in zip(lengths, reused)]
>>> fit = fit_cost_model(lengths, reused, seconds)
>>> f"{fit.beta:.3g} {fit.alpha:.3g} {fit.r2:.6f}"
'0.002 0.001 1.000000'
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from prefix_sched.errors import InputError


class DegenerateFitError(Exception):
    """The best non-negative fit puts no cost on new tokens (``beta = 0``): alpha is undefined.

    A measurement outcome, not bad input (so not an :class:`~prefix_sched.errors.InputError`): the
    timings are what they are, and they leave the cost model undetermined.
    """


@dataclass(frozen=True)
class CostFit:
    """A fitted prefill cost ``t = overhead + beta * ((L - ov) + alpha (L^2 - ov^2))`` in seconds.

    Attributes
    ----------
    form : {"definition2", "overhead"}
        Without or with the fixed per-query overhead.
    beta : float
        Seconds per token-time (``c_new``).
    alpha : float
        ``c_quad / c_new``; Definition 2's relative attention cost.
    overhead : float
        ``c_0`` in seconds (0 for the Definition 2 form).
    r2 : float
    residuals : tuple of float
        Measured minus fitted seconds, per point.
    alpha_source : {"fit", "fixed"}
        Fitted with the other coefficients, or given (only ``beta`` and ``c_0`` fitted).
    """

    form: str
    beta: float
    alpha: float
    overhead: float
    r2: float
    residuals: tuple[float, ...]
    alpha_source: str = "fit"

    def predict(self, length: int, reused: int) -> float:
        """Fitted seconds to prefill a prompt of ``length`` tokens with ``reused`` cached."""
        new, quad = length - reused, length * length - reused * reused
        return self.overhead + self.beta * (new + self.alpha * quad)

    def as_dict(self) -> dict[str, object]:
        """For result files."""
        return {"form": self.form, "beta_seconds_per_token": self.beta, "alpha": self.alpha,
                "alpha_source": self.alpha_source, "overhead_seconds": self.overhead, "r2": self.r2,
                "residuals_seconds": list(self.residuals)}


def r_squared(measured: Sequence[float], fitted: Sequence[float]) -> float:
    """``1 - SS_res / SS_tot`` (``SS_tot`` about the mean of ``measured``).

    >>> r_squared([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]), r_squared([1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
    (1.0, 0.0)
    """
    y, f = np.asarray(measured, dtype=float), np.asarray(fitted, dtype=float)
    if y.shape != f.shape or y.size < 2:
        raise InputError(f"R^2 needs two equal-length series of >= 2 values, got {y.size} and {f.size}")
    total = float(np.sum((y - y.mean()) ** 2))
    if total == 0:
        raise InputError("R^2 is undefined when every measured value is the same")
    return 1.0 - float(np.sum((y - f) ** 2)) / total


def nonnegative_least_squares(design: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``argmin ||design @ x - target||`` over ``x >= 0``, by trying every set of free columns.

    The optimum is the unconstrained least-squares solution on its support, so the best
    non-negative solution among all ``2^m`` supports is the answer (``m`` = columns, here <= 3).

    >>> nonnegative_least_squares(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([2.0, -1.0]))
    array([2., 0.])
    """
    rows, columns = design.shape
    best, best_error = np.zeros(columns), float(np.sum(target ** 2))
    for size in range(1, columns + 1):
        for support in itertools.combinations(range(columns), size):
            sub = design[:, support]
            coef, *_ = np.linalg.lstsq(sub, target, rcond=None)
            if np.any(coef < 0):
                continue
            error = float(np.sum((sub @ coef - target) ** 2))
            if error < best_error:
                best, best_error = np.zeros(columns), error
                best[list(support)] = coef
    return best


def fit_cost_model(lengths: Sequence[int], reused: Sequence[int], seconds: Sequence[float],
                   *, overhead: bool = False, alpha: float | None = None) -> CostFit:
    """Fit Definition 2's cost (``overhead=True``: plus a fixed per-query cost) to measured seconds.

    With ``alpha`` given, only ``beta`` (and ``c_0``) are fitted, on the single column
    ``(|p| - ov) + alpha (|p|^2 - ov^2)``.

    Raises
    ------
    InputError
        If the series differ in length, have fewer points than coefficients + 1, hold an
        ``ov > |p|``, or ``alpha`` is negative or not finite.
    DegenerateFitError
        If the fit finds no per-token cost (``beta = 0``), so alpha is undefined (free fit) or the
        measured time does not grow with the tokens at all (``alpha`` given).

    Examples
    --------
    Times that only a quadratic explains leave alpha undefined; fixing alpha fits beta alone:

    >>> lengths, reused = [100, 200, 300, 400], [0, 0, 0, 0]
    >>> seconds = [1e-6 * length ** 2 for length in lengths]
    >>> try:
    ...     fit_cost_model(lengths, reused, seconds)
    ... except DegenerateFitError as err:
    ...     print(err)
    the fit found no per-token cost (beta = 0); alpha is undefined for these measurements
    >>> fixed = fit_cost_model(lengths, reused, seconds, alpha=0.01)
    >>> fixed.alpha_source, fixed.alpha, fixed.beta > 0
    ('fixed', 0.01, True)
    """
    if not len(lengths) == len(reused) == len(seconds):
        raise InputError(f"lengths, reused and seconds differ in size: {len(lengths)}, {len(reused)}, {len(seconds)}")
    if len(lengths) < 4:
        raise InputError(f"a cost fit needs at least 4 measurements, got {len(lengths)}")
    if any(not 0 <= o <= length for length, o in zip(lengths, reused)):
        raise InputError("every measurement needs 0 <= reused <= length")
    if alpha is not None and not (math.isfinite(alpha) and alpha >= 0):
        raise InputError(f"a fixed alpha must be finite and >= 0, got {alpha}")
    length = np.asarray(lengths, dtype=float)
    ov = np.asarray(reused, dtype=float)
    y = np.asarray(seconds, dtype=float)
    new, quad = length - ov, length ** 2 - ov ** 2
    columns = [new, quad] if alpha is None else [new + alpha * quad]
    if overhead:
        columns.insert(0, np.ones_like(length))
    design = np.column_stack(columns)
    coef = nonnegative_least_squares(design, y).tolist()
    c0 = coef.pop(0) if overhead else 0.0
    c_new = coef[0]
    if c_new <= 0:
        if alpha is None:
            raise DegenerateFitError("the fit found no per-token cost (beta = 0); alpha is undefined for these "
                                     "measurements")
        raise DegenerateFitError(f"the measured prefill time does not grow with the tokens (beta = 0 even with "
                                 f"alpha fixed at {alpha:.4g}); calibrate with longer prompts")
    fitted = design @ np.asarray(([c0] if overhead else []) + coef)
    return CostFit("overhead" if overhead else "definition2", c_new, coef[1] / c_new if alpha is None else alpha,
                   c0, r_squared(y, fitted), tuple((y - fitted).tolist()), "fit" if alpha is None else "fixed")
