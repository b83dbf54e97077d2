"""What a run can compute and its reports and files can hold: checked before any work.

A policy run's times are exact (``int`` or ``Fraction``), but they are printed, plotted and stored
as floats (the sweep's Parquet columns are float64 and int64). So a stream, with its offered load
and ``alpha``, is refused before any work when a figure of one of its runs could leave a float's
range: every time of a run is at most :func:`time_bound`, the last arrival plus the cost of serving
every prompt whole, ``max_i a_i + sum_i (|p_i| + alpha |p_i|^2)`` (a run serves each prompt once,
never costing more than that, and starts each prefill at the latest at the last arrival or at the
end of the previous one). Counts of tokens (the tokens reused) must fit a signed 64-bit integer.

The serving model counts time in integer ticks held in int64 arrays: :func:`serving_problem` says
when a workload under a cost could not be held at all (the engine itself then bounds every
iteration's end). What it leaves out: the bounds of each option (the command checks those).

Examples
--------
>>> from prefix_sched.theory.generators import regular_arrival_shuffled_queue
>>> s = regular_arrival_shuffled_queue(n=4, r=2, u=5, d=5, delta=10, seed=0)
>>> time_bound(s), time_bound(s, alpha=1), time_bound(s, load="1/2")
(70, 470, 120)
>>> check_computable(s, load="1e-400")
Traceback (most recent call last):
...
prefix_sched.errors.InputError: load: 1e-400 makes the times of a run reach 4.0e+401 token-times, beyond a float's range (1.8e+308): they are printed and stored as floats
"""

from __future__ import annotations

import math
import sys
from decimal import Decimal
from fractions import Fraction
from typing import Any

from prefix_sched.errors import InputError
from prefix_sched.theory.generators import memory_bytes
from prefix_sched.theory.numbers import Exact, brief, exact_number
from prefix_sched.theory.parameters import INT64_MAX
from prefix_sched.theory.serving.costs import ticks_per_us_for
from prefix_sched.theory.stream import Stream

FLOAT_MAX = sys.float_info.max


def rescaled_last_arrival(stream: Stream, load: object = None) -> Exact:
    """The last arrival of ``stream`` after :func:`~prefix_sched.theory.load.rescale_to_load` to ``load``
    (as given when None), computed without building the rescaled stream."""
    arrivals = [q.arrival for q in stream.queries]
    first, last = min(arrivals), max(arrivals)
    if load is None or last == first:
        return last
    factor = Fraction(stream.total_tokens(), last - first) / Fraction(exact_number(load, "load"))
    return first + (last - first) * factor


def time_bound(stream: Stream, *, load: object = None, alpha: object = 0) -> Exact:
    """An upper bound on every time of a run of ``stream`` rescaled to ``load`` (the module docstring)."""
    alpha = exact_number(alpha, "alpha")
    lengths = [q.length for q in stream.queries]
    work = sum(lengths) + alpha * sum(length * length for length in lengths)
    value = rescaled_last_arrival(stream, load) + work
    return value.numerator if isinstance(value, Fraction) and value.denominator == 1 else value


def computable_problem(stream: Stream, *, load: object = None, alpha: object = 0) -> tuple[str, str] | None:
    """Why a run of ``stream`` at ``load`` with ``alpha`` could not be reported (the module
    docstring): ``(what, reason)`` with ``what`` one of ``"stream"``, ``"load"``, ``"alpha"`` (the
    value to blame: the load when the stream as given is fine), or None when it can.

    >>> from prefix_sched.theory.generators import regular_arrival_shuffled_queue
    >>> computable_problem(regular_arrival_shuffled_queue(n=4, r=2, u=5, d=5, delta=10), alpha="1e400")
    ('alpha', "1e400 makes the times of a run reach 4.0e+402 token-times, beyond a float's range (1.8e+308): they are printed and stored as floats")
    """
    tokens = stream.total_tokens()
    if tokens > INT64_MAX:
        return "stream", (f"it has {tokens} prompt tokens, more than a signed 64-bit count holds ({INT64_MAX})")
    arrivals = [q.arrival for q in stream.queries]
    span = max(arrivals) - min(arrivals)
    if span and Fraction(tokens, span) > FLOAT_MAX:
        return "stream", (f"its offered load {_sci(Fraction(tokens, span))} (its arrivals span {_sci(span)} token-times) "
                          f"is beyond a float's range ({FLOAT_MAX:.2g}): loads are printed and stored as floats")
    if load is not None and Fraction(exact_number(load, "load")) > FLOAT_MAX:
        return "load", f"{_show(load)} is beyond a float's range ({FLOAT_MAX:.2g}): loads are printed and stored as floats"
    bound = time_bound(stream)
    if bound > FLOAT_MAX:  # the stream as given, before any load or alpha
        return "stream", (f"its arrivals and prompts make the times of a run reach {_sci(bound)} token-times, beyond "
                          f"a float's range ({FLOAT_MAX:.2g}): they are printed and stored as floats")
    for what, value, bound in (("alpha", alpha, time_bound(stream, alpha=alpha)),
                               ("load", load, time_bound(stream, load=load, alpha=alpha))):
        if bound > FLOAT_MAX:
            return what, (f"{_show(value)} makes the times of a run reach {_sci(bound)} token-times, beyond a float's "
                          f"range ({FLOAT_MAX:.2g}): they are printed and stored as floats")
    return None


def check_computable(stream: Stream, *, load: object = None, alpha: object = 0,
                     names: tuple[str, str, str] = ("the stream", "load", "alpha")) -> None:
    """Raise :func:`computable_problem`'s reason as an InputError ``NAME: REASON``, ``names`` being how
    the caller names the stream, the load and alpha (``("STREAM", "--load", "--alpha")`` for a command).

    Raises
    ------
    InputError
        Naming the value.
    """
    problem = computable_problem(stream, load=load, alpha=alpha)
    if problem is not None:
        what, reason = problem
        raise InputError(f"{dict(zip(('stream', 'load', 'alpha'), names))[what]}: {reason}")


def _show(value: object) -> str:
    """A value as the user wrote it (text), or an exact number shortened to scientific notation."""
    if isinstance(value, str):
        return value if len(value) <= 40 and value.isprintable() else brief(value)
    if not isinstance(value, (int, Fraction)):
        return brief(value)
    value = Fraction(value)
    return str(value) if max(abs(value.numerator), value.denominator) < 10 ** 15 else _sci(value)


def _sci(value: Exact) -> str:
    value = Fraction(value)
    return f"{Decimal(value.numerator) / Decimal(value.denominator):.2g}"


TICKS_LIMIT = 2 ** 62
"""The serving engine's bound on exact times in ticks (its ``MAX_TICKS``): int64 with room for sums."""
BYTES_PER_TOKEN_TIME = 8
"""The engine keeps every output token's emission time (one int64) in memory."""


def serving_problem(workload: Any, cost: Any) -> str | None:
    """Why the serving engine could not hold ``workload``'s times under ``cost`` in int64 ticks, before it
    builds a single array: its tick (``1 / D`` us, ``D`` the least common denominator of the cost's
    coefficients and the arrivals), the last arrival, a coefficient in ticks or the summed prompt and
    output tokens reaching :data:`TICKS_LIMIT`, or every output token's time not fitting in memory;
    None when they fit (the engine then checks its own bound on every iteration's end).

    >>> from prefix_sched.theory.serving.requests import Workload
    >>> from prefix_sched.theory.serving.costs import parse_cost
    >>> serving_problem(Workload.from_lengths([3], [2], [10 ** 18]), parse_cost("seed"))
    'the last arrival, 1000000000000000000 us, is 5000000000000000000 ticks of 1/5 us, beyond 2^62'
    """
    arrivals = [r.arrival_us for r in workload.requests]
    D = math.lcm(cost.ticks_per_us(), ticks_per_us_for(arrivals))
    if D >= TICKS_LIMIT:
        return f"a tick would be 1/{_big(D)} us (the least common denominator of the cost and the arrivals), beyond 2^62"
    last = max(arrivals)
    if last * D >= TICKS_LIMIT:
        return f"the last arrival, {_big(last)} us, is {_big(last * D)} ticks of 1/{D} us, beyond 2^62"
    ticks = cost.in_ticks(D)
    for name, coefficient in (("k0", "c0"), ("kp", "cp"), ("kd", "cd"), ("kkv", "ckv"), ("katt2", "catt")):
        if getattr(ticks, name) >= TICKS_LIMIT:
            return (f"the cost's {coefficient} = {_show(getattr(cost, coefficient))} us is "
                    f"{_big(getattr(ticks, name))} ticks of 1/{D} us, beyond 2^62")
    tokens = sum(r.prompt_tokens + r.output_tokens for r in workload.requests)
    if tokens >= TICKS_LIMIT:
        return f"the requests hold {_big(tokens)} prompt and output tokens, beyond 2^62"
    outputs = sum(r.output_tokens for r in workload.requests)
    need, have = outputs * BYTES_PER_TOKEN_TIME, memory_bytes()
    if need > have:
        return (f"the requests ask for {_big(outputs)} output tokens, whose emission times need {_sci(need)} bytes, "
                f"more than this machine's memory ({_sci(have)} bytes)")
    return None


def _big(value: Exact) -> str:
    return _sci(value) if abs(value) >= 10 ** 21 else str(value)
