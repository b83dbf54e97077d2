"""Build notebook 02 (clean, no outputs): python notebooks/build_reduction_notebook.py"""

from pathlib import Path

from notebook_builder import write_notebook

HERE = Path(__file__).parent

CELLS = [
    ("md", "# 2. Theorem 1: NP-hardness from 3-PARTITION, executed\n\n"
           "The seed proves that deciding whether some order keeps every TTFT under a bound `T` is NP-hard, "
           "by a reduction from 3-PARTITION whose numbers were lost. The toolkit fixes them "
           "(`prefix_sched.reductions.construction`, proof in its docstring): with alpha = 0 and X length `L`, "
           "`T = mB + (m-1)L`; `s` (length `T`) at 0, the A queries at `T`, `x_j` at `j(B+L)`, its twin `y_j` at "
           "`j(B+L) + T`, and `e` (length `T`) at `2T + L`."),
    ("code", "import matplotlib.pyplot as plt\n"
             "from prefix_sched.reductions.three_partition import planted_yes, certified_no, decide_partition\n"
             "from prefix_sched.reductions.construction import (construct, construct_changed, Change,\n"
             "    schedule_from_partition, certify_schedule, partition_from_schedule)\n"
             "from prefix_sched.reductions.verify import decide_ttft\n"
             "from prefix_sched.theory.gantt import plot_gantt\n"
             "yes = planted_yes(2, 40, seed=0)\n"
             "answer = decide_partition(yes)\n"
             "c = construct(yes)\n"
             "print('sizes', yes.sizes, 'B =', yes.bound, '3-partition:', answer.groups)\n"
             "print('T =', c.ttft, 'window', c.window)\n"
             "for q in c.stream.queries:\n"
             "    print(f'{q.qid:>3}  arrival {q.arrival:>4}  length {q.length:>4}')"),
    ("md", "## Partition => schedule\n\nThe partition's groups fill the gaps before each `x_j`; every `y_j` "
           "runs for free right after its twin; the evaluator confirms max TTFT = `T`."),
    ("code", "order = schedule_from_partition(c, answer.groups)\n"
             "evaluation = certify_schedule(c, order)\n"
             "print('max TTFT', evaluation.max_ttft, '<= T =', c.ttft)\n"
             "plot_gantt(c.stream, evaluation, ttft_bound=c.ttft)\n"
             "plt.title('the partition schedule of a yes-instance (m = 2)')\n"
             "plt.show()"),
    ("md", "## Schedule => partition\n\nThe exact DP finds a feasible order on its own; mapping it back gives "
           "a checked 3-partition. On a certified no-instance the DP proves infeasibility."),
    ("code", "verdict = decide_ttft(c.stream, c.ttft, time_limit=60)\n"
             "print(verdict.status, 'groups from the solver schedule:', partition_from_schedule(c, verdict.order))\n"
             "no = certified_no(2, 40, seed=1)\n"
             "c_no = construct(no)\n"
             "print('no-instance', no.sizes, 'decide_partition:', decide_partition(no).answer, '| TTFT side:', decide_ttft(c_no.stream, c_no.ttft, time_limit=60).status)"),
    ("md", "## Why each part is there\n\nEach deliberate change breaks the equivalence (exact DP):"),
    ("code", "for change, instance in [(Change.TTFT_ONE_LESS, yes), (Change.Y_DIFFERS, yes), (Change.NO_S, no), (Change.NO_E, no)]:\n"
             "    changed = construct_changed(instance, change)\n"
             "    status = decide_ttft(changed.stream, changed.ttft, time_limit=60).status\n"
             "    kind = 'yes' if decide_partition(instance).answer else 'no'\n"
             "    print(f'{change.value:>14} on a {kind}-instance: TTFT-feasibility {status}')"),
    ("md", "The full battery (m = 1..5, yes and no, certificates both ways) is the `verify-reduction` "
           "command, the README's main job."),
]


def main():
    """Write notebook 02."""
    write_notebook(HERE / "02_theorem1_reduction.ipynb", CELLS)


if __name__ == "__main__":
    main()
