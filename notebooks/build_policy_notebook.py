"""Build notebook 07 (clean, no outputs): python notebooks/build_policy_notebook.py"""

from pathlib import Path

from notebook_builder import write_notebook

HERE = Path(__file__).parent

CELLS = [
    ("md", "# 7. The policies serving systems run, next to k-LPM, under every cache model\n\n"
           "Every registered policy (`prefix_sched.solvers.online.policies`: FCFS, LPM, k-LPM, SGLang's LPM with its "
           "FCFS fallback above 128 waiting requests, LPM with aging, shortest prefill first, shortest prompt, "
           "longest output first, HRRN, SGLang's DFS-weight and random) on three workloads, online, at "
           "alpha = 0: the Mooncake conversation trace under Definition 2's one-prompt cache `last` and an "
           "LRU radix cache, Definition 4 inside Corollary 3's region, and SGLang bench_serving's "
           "generated-shared-prefix workload. Each run reports P99 TTFT, the most decisions any query waited "
           "(starvation) and Jain's index of per-query slowdown. Times are Definition 2 token-times; the "
           "loops are `prefix_sched.studies.policies`."),
    ("code", "import time\n"
             "import matplotlib.pyplot as plt\n"
             "from prefix_sched.solvers.online.policies import parse_policy\n"
             "from prefix_sched.studies.policies import (STUDY_POLICIES, definition4_rows, mooncake_rows,\n"
             "                                              shared_prefix_rows, plot_study, summary)\n"
             "from prefix_sched.solvers.online.simulate import simulate\n"
             "from prefix_sched.theory.stream import Query, Stream\n"
             "started = time.perf_counter()\n"
             "\n"
             "def show(rows):\n"
             "    for s in summary(rows):\n"
             "        kl, hr = s['k-lpm p99'], s['hrrn p99']\n"
             "        print(f\"{s['cache']:>11} load {s['load']:>9}: P99 best {s['p99 winner']:<28} \"\n"
             "              f\"k-LPM/HRRN P99 {float(kl) / float(hr):5.2f}  starves {s['starves']} ({s['max waited']})\")"),
    ("md", "## Each rule on five queries\n\n"
           "A = s4 x2 arrives at 0 and runs alone (0-6), caching s4 x2; then B = t3, C = s4 y2, "
           "D = s4 x2 z1, E = u1 wait (output lengths 9, 2, 5, 0). LPM and DFS-weight take D (it extends the "
           "cached prompt), SPF takes D (one uncached token, older than E), shortest-prompt E, LOF B, HRRN D "
           "(ratio 4/1). tests/solvers/online/test_serving_policies.py works every order out by hand."),
    ("code", "rows = [((('s', 4), ('x', 2)), 0, 1), ((('t', 3),), 1, 9), ((('s', 4), ('y', 2)), 1, 2),\n"
             "        ((('s', 4), ('x', 2), ('z', 1)), 2, 5), ((('u', 1),), 3, 0)]\n"
             "five = Stream(tuple(Query(n, p, a, output_length=o) for n, (p, a, o) in zip('ABCDE', rows)))\n"
             "for name in STUDY_POLICIES:\n"
             "    run = simulate(five, parse_policy(name), seed=0)\n"
             "    print(f'{run.policy.label:36s}', ' '.join(five.queries[i].qid for i in run.order),\n"
             "          f'  max waited {run.max_waited}  Jain {run.jain_slowdown:.3f}')"),
    ("md", "## The Mooncake conversation trace (first 2,000 requests here; docs/policies.md has all 12,031)\n\n"
           "Every request shares the first 512-token block, so under `last` most of the reuse is the "
           "system prompt; the LRU cache (10^6 tokens) keeps whole conversations."),
    ("code", "moon = mooncake_rows(limit=2000)\n"
             "show(moon)\n"
             "plot_study(moon, 'Mooncake conversation (2,000 requests)');"),
    ("md", "## Definition 4 inside Corollary 3's region\n\n"
           "r = 4, u = 1000, d = 100, n = 400, at Delta = 100, 300, 600, 900 (each stream at its own offered "
           "load: rescaling would move Delta out of the region). Here k-LPM with k = r - 1 has its guarantee."),
    ("code", "d4 = definition4_rows()\n"
             "show(d4)\n"
             "plot_study(d4, 'Definition 4, r=4 u=1000 d=100');"),
    ("md", "## SGLang's generated-shared-prefix workload\n\n"
           "32 groups of 16 prompts (2048-token system prompts, 128-token questions, 256 output tokens), "
           "Poisson arrivals rescaled to each load; `last` and an LRU cache of 100,000 tokens (about 45 system "
           "prompts)."),
    ("code", "shared = shared_prefix_rows(groups=32)\n"
             "show(shared)\n"
             "plot_study(shared, 'shared prefix, 32 x 16');\n"
             "print(f'notebook ran in {time.perf_counter() - started:.0f} s')"),
]

if __name__ == "__main__":
    print(write_notebook(HERE / "07_policies.ipynb", CELLS))
