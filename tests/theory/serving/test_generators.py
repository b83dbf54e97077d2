"""The shared-prefix serving workload: the same prompts, in the same shuffled order, as Part 1's
shared-prefix generator with the same seed; Poisson arrivals at the rate asked for."""

from __future__ import annotations

import numpy as np
import pytest
from prefix_sched.theory.generators import shared_prefix
from prefix_sched.theory.serving.generators import shared_prefix_workload

from prefix_sched.errors import InputError


def test_the_prompts_are_part_1s_shared_prefix_workload():
    w = shared_prefix_workload(groups=5, prompts_per_group=7, system_prompt_len=30, question_len=4, output_len=9,
                               rate=50, seed=3)
    stream = shared_prefix(groups=5, prompts_per_group=7, system_prompt_len=30, question_len=4, output_len=9, seed=3)
    assert [r.prompt for r in w.requests] == [q.prompt for q in stream.queries]
    assert all(r.output_tokens == 9 and r.prompt_tokens == 34 for r in w.requests)
    assert [r.rid for r in w.requests] == list(range(35))


def test_poisson_arrivals_at_the_rate():
    w = shared_prefix_workload(groups=100, prompts_per_group=100, system_prompt_len=8, question_len=2, output_len=1,
                               rate=200, seed=0)
    arrivals = np.array([r.arrival_us for r in w.requests])
    assert arrivals[0] == 0 and (np.diff(arrivals) >= 0).all()
    assert abs(arrivals[-1] / 1e6 - 10_000 / 200) < 2  # 10,000 gaps of mean 5 ms
    with pytest.raises(InputError):
        shared_prefix_workload(rate=0)
