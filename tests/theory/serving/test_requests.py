"""Requests, workloads, objective classes and their seeded draw, durations with units."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from prefix_sched.errors import InputError
from prefix_sched.theory.serving.requests import (
    Request,
    Workload,
    assign_classes,
    parse_classes,
    parse_duration_us,
    strict_classes,
)


def test_the_seeds_classes():
    classes = parse_classes("strict=0.05:100ms,relaxed=0.95:500ms")
    assert [(c.name, c.share, c.tbt_us) for c in classes] == [("strict", Fraction(1, 20), 100_000),
                                                             ("relaxed", Fraction(19, 20), 500_000)]
    assert strict_classes(classes) == ("strict",)
    assert parse_classes(",".join(c.spec for c in classes)) == classes


def test_strict_ties_and_no_classes():
    assert strict_classes(parse_classes("a=0.5:1ms,b=0.5:1000us")) == ("a", "b")
    assert strict_classes(()) == ()


@pytest.mark.parametrize("text, message", [
    ("a=0.5:1ms,b=0.4:2ms", "add up to 9/10"),
    ("a=1:5", "with a unit"),
    ("a=1:0ms", "must be > 0"),
    ("a=1:-1ms", "must be > 0"),
    ("a=0:1ms,b=1:1ms", "must lie in (0, 1]"),
    ("a=1.5:1ms", "must lie in (0, 1]"),
    ("a=nan:1ms", "must be a number"),
    ("a=0.5:1ms,a=0.5:2ms", "'a' is given twice"),
    ("a:1ms", "is not NAME=SHARE:TBT"),
    ("=1:1ms", "is not NAME=SHARE:TBT"),
    ("", "NAME=SHARE:TBT"),
])
def test_bad_classes_are_refused(text, message):
    with pytest.raises(InputError) as info:
        parse_classes(text)
    assert message in str(info.value)


def test_durations():
    assert parse_duration_us("0.5s") == 500_000 and parse_duration_us("2.5ms") == 2500
    assert parse_duration_us("1/3us") == Fraction(1, 3)
    for bad in ("5", "ms", "-1s", "0us", "nanms", "1 h"):
        with pytest.raises(InputError):
            parse_duration_us(bad)


def test_class_draw_is_seeded_and_follows_the_shares():
    classes = parse_classes("strict=0.05:100ms,relaxed=0.95:500ms")
    a = assign_classes(50_000, classes, np.random.default_rng(5))
    b = assign_classes(50_000, classes, np.random.default_rng(5))
    assert np.array_equal(a, b)
    assert abs((a == 0).mean() - 0.05) < 0.005
    # one uniform draw per request, in order: the same generator state gives the same prefix
    c = assign_classes(100, classes, np.random.default_rng(5))
    assert np.array_equal(a[:100], c)
    assert (assign_classes(10, (), np.random.default_rng(0)) == -1).all()


def test_workload_validation():
    classes = parse_classes("a=1:1ms")
    w = Workload.from_lengths([3, 2], [1, 4], [5, Fraction(1, 2)], classes=classes, class_index=[0, -1])
    assert w.arrival_order == (1, 0)
    assert w.requests[0].tbt_slo_us == 1000 and w.requests[1].cls is None
    with pytest.raises(InputError, match="output length must be an integer >= 1"):
        Workload.from_lengths([3], [0], [0])
    with pytest.raises(InputError, match="at least one token"):
        Workload.from_lengths([0], [1], [0])
    with pytest.raises(InputError, match="duplicate request id 'x'"):
        Workload.from_lengths([1, 1], [1, 1], [0, 0], ids=["x", "x"])
    with pytest.raises(InputError, match="arrival must be an exact number"):
        Workload((Request(0, -1, 1, 1),))
    with pytest.raises(InputError, match="arrival must be an exact number"):
        Workload((Request(0, 0.5, 1, 1),))
    with pytest.raises(InputError, match="segments hold 3 tokens, not 4"):
        Workload((Request(0, 0, 4, 1, prompt=(("s", 3),)),))
    with pytest.raises(InputError, match="unknown class 'b'"):
        Workload((Request(0, 0, 1, 1, cls="b", tbt_slo_us=5),), classes)
    with pytest.raises(InputError, match="at least one request"):
        Workload(())
