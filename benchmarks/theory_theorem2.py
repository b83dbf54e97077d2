"""Bigger Theorem 2 runs than the tests: Monte Carlo frequencies up to n = 10^4, adversarial search,
Corollary 3's regime, the P99-vs-rate table. Usage: python benchmarks/theory_theorem2.py"""

from prefix_sched.studies.adversary import adversarial_search
from prefix_sched.studies.p99_rate import p99_vs_rate, spread
from prefix_sched.studies.theorem2 import corollary3_runs, klpm_spec, monte_carlo
from prefix_sched.theory.theorem2 import bounds
def main() -> None:
    print("Monte Carlo, batch view, r=4 u=20 d=2 Delta=5 eps=1/4 (held/trials, proof's failure bound)")
    for row in monte_carlo(ns=(16, 64, 256, 1024, 4096, 10000), trials=20, seed=0):
        print(f"  n={row.n:>6} {row.statement:<45} {row.held:>3}/{row.trials}  failure<= {float(row.failure_bound):.3g}")
    print("Adversarial search vs KLPM_TIGHT (u=6 d=2), 400 swaps x 3 restarts")
    for n, r, delta in [(24, 2, 2), (24, 3, 5), (32, 4, 1), (40, 4, 12), (40, 2, 20)]:
        for view in ("batch", "fixed", "online"):
            res = adversarial_search(n, r, 6, 2, delta, klpm_spec(r), view, iterations=400, restarts=3, seed=1)
            print(f"  n={n} r={r} Delta={delta} {view:<6} max={res.max_ttft} bound={res.bound} gap={res.gap}")
    print("Corollary 3 regime r=4 u=100 d=5 Delta=50, n=2000, 5 seeds (max TTFT)")
    for row in corollary3_runs(n=2000, trials=5):
        print(f"  seed={row.seed} lpm={row.lpm} fcfs={row.fcfs} klpm={row.klpm} bound={row.klpm_bound} wins={row.klpm_wins}")
    print("  proof's sample size eps=1/10 delta=1/10:", bounds.corollary3_sample_size(4, 100, 5, 50, "1/10", "1/10"))
    print("P99 TTFT vs rate (online, groups of 4, prefix 4000, suffix 100, 100 groups, 5 seeds): min/median/max")
    rates = ["1/6000", "1/5000", "1/4000", "1/3000", "1/2000", "1/1500", "1/1200"]
    for (rate, policy), (lo, mid, hi) in spread(p99_vs_rate(rates, groups=100, seeds=(0, 1, 2, 3, 4))).items():
        print(f"  rate={rate} {policy:<12} {lo:>9.0f} {mid:>9.0f} {hi:>9.0f}")


if __name__ == "__main__":
    main()
