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
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from prefix_sched.errors import InputError


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
    """

    form: str
    beta: float
    alpha: float
    overhead: float
    r2: float
    residuals: tuple[float, ...]

    def predict(self, length: int, reused: int) -> float:
        """Fitted seconds to prefill a prompt of ``length`` tokens with ``reused`` cached."""
        new, quad = length - reused, length * length - reused * reused
        return self.overhead + self.beta * (new + self.alpha * quad)

    def as_dict(self) -> dict[str, object]:
        """For result files."""
        return {"form": self.form, "beta_seconds_per_token": self.beta, "alpha": self.alpha,
                "overhead_seconds": self.overhead, "r2": self.r2, "residuals_seconds": list(self.residuals)}


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
                   *, overhead: bool = False) -> CostFit:
    """Fit Definition 2's cost (``overhead=True``: plus a fixed per-query cost) to measured seconds.

    Raises
    ------
    InputError
        If the series differ in length, have fewer points than coefficients + 1, hold an
        ``ov > |p|``, or the fit finds no per-token cost (``beta = 0``), so alpha is undefined.
    """
    if not len(lengths) == len(reused) == len(seconds):
        raise InputError(f"lengths, reused and seconds differ in size: {len(lengths)}, {len(reused)}, {len(seconds)}")
    if len(lengths) < 4:
        raise InputError(f"a cost fit needs at least 4 measurements, got {len(lengths)}")
    if any(not 0 <= o <= length for length, o in zip(lengths, reused)):
        raise InputError("every measurement needs 0 <= reused <= length")
    length = np.asarray(lengths, dtype=float)
    ov = np.asarray(reused, dtype=float)
    y = np.asarray(seconds, dtype=float)
    columns = [length - ov, length ** 2 - ov ** 2]
    if overhead:
        columns.insert(0, np.ones_like(length))
    design = np.column_stack(columns)
    coef = nonnegative_least_squares(design, y)
    c0, c_new, c_quad = (coef if overhead else np.concatenate([[0.0], coef])).tolist()
    if c_new <= 0:
        raise InputError("the fit found no per-token cost (beta = 0); alpha is undefined for these measurements")
    fitted = design @ coef
    return CostFit("overhead" if overhead else "definition2", c_new, c_quad / c_new, c0,
                   r_squared(y, fitted), tuple((y - fitted).tolist()))
