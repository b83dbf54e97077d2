"""The serving model (second seed): requests with output lengths and objective classes, the
iteration cost, arrivals and traces, every token's emission time and the measures
(../shared/MODEL_SERVING.md).

Front doors: :class:`~.requests.Workload` and :func:`~.traces.load_workload` (requests),
:func:`~.costs.parse_cost` (iteration cost presets and coefficients), :func:`~.arrivals.generate_arrivals`
and :func:`~.arrivals.rescale_to_rate`, :func:`~.generators.shared_prefix_workload` (generated workloads at
any scale), :class:`~.measures.Timeline` and :func:`~.measures.summarize`
(measures), :func:`~.formats.write_serving` (result files), :func:`~.objectives.parse_objective`
(capacity objectives). The engine that produces timelines is :mod:`prefix_sched.solvers.serving`.
"""
