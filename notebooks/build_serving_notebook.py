"""Build notebook 09 (clean, no outputs): python notebooks/build_serving_notebook.py"""

from pathlib import Path

from notebook_builder import write_notebook

HERE = Path(__file__).parent

CELLS = [
    ("md", "# 9. The second seed in the serving model: SLAI against Sarathi-Serve\n\n"
           "The second seed (Bari, Hegde, de Veciana, arXiv 2508.01002) reports that SLAI, a scheduler that "
           "defers decodes until their last schedulable time and admits new prompts shortest first (strict "
           "class first), lowers the median TTFT of Sarathi-Serve by **53%** and raises its capacity by "
           "**26%** on Mistral-7B (ShareGPT lengths, 16,384 requests, budget 512, 5% of requests at 100 ms "
           "TBT and 95% at 500 ms, 0.2 to 1.6 requests/s). This notebook re-runs that experiment in the "
           "iteration-level serving model (`prefix_sched.solvers.serving`), with the seed's batch-time preset "
           "and Mistral-7B's KV memory on a 48 GB card. The loops live in "
           "`prefix_sched.studies.serving.seed_experiment`; this notebook only calls them.\n\n"
           "**What runs here and what is cached.** The full study (4 schedulers x 10 loads of the seed's "
           "16,384-request run, the loads beyond 1.6/s, the offsets, the drivers, the Azure trace and both "
           "capacities) takes several minutes on two cores, too long for CI. It was computed by "
           "`python -m prefix_sched.studies.serving docs/serving_seed_study.json` and is read "
           "back here from that file. What runs live is a 2,048-request slice of the grid (to show the code "
           "path and that the slice agrees in shape) and Fig. 5(a), which is cheap."),
    ("code", "from fractions import Fraction\n"
             "from pathlib import Path\n"
             "import time\n"
             "from prefix_sched.studies.serving import seed_experiment as se\n"
             "from prefix_sched.studies.serving import plots\n"
             "study = se.read_study(Path('..') / 'docs' / 'serving_seed_study.json')\n"
             "setup = se.seed_setup()\n"
             "print(setup)\n"
             "print(f'KV memory: {se.SEED_KV_TOKENS:,} tokens = {se.SEED_KV_TOKENS // 16:,} blocks of 16 '\n"
             "      f'({study[\"kv_tokens_rule\"]})')\n"
             "print('loads (requests/s):', ', '.join(f'{float(r):.3f}' for r in se.SEED_LOADS))"),
    ("md", "## A live slice: the first 2,048 requests, every grid scheduler, three loads\n\n"
           "`sarathi` is Sarathi-Serve; `sarathi-spf` adds only the shortest-prompt-first admission (reordering "
           "alone); `slai-fcfs` adds only SLAI's deferred decodes (FCFS admission); `slai` is the seed's "
           "configuration (both, strict class first, offset 5 or 10 at >= 96% KV use). Two worker processes."),
    ("code", "live = se.run_grid(se.grid_points(se.seed_setup(requests=2048), rates=(Fraction(1, 5), Fraction(9, 10), Fraction(8, 5))),\n"
             "                   workers=2)\n"
             "print(f'{len(live.rows)} runs in {live.wall_s:.1f} s on {live.workers} workers')\n"
             "print(f\"{'scheduler':<12} {'rate':>5} {'p50 TTFT':>9} {'p99 TTFT':>9} {'P99 TBT strict':>15} {'relaxed':>8}\")\n"
             "for r in sorted(live.rows, key=lambda r: (r.rate, r.scheduler)):\n"
             "    print(f'{r.scheduler:<12} {float(r.rate):>5.2f} {float(r.ttft_p50_us) / 1000:>9.1f} '\n"
             "          f'{float(r.ttft_p99_us) / 1000:>9.1f} {float(r.tbt_p99_us[\"strict\"]) / 1000:>15.1f} '\n"
             "          f'{float(r.tbt_p99_us[\"relaxed\"]) / 1000:>8.1f}')\n"
             "print({f'{float(k):.2f}': f'{float(v):.1%}' for k, v in se.reductions(live.rows).items()})"),
    ("md", "## The seed's run, 16,384 requests (cached)\n\n"
           "Median TTFT (ms) of each scheduler and SLAI's reduction against Sarathi at each load, then the "
           "loads beyond the seed's 1.6/s. Times are exact in the file; rounded here."),
    ("code", "grid = se.grid_rows(study, 'grid') + se.grid_rows(study, 'beyond')\n"
             "by = se.table(grid)\n"
             "rates = sorted({r.rate for r in grid})\n"
             "print(f\"{'rate':>6} \" + ' '.join(f'{s:>12}' for s in se.GRID_SCHEDULERS) + f\" {'slai vs sarathi':>16}\")\n"
             "red = se.reductions(grid)\n"
             "for rate in rates:\n"
             "    print(f'{float(rate):>6.3f} ' + ' '.join(f'{float(by[(s, rate)].ttft_p50_us) / 1000:>12.1f}' for s in se.GRID_SCHEDULERS)\n"
             "          + f' {float(red[rate]):>16.1%}')\n"
             "print(f\"grid of {len(study['grid']['rows'])} runs: {study['grid']['wall_s']:.0f} s on {study['grid']['workers']} workers \"\n"
             "      f'(a shared machine; {sum(r.cpu_s for r in se.grid_rows(study)):.0f} s of CPU in all)')"),
    ("code", "plots.ttft_figure(study);"),
    ("md", "## Tail TBT per class\n\n"
           "Sarathi never defers a decode: its P99 TBT is one batch time (about 45 ms) for both classes. SLAI "
           "spends the relaxed class's slack: its relaxed P99 TBT sits just under the 500 ms objective "
           "(deferral by design), its strict class stays under 100 ms."),
    ("code", "print(f\"{'rate':>6} {'sarathi strict':>15} {'relaxed':>8} {'slai strict':>12} {'relaxed':>8}\")\n"
             "for rate in rates:\n"
             "    a, b = by[('sarathi', rate)], by[('slai', rate)]\n"
             "    print(f'{float(rate):>6.3f} {float(a.tbt_p99_us[\"strict\"]) / 1000:>15.1f} {float(a.tbt_p99_us[\"relaxed\"]) / 1000:>8.1f} '\n"
             "          f'{float(b.tbt_p99_us[\"strict\"]) / 1000:>12.1f} {float(b.tbt_p99_us[\"relaxed\"]) / 1000:>8.1f}')\n"
             "plots.tbt_figure(study);"),
    ("md", "## Capacities under the seed's objective\n\n"
           "Median TTFT <= 0.5 s and each class's P99 TBT within its objective; bisection on the rate from "
           "1.6/s, each probe a full 16,384-request run. The bracket is two probed rates: the lower meets, "
           "the upper fails."),
    ("code", "for name, cap in study['capacities'].items():\n"
             "    low, high = (None if v is None else float(Fraction(v)) for v in (cap['low'], cap['high']))\n"
             "    print(f'{name:<8} capacity in [{low}, {high}] requests/s; probes: '\n"
             "          + ', '.join(f\"{float(Fraction(p['rate'])):.3f} {'meets' if p['holds'] else 'fails'}\" for p in cap['probes']))\n"
             "low = {k: Fraction(v['low']) for k, v in study['capacities'].items()}\n"
             "print(f\"slai / sarathi (lower ends): {float(low['slai'] / low['sarathi']):.3f}  (the seed: 1.26)\")"),
    ("md", "## What drives the reduction: one setting changed at a time, at 1.6 requests/s\n\n"
           "Then the offset (SLAI's deferral margin, in mean batch times) at 1.6/s and at 3.2/s."),
    ("code", "for d in study['drivers']:\n"
             "    a, b = se.Row.from_json(d['base']), se.Row.from_json(d['other'])\n"
             "    print(f\"{d['label']:<62} sarathi {float(a.ttft_p50_us) / 1000:>7.1f} ms  slai {float(b.ttft_p50_us) / 1000:>7.1f} ms  \"\n"
             "          f'reduction {1 - float(b.ttft_p50_us / a.ttft_p50_us):>6.1%}  preemptions {a.preemptions}/{b.preemptions}')\n"
             "offsets = se.grid_rows(study, 'offsets') + [r for r in grid if r.scheduler == 'slai' and r.rate in (Fraction(8, 5), Fraction(16, 5))]\n"
             "for r in sorted(offsets, key=lambda r: (r.rate, r.scheduler)):\n"
             "    print(f'{r.scheduler:<8} {float(r.rate):.1f}/s: p50 TTFT {float(r.ttft_p50_us) / 1000:7.1f} ms, '\n"
             "          f'P99 TBT strict {float(r.tbt_p99_us[\"strict\"]) / 1000:6.1f} relaxed {float(r.tbt_p99_us[\"relaxed\"]) / 1000:6.1f} ms, '\n"
             "          f'preemptions {r.preemptions}')"),
    ("md", "## With the decode KV reads priced (cached)\n\n"
           "The `seed` preset charges a decode like a prompt token and nothing for reading its KV cache. "
           "Priced at 128 KiB per context token over the RTX 6000 Ada's 960 GB/s (`ckv` = 0.1365 us, a "
           "reading), the same engine saturates earlier and SLAI's reduction grows across the seed's loads."),
    ("code", "kv = [se.Row.from_json(r) for r in study['kv_reads']['grid']['rows']]\n"
             "kby = se.table(kv)\n"
             "print('cost:', study['kv_reads']['cost'])\n"
             "for rate, value in se.reductions(kv).items():\n"
             "    a, b = kby[('sarathi', rate)], kby[('slai', rate)]\n"
             "    print(f'{float(rate):>6.3f}/s: sarathi {float(a.ttft_p50_us) / 1000:>9.1f} ms, slai {float(b.ttft_p50_us) / 1000:>7.1f} ms, '\n"
             "          f'reduction {float(value):6.1%}')\n"
             "for name, cap in study['kv_reads']['capacities'].items():\n"
             "    print(f\"{name:<8} capacity in [{float(Fraction(cap['low'])):.3f}, {float(Fraction(cap['high'])):.3f}] requests/s\")"),
    ("md", "## Fig. 5(a): one 2048-token prompt's TTFT against the budget (live)\n\n"
           "The seed's script (agrimUT/SLAI `scripts/run_plot1.sh`) serves 100 prompts of 2048 tokens and one "
           "output token with `max_batch_size 1`; its TTFTs equal the prompt's own chunked prefill (724 ms = 32 "
           "chunks x 22.6 ms at budget 64), so the model serves each prompt alone. The preset (15.2 ms + 57.4 "
           "us per token, fitted to mean batch times from 256 tokens on) reproduces the shape, steep to 256 and "
           "flat after, but is 16% to 27% fast at budgets >= 512; a fit to the TTFTs themselves gives 7.5 ms "
           "per chunk + 90.7 us per prompt token (attention folded in)."),
    ("code", "c0, cp = se.fit_figure_5a()\n"
             "fitted = se.driver_setups()[-1][1].cost\n"
             "for a, b in zip(se.figure_5a(), se.figure_5a(fitted)):\n"
             "    print(f'budget {a.budget:>5}: {a.chunks:>2} chunks; seed {float(a.seed_ttft_ms):6.1f} ms; model (preset) '\n"
             "          f'{float(a.model_ttft_us) / 1000:6.1f} ms ({float(a.model_ttft_us / 1000 / a.seed_ttft_ms) - 1:+.0%}); '\n"
             "          f'model (fitted) {float(b.model_ttft_us) / 1000:6.1f} ms')\n"
             "print(f'fit: c0 = {float(c0):.1f} us, cp = {float(cp):.2f} us per prompt token')\n"
             "plots.figure_5a_figure(study);"),
    ("md", "## The Azure LLM 2023 conversation trace (cached)\n\n"
           "The same engine and classes on the first 16,384 requests of the Azure conversation trace, its "
           "timestamps rescaled exactly to each rate (so its burstiness is kept). Its requests are about half "
           "as long as ShareGPT's, so the same rate is a lighter load."),
    ("code", "azure = se.grid_rows(study, 'azure')\n"
             "aby = se.table(azure)\n"
             "for rate, value in se.reductions(azure).items():\n"
             "    a, b = aby[('sarathi', rate)], aby[('slai', rate)]\n"
             "    print(f'{float(rate):>6.3f}/s: sarathi {float(a.ttft_p50_us) / 1000:>9.1f} ms, slai {float(b.ttft_p50_us) / 1000:>8.1f} ms, '\n"
             "          f'reduction {float(value):6.1%}; P99 TBT slai strict {float(b.tbt_p99_us[\"strict\"]) / 1000:.0f} ms, '\n"
             "          f'relaxed {float(b.tbt_p99_us[\"relaxed\"]) / 1000:.0f} ms')\n"
             "plots.azure_figure(study);"),
    ("md", "## Where the model agrees with the seed, and where not\n\n"
           "- **Agrees:** SLAI's median TTFT is never above Sarathi's; both classes' P99 TBT stay within their "
           "objectives at every load; the gain reaches the seed's size (48% on ShareGPT at 3.2/s, 59% on Azure "
           "at 6.4/s) at Sarathi's capacity; Fig. 5(a)'s shape.\n"
           "- **Does not agree:** 53% at the seed's loads (at most 7% with the seed preset, 28% at 1.6/s with "
           "the decode KV reads); +26% capacity (+89% with the preset, +8% with the KV reads; SLAI meets the "
           "median objective above the engine's throughput by starving long prompts, P99 TTFT 4,480 s).\n"
           "- **Why:** the reduction is a function of the load relative to Sarathi's capacity, and the seed "
           "preset puts 1.6/s at 56% of it. The gain is shortest prompt first's (`sarathi-spf` alone: 55% at "
           "3.2/s); deferral alone (`slai-fcfs`) is harmful near capacity.\n\n"
           "docs/serving.md and docs/theory_second_seed.md give the claims one by one, with the tests that "
           "re-create them."),
]


def main():
    """Write notebook 09."""
    write_notebook(HERE / "09_serving.ipynb", CELLS)


if __name__ == "__main__":
    main()
