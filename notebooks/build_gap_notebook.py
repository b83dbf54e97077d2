"""Build notebook 08 (clean, no outputs): python notebooks/build_gap_notebook.py"""

from pathlib import Path

from notebook_builder import write_notebook

HERE = Path(__file__).parent

CELLS = [
    ("md", "# 8. How far from optimal? Certified lower bounds and every policy's gap\n\n"
           "For a stream of any size the toolkit brackets the least possible max TTFT `T*`: a **certified "
           "lower bound** (`prefix_sched.solvers.bounds.lower`: the window bound over all windows of "
           "arrivals, and under Definition 2 the runs bound; each proved in the module docstring) and the "
           "**best schedule found** (`prefix_sched.solvers.bounds.upper`: FCFS, LPM, k-LPM, grouped EDF and "
           "a window local search whose every change the evaluator confirms). A policy's gap "
           "`(max TTFT - bound) / bound` is an upper bound on how far it is from optimal. The loops live in "
           "`prefix_sched.studies.gap`; full-size numbers (the whole Mooncake conversation trace, "
           "Definition 4 at n = 10^4) are in `docs/gap.md`, from `benchmarks/gap.py`."),
    ("code", "from pathlib import Path\n"
             "import matplotlib.pyplot as plt\n"
             "from prefix_sched.studies.gap import definition4_rows, exact_rows, trace_rows, trace_slice\n"
             "from prefix_sched.theory.generators import regular_arrival_shuffled_queue\n"
             "from prefix_sched.theory.formats import read_mooncake\n"
             "excerpt = read_mooncake(Path('..') / 'tests' / 'data' / 'mooncake_conversation_head300.jsonl', 20)"),
    ("md", "## Where the optimum is known\n\n"
           "Small streams that the exact engine (DP, then CP-SAT) solves: Definition 4 (r = 4, u = 100, d = 5) "
           "and 16-query slices of the Mooncake excerpt. `exact_rows` raises if a bracket ever misses `T*`. "
           "The upper side is usually the optimum itself; the lower side is the weaker one on Definition 4."),
    ("code", "small = [(f'def4 n={n} Delta={delta} seed={seed}',\n"
             "          regular_arrival_shuffled_queue(n=n, r=4, u=100, d=5, delta=delta, seed=seed))\n"
             "         for n in (16, 24) for delta in (50, 75) for seed in (0, 1)]\n"
             "small += [(f'trace slice {start} load {load}', trace_slice(excerpt, start, 16, load))\n"
             "          for start in (120, 240) for load in ('1.5', '2')]\n"
             "known = exact_rows(small, time_limit=20, search_limit=3)\n"
             "print(f\"{'stream':<28} {'T*':>8} {'bound':>8} {'best':>8} {'bound/T*':>8} {'best/T*-1':>9}\")\n"
             "for r in known:\n"
             "    print(f'{r.name:<28} {r.optimum:>8} {r.lower:>8} {r.upper:>8} {float(r.lower_share):>8.3f} '\n"
             "          f'{float(r.upper_excess):>9.3f}')"),
    ("md", "## Definition 4 at n = 10^4, in Corollary 3's region (r >= 2, 0 < Delta < u)\n\n"
           "The runs bound is what makes these brackets narrow: a user's queries share their history only "
           "when served in one unbroken run, and a run that must wait across a gap longer than `T` idles."),
    ("code", "d4 = definition4_rows([(4, 100, 5, 50), (4, 100, 5, 95)], n=10_000, time_limit=6)\n"
             "for r in d4:\n"
             "    print(f'{r.name:<26} bound {r.lower} ({r.lower_source}), best {r.upper}: bracket '\n"
             "          f'{float(r.bracket_gap):.1%}; best policy {r.best_policy} {r.best_policy_max} '\n"
             "          f'(gap {float(r.policy_gap):.1%})')"),
    ("md", "## The Mooncake excerpt at offered loads 0.8 to 2\n\n"
           "The committed 300-request excerpt (every checkout has it) rescaled as `compare` does. The whole "
           "trace takes minutes; its table is in `docs/gap.md`."),
    ("code", "loads = ['0.8', '1', '1.2', '1.5', '2']\n"
             "rows = trace_rows(excerpt, loads, time_limit=3)\n"
             "for r in rows:\n"
             "    print(f'{r.name:<10} bound {float(r.lower):>11.0f} ({r.lower_source:<6}) best {float(r.upper):>11.0f} '\n"
             "          f'bracket {float(r.bracket_gap):6.1%}  best policy {r.best_policy} gap {float(r.policy_gap):.1%}')\n"
             "fig, ax = plt.subplots(figsize=(6.5, 3.5))\n"
             "x = range(len(rows))\n"
             "ax.bar([i - 0.25 for i in x], [float(r.lower) for r in rows], width=0.25, label='certified lower bound')\n"
             "ax.bar(x, [float(r.upper) for r in rows], width=0.25, label='best schedule found')\n"
             "ax.bar([i + 0.25 for i in x], [float(r.best_policy_max) for r in rows], width=0.25, label='best policy')\n"
             "ax.set_xticks(list(x), loads); ax.set_xlabel('offered load'); ax.set_ylabel('max TTFT (token-times)')\n"
             "ax.legend();"),
]


def main():
    """Write notebook 08."""
    write_notebook(HERE / "08_gap.ipynb", CELLS)


if __name__ == "__main__":
    main()
