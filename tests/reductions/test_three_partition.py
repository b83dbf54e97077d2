"""3-PARTITION instances: validation, the JSON file format, the exact decider and the generators."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from prefix_sched.errors import FormatError, InputError
from prefix_sched.reductions.three_partition import (
    ThreePartition,
    certified_no,
    decide_partition,
    from_json,
    planted_yes,
    read_instance,
    size_range,
    write_instance,
)


def brute_force(sizes: tuple[int, ...], bound: int) -> bool:
    """Reference decider: try every split of the indices into triples (first index always in the first triple)."""
    def split(rest: tuple[int, ...]) -> bool:
        if not rest:
            return True
        first, others = rest[0], rest[1:]
        for j, k in itertools.combinations(range(len(others)), 2):
            if sizes[first] + sizes[others[j]] + sizes[others[k]] == bound:
                if split(tuple(x for i, x in enumerate(others) if i not in (j, k))):
                    return True
        return False
    return split(tuple(range(len(sizes))))


def random_valid(m: int, bound: int, rng: np.random.Generator) -> ThreePartition:
    lo, hi = size_range(bound)
    while True:
        head = [int(x) for x in rng.integers(lo, hi + 1, size=3 * m - 1)]
        if lo <= m * bound - sum(head) <= hi:
            return ThreePartition(tuple(head + [m * bound - sum(head)]), bound)


@pytest.mark.parametrize(("sizes", "bound", "message"), [
    ((), 40, "3m sizes"),
    ((12, 13, 15, 12), 40, "3m sizes"),
    ((12, 13, 15.0), 40, "a_3 must be a positive integer"),
    ((12, True, 15), 40, "a_2 must be a positive integer"),
    ((12, 13, -15), 40, "a_3 must be a positive integer"),
    ((10, 15, 15), 40, "a_1 = 10 must satisfy B/4 < a_i < B/2"),  # a = B/4 exactly
    ((20, 11, 9), 40, "a_1 = 20 must satisfy"),  # a = B/2 exactly
    ((12, 13, 16), 40, "must sum to m*B = 1*40 = 40, got 41"),
    ((12, 13, 15), 0, "bound B must be a positive integer"),
])
def test_invalid_instances_are_refused_with_the_value(sizes, bound, message):
    with pytest.raises(InputError, match=message.replace("*", r"\*")):
        ThreePartition(sizes, bound)


def test_strict_bounds_make_every_group_a_triple():
    """B/4 < a < B/2: any subset summing to B has exactly three members (exhaustive for B = 40)."""
    lo, hi = size_range(40)
    for size in (2, 4):
        for combo in itertools.combinations_with_replacement(range(lo, hi + 1), size):
            assert sum(combo) != 40


@pytest.mark.parametrize("m", [1, 2, 3])
@pytest.mark.parametrize("bound", [13, 21, 40])
def test_decider_matches_brute_force(m, bound):
    rng = np.random.default_rng([m, bound])
    for _ in range(25):
        instance = random_valid(m, bound, rng)
        result = decide_partition(instance)
        assert result.answer == brute_force(instance.sizes, bound)
        if result.answer:
            instance.check_partition(result.groups)
        else:
            assert result.groups is None


@pytest.mark.parametrize("m", [1, 2, 4, 6])
def test_planted_yes_holds_its_partition_and_is_reproducible(m):
    instance = planted_yes(m, seed=7)
    instance.check_partition(instance.meta["planted"])
    assert instance == planted_yes(m, seed=7)
    assert decide_partition(instance).answer


@pytest.mark.parametrize("m", [2, 3])
def test_certified_no_is_a_no_for_brute_force(m):
    for seed in range(4):
        instance = certified_no(m, seed=seed)
        assert not brute_force(instance.sizes, instance.bound)
        assert instance.meta["tries"] >= 1


def test_no_instances_do_not_exist_for_m_1():
    lo, hi = size_range(40)
    assert all(brute_force(c, 40) for c in itertools.product(range(lo, hi + 1), repeat=3) if sum(c) == 40)
    with pytest.raises(InputError, match="no 3-PARTITION no-instance exists for m = 1"):
        certified_no(1)


def test_certified_no_gives_up_with_a_clear_error():
    """B = 12 allows only a_i = 4 or 5, so sum 2B forces six 4s: every instance is a yes."""
    with pytest.raises(InputError, match="no no-instance found in 30 tries for m = 2, B = 12"):
        certified_no(2, 12, max_tries=30)


def test_generators_refuse_bounds_without_triples():
    with pytest.raises(InputError, match="B = 8 admits no triple of sizes"):
        planted_yes(2, 8)


def test_file_round_trip(tmp_path):
    instance = planted_yes(3, seed=1)
    path = tmp_path / "inst.json"
    write_instance(instance, path)
    again = read_instance(path)
    assert again == instance and dict(again.meta) == json.loads(json.dumps(dict(instance.meta)))


def test_file_without_b_derives_it(tmp_path):
    path = tmp_path / "inst.json"
    path.write_text(json.dumps({"format": "prefix-sched.3-partition", "version": 1, "sizes": [5, 6, 7, 5, 5, 8]}))
    assert read_instance(path).bound == 18


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "not valid JSON"),
    ("[1, 2, 3]", "expected a JSON object"),
    ('{"format": "other", "version": 1, "sizes": [5, 6, 7]}', "field 'format' must be"),
    ('{"format": "prefix-sched.3-partition", "version": 2, "sizes": [5, 6, 7]}', "unsupported version 2"),
    ('{"format": "prefix-sched.3-partition", "version": 1, "sizes": "5 6 7"}', "'sizes' must be a list"),
    ('{"format": "prefix-sched.3-partition", "version": 1, "sizes": [5, 6, 7], "extra": 1}', "unknown fields"),
    ('{"format": "prefix-sched.3-partition", "version": 1, "sizes": [5, 6, 7, 8]}', "cannot derive B"),
    ('{"format": "prefix-sched.3-partition", "version": 1, "sizes": [5, 6, 8, 5, 5, 8]}', "not divisible by m = 2"),
    ('{"format": "prefix-sched.3-partition", "version": 1, "B": 18, "sizes": [4, 6, 8]}', "a_1 = 4 must satisfy"),
    ('{"format": "prefix-sched.3-partition", "version": 1, "B": 18, "sizes": [5, 6, 7], "meta": 3}', "'meta'"),
])
def test_malformed_files_name_the_file_and_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(FormatError, match=message) as info:
        read_instance(path)
    assert str(path) in str(info.value)


def test_missing_file_is_a_format_error(tmp_path):
    with pytest.raises(FormatError, match="cannot read"):
        read_instance(tmp_path / "missing.json")


def test_check_partition_refuses_wrong_sums():
    instance = ThreePartition((5, 6, 7, 5, 5, 8), 18)
    with pytest.raises(InputError, match=r"sizes \[5, 6, 5\] summing to 16"):
        instance.check_partition([(0, 1, 3), (2, 4, 5)])
    assert from_json(instance.to_json()) == instance
