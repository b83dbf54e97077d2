"""The serving engine and its schedulers: iterations of prefill chunks and decodes under a token
budget and a KV memory limit (../shared/MODEL_SERVING.md).

Front doors: :func:`~.engine.serve` (run a workload), :data:`~.registry.SCHEDULERS` and
:func:`~.registry.parse_scheduler` (one row per scheduler: sarathi, sarathi-spf, vllm, vllm-v0, sglang,
sglang-mixed, slai, slai-sp, slai-fcfs), :func:`~.capacity.find_capacity` (bisection on the rate).
"""
