"""Generated serving workloads: SGLang bench_serving's shared-prefix workload with output lengths and
Poisson arrivals in microseconds, at any scale.

:func:`shared_prefix_workload` is :func:`prefix_sched.theory.generators.shared_prefix` (the same
structure, segment ids and shuffle) made a serving :class:`~.requests.Workload`: ``groups`` groups,
each with its own system prompt of ``system_prompt_len`` tokens (segment ``sys{g}``), and
``prompts_per_group`` requests per group, each that system prompt followed by a question of its own
(``question_len`` tokens, segment ``q{g}_{i}``) and asking for ``output_len`` tokens; the requests
are shuffled (one ``rng.permutation``). Arrivals are a Poisson process at ``rate`` requests per
second: exponential gaps of mean ``1 / rate`` s drawn after the permutation, summed in float64, the
first at 0, each rounded down to whole microseconds. Ids are ``0 .. n - 1`` in arrival order. The
columns are built with numpy and the requests without a per-request check (they are valid by
construction), so 10^6 requests take seconds. Sizes that cannot fit in memory and rates whose
arrivals would leave a signed 64-bit integer are refused before anything is drawn
(:func:`~prefix_sched.theory.generators.check_size`, :func:`~prefix_sched.theory.generators.poisson_gaps`).

Examples
--------
>>> w = shared_prefix_workload(groups=2, prompts_per_group=2, system_prompt_len=8, question_len=2,
...                            output_len=3, rate=100, seed=0)
>>> [(r.rid, r.prompt, r.output_tokens) for r in w.requests][:2]
[(0, (('sys1', 8), ('q1_0', 2)), 3), (1, (('sys0', 8), ('q0_0', 2)), 3)]
>>> w.n, w.requests[0].arrival_us, w.meta["generator"]
(4, 0, 'shared-prefix')
"""

from __future__ import annotations

import numpy as np
from prefix_sched.theory.generators import check_size, poisson_gaps
from prefix_sched.theory.numbers import exact_int, to_json
from prefix_sched.theory.serving.arrivals import check_rate
from prefix_sched.theory.serving.requests import Request, Workload

BYTES_PER_REQUEST = 520
"""About the peak memory of one generated request (measured with tracemalloc on 10^5: 514 bytes),
for :func:`~prefix_sched.theory.generators.check_size`."""


def shared_prefix_workload(groups: int = 64, prompts_per_group: int = 16, system_prompt_len: int = 2048,
                           question_len: int = 128, output_len: int = 256, rate: object = 1,
                           seed: int = 0) -> Workload:
    """The shared-prefix workload of the module docstring; ``rate`` in requests per second.

    Raises
    ------
    InputError
        A count or length that is not an integer >= 1, a rate that is not > 0.
    """
    groups = exact_int(groups, "groups", minimum=1)
    prompts_per_group = exact_int(prompts_per_group, "prompts per group", minimum=1)
    system_prompt_len = exact_int(system_prompt_len, "system prompt length", minimum=1)
    question_len = exact_int(question_len, "question length", minimum=1)
    output_len = exact_int(output_len, "output length", minimum=1)
    rate = check_rate(rate)
    seed = exact_int(seed, "seed", minimum=0)
    n = groups * prompts_per_group
    check_size(n, "groups * prompts per group", BYTES_PER_REQUEST)
    rng = np.random.default_rng(seed)
    permutation = rng.permutation(n)
    times = poisson_gaps(rng, n, 1_000_000 / float(rate), rate, unit="us")
    arrivals = np.floor(times).astype(np.int64).tolist()
    length = system_prompt_len + question_len
    systems = [(f"sys{g}", system_prompt_len) for g in range(groups)]
    requests = []
    for i, j in enumerate(permutation.tolist()):
        g, k = divmod(j, prompts_per_group)
        requests.append(Request(i, arrivals[i], length, output_len, (systems[g], (f"q{g}_{k}", question_len))))
    meta = {"generator": "shared-prefix", "groups": groups, "prompts_per_group": prompts_per_group,
            "system_prompt_len": system_prompt_len, "question_len": question_len, "output_len": output_len,
            "arrivals": f"poisson(rate={to_json(rate)}, seed={seed})", "rate": to_json(rate), "seed": seed,
            "trace": "generated", "format": "shared-prefix"}
    return Workload(tuple(requests), (), meta)
