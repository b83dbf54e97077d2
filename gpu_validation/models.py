"""Llama-style model shapes and building them with random weights (nothing is downloaded).

A :class:`ModelShape` holds the architecture numbers of a decoder-only Llama model; :data:`SHAPES`
names four: ``tiny`` and ``small`` (for CPU tests and runs), ``1b`` (the Llama-3.2-1B shape) and
``8b`` (the Llama-3.1-8B shape). :func:`build_model` turns a shape into a
``transformers.LlamaForCausalLM`` with seeded random weights, in bf16 on CUDA and fp32 on CPU.
Prefill timing does not depend on the weights' values, only on the shape.

:func:`prefill_flops` counts the floating-point operations of one prefill with a cached prefix;
its ratio of attention to linear work is the FLOP-count estimate of Definition 2's ``alpha``.
This module leaves out timing (:mod:`~prefix_sched.gpu_validation.replay`) and fitting
(:mod:`~prefix_sched.gpu_validation.fit`).

Examples
--------
>>> shape = SHAPES["8b"]
>>> round(shape.parameter_count() / 1e9, 2)
8.03
>>> prefill_flops(SHAPES["tiny"], 10, 10) == prefill_flops(SHAPES["tiny"], 0, 0)
True
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from prefix_sched.errors import InputError

DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class ModelShape:
    """The architecture numbers of a Llama-style decoder.

    Attributes
    ----------
    name : str
    hidden_size, intermediate_size, num_layers, num_heads, num_kv_heads, vocab_size : int
    max_positions : int
        The longest prompt the model accepts (``max_position_embeddings``).
    rope_theta : float
    """

    name: str
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    vocab_size: int
    max_positions: int
    rope_theta: float = 500000.0

    @property
    def head_dim(self) -> int:
        """Size of one attention head."""
        return self.hidden_size // self.num_heads

    def linear_params_per_layer(self) -> int:
        """Weights of one layer's projections (q, k, v, o and the gated MLP), norms left out."""
        h, kv = self.hidden_size, self.num_kv_heads * self.head_dim
        return 2 * h * h + 2 * h * kv + 3 * h * self.intermediate_size

    def parameter_count(self) -> int:
        """All weights: layers, norms, embedding and an untied LM head."""
        h = self.hidden_size
        per_layer = self.linear_params_per_layer() + 2 * h
        return self.num_layers * per_layer + h + 2 * self.vocab_size * h

    def as_dict(self) -> dict[str, Any]:
        """The shape and its parameter count, for result files."""
        return {**asdict(self), "head_dim": self.head_dim, "parameters": self.parameter_count()}


SHAPES: dict[str, ModelShape] = {
    shape.name: shape
    for shape in (
        ModelShape("tiny", 128, 512, 2, 4, 2, 4096, 8192, 10000.0),
        ModelShape("small", 256, 1024, 4, 4, 2, 8192, 16384, 10000.0),
        # Llama-3.2-1B (tied embeddings in the release; untied here, which only adds LM-head weights).
        ModelShape("1b", 2048, 8192, 16, 32, 8, 128256, 131072),
        # Llama-3.1-8B.
        ModelShape("8b", 4096, 14336, 32, 32, 8, 128256, 131072),
    )
}


def get_shape(name: str) -> ModelShape:
    """Return the named shape; unknown names raise InputError listing the valid ones.

    >>> get_shape("70b")
    Traceback (most recent call last):
    ...
    prefix_sched.errors.InputError: unknown model '70b'; valid models: tiny, small, 1b, 8b
    """
    try:
        return SHAPES[name]
    except KeyError:
        raise InputError(f"unknown model {name!r}; valid models: {', '.join(SHAPES)}") from None


def prefill_flops(shape: ModelShape, length: int, reused: int) -> int:
    """FLOPs of prefilling ``length - reused`` new tokens after ``reused`` cached ones.

    Linear layers cost ``2 * W`` per new token (``W`` the projection weights of all layers); causal
    attention costs ``4 * d`` per layer for each (new token, visible token) pair (``Q K^T`` and
    ``A V``; ``d = num_heads * head_dim``), and the new token at position ``i`` (from 1) sees ``i``
    tokens, so the pairs number ``sum_{i=ov+1}^{L} i = (L^2 - ov^2 + L - ov) / 2``. The LM head runs
    for the last token only (what a TTFT needs). Norms, rotary embedding and softmax are left out.

    So the cost is ``2 W (L - ov) + 2 layers d (L^2 - ov^2) + ...``: Definition 2's shape, with
    ``alpha = layers * d / W`` (:func:`flop_alpha`).
    """
    if not 0 <= reused <= length:
        raise InputError(f"reused tokens must be in 0..{length}, got {reused}")
    new = length - reused
    if new == 0:
        return 0
    d = shape.num_heads * shape.head_dim
    linear = 2 * shape.num_layers * shape.linear_params_per_layer() * new
    attention = 2 * shape.num_layers * d * (length * length - reused * reused + new)
    return linear + attention + 2 * shape.hidden_size * shape.vocab_size


def flop_alpha(shape: ModelShape) -> float:
    """The FLOP-count ``alpha``: attention FLOPs per unit of ``L^2 - ov^2`` over linear FLOPs per token.

    >>> f"{flop_alpha(SHAPES['8b']):.3g}"
    '1.88e-05'
    """
    return shape.num_heads * shape.head_dim / shape.linear_params_per_layer()


def llama_config(shape: ModelShape):
    """The ``transformers.LlamaConfig`` of ``shape``."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=shape.vocab_size, hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size, num_hidden_layers=shape.num_layers,
        num_attention_heads=shape.num_heads, num_key_value_heads=shape.num_kv_heads,
        max_position_embeddings=shape.max_positions, rope_theta=shape.rope_theta,
        tie_word_embeddings=False,
    )


def check_device(device: str) -> None:
    """Raise InputError unless ``device`` is ``cpu``, or ``cuda`` with a CUDA GPU present."""
    import torch

    if device not in DEVICES:
        raise InputError(f"unknown device {device!r}; valid devices: {', '.join(DEVICES)}")
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' was requested but torch sees no CUDA GPU; use --device cpu")


def device_dtype(device: str):
    """bf16 on CUDA, fp32 on CPU."""
    import torch

    return torch.bfloat16 if device == "cuda" else torch.float32


def build_model(shape: ModelShape, device: str, seed: int = 0):
    """A ``LlamaForCausalLM`` of ``shape`` with weights drawn from ``seed``, in eval mode.

    Raises
    ------
    InputError
        If the device is unknown or absent, or (on CPU) the fp32 weights would not fit in half of
        the machine's memory.
    """
    import torch
    from transformers import AutoModelForCausalLM

    check_device(device)
    dtype = device_dtype(device)
    if device == "cpu":
        weight_bytes = 4 * shape.parameter_count()
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        if weight_bytes > memory // 2:
            raise InputError(
                f"model {shape.name!r} needs {weight_bytes / 2**30:.0f} GiB of fp32 weights, more than "
                f"half of this machine's {memory / 2**30:.0f} GiB; use --device cuda or a smaller model"
            )
    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(
            llama_config(shape), dtype=dtype, attn_implementation="sdpa"
        )
    return model.eval()
