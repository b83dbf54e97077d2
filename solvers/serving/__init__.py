"""The serving engine and its schedulers: iterations of prefill chunks and decodes under a token
budget and a KV memory limit (../shared/MODEL_SERVING.md).

Front doors: :func:`~.engine.serve` (run a workload on one engine, or on many behind a router),
:data:`~.registry.SCHEDULERS` and :func:`~.registry.parse_scheduler` (one row per scheduler: sarathi,
sarathi-spf, vllm, vllm-v0, sglang, sglang-mixed, slai, slai-sp, slai-fcfs, ...), :data:`~.routers.ROUTERS`
and :func:`~.routers.parse_router` (one row per router: round-robin, random, least-outstanding,
least-work, prefix-aware). Each engine may keep a prefix cache (:mod:`~.prefix_cache`, ``lru`` or
``unbounded``) under which Part 1's policies order its new prefills (:mod:`~.orders`); ``rad`` is a
reconstruction (:mod:`~.rad`). The loops that run the engine (capacity by bisection on the
rate, the seed's experiment) are studies: :mod:`prefix_sched.studies.serving`.
"""
