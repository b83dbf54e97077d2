"""The iteration cost model of the serving engine: how long one forward pass over a batch takes.

One iteration serves ``Np`` prefill tokens (chunks ``x_r`` of prompts with ``c_r`` tokens already
computed) and ``Nd`` decode tokens (one per decoding request, whose context is ``ctx_r`` tokens).
Its duration, in microseconds, is (../shared/MODEL_SERVING.md, "Iteration cost"; a reading)::

    tau = c0 + cp * Np + cd * Nd + ckv * sum_decodes ctx_r + catt * sum_chunks x_r (c_r + x_r / 2)

With the tile option ``T`` the linear token term is charged on ``T * ceil((Np + Nd) / T)`` tokens:
the ``pad = T * ceil((Np + Nd) / T) - (Np + Nd)`` padding tokens are charged at ``cp`` (they run
through the same GEMMs as prompt tokens), so with ``cp = cd`` the term is ``cp T ceil(N / T)``.
A decode's context ``ctx_r`` is its prompt plus the tokens it has generated (the token it feeds in
included): ``|p_r| + g_r``.

Definition 2 is the special case ``c0 = cd = ckv = 0``, ``cp = 1``, ``catt = 2 alpha`` with whole
prompts as chunks (``c = 0``): ``tau = |p| + alpha |p|^2``.

Presets (:data:`PRESETS`), each named after its public source:

- ``seed``: SLAI's own batch-time measurements (Mistral-7B on an RTX 6000 Ada; github agrimUT/SLAI,
  ``scripts/plot1_results.csv``: mean batch time 22.7, 24.1, 28.8, 37.8, 46.5, 57.1, 74.7 ms at
  token budgets 64 .. 1024), read as 15.2 ms + 0.0574 ms per batched token from 256 tokens on:
  ``c0 = 15200, cp = cd = 57.4`` microseconds.
- ``blis-h100``: BLIS (inference-sim) coefficients for Llama-3.1-8B on one H100, vLLM 0.8.4:
  5.753 ms + 17.25 us per prefill token + 6.0 us per decode token.
- ``blis-a100``: the same for one A100-80GB: 16.441 ms + 47.8 us + 18.2 us.
- ``seed-tile128``: ``seed`` with the tile option ``T = 128``: the linear token term is charged on
  ``128 ceil(N / 128)`` tokens (``c0 = 15200, cp = cd = 57.4`` us, ``tile = 128``). The tile is a
  reading, not a measurement of SLAI's card: ../shared/MODEL_SERVING.md ("Tile option") takes it from
  Vidur's Llama-2-7B profiles on A100 and H100, whose batch times jump just after multiples of 128
  tokens (GEMMs tile the token dimension). SLAI's own measurements (``seed``'s source) were taken at
  budgets 64, 128, 256, 384, 512, 768 and 1024, all but 64 multiples of 128, so on those budgets the
  two presets agree; they differ only off the tile (520 tokens cost as 640).
- ``vidur-llama2-7b-h100``: fitted (least squares, ``benchmarks/vidur_fit.py``) to the batch times
  Vidur 0.0.26 predicted for all 2,157,819 batches of its Sarathi run (Llama-2-7B, one H100, chunk
  512, ShareGPT at 1.0 requests/s, 16,384 requests; ``../shared/peers/vidur``), with ``cp = cd``
  (Vidur times the linear layers on the batch's total tokens): ``c0 = 5145.37``, ``cp = cd =
  20.2056``, ``ckv = 0.213456``, ``catt = 0.00180462`` us, R^2 0.999. ``ckv`` and ``catt`` are kept
  to 0.2135 and 0.0018 (0.02% and 0.3% off) so that a tick is 1e-4 us (``D = 10,000``): finer ticks
  would overflow int64 on that run. Vidur's attention profile in that kit is synthetic, so ``ckv``
  and ``catt`` describe the kit, not a real H100: the preset is for comparing with Vidur.

Exact time. Coefficients are exact numbers of microseconds (``57.4`` is ``287/5``). The engine
counts time in integer *ticks* of ``1 / D`` microseconds, ``D`` (:meth:`IterationCost.ticks_per_us`)
being the least integer that makes every coefficient, and ``catt / 2``, a whole number of ticks, so
every duration is an exact integer of ticks (``seed``: ``D = 5``, a tick is 0.2 us). Arrivals join
the grid the same way (:func:`ticks_per_us_for`). :meth:`TickCost.duration` is the one place the
formula is written; :meth:`IterationCost.duration_us` divides it by ``D``.

Examples
--------
>>> seed = parse_cost("seed")
>>> seed.ticks_per_us(), seed.duration_us(prefill_tokens=400, decode_tokens=112)
(5, Fraction(222944, 5))
>>> parse_cost("c0=0,cp=1,catt=2/5").duration_us(prefill_tokens=10, chunks=[(0, 10)])  # alpha = 1/5
30
>>> parse_cost("seed,tile=128").duration_us(prefill_tokens=100, decode_tokens=29)  # 256 tokens charged
Fraction(149472, 5)
>>> parse_cost("cp=-1")
Traceback (most recent call last):
...
prefix_sched.errors.InputError: cost 'cp=-1': cp must be >= 0, got '-1'
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from fractions import Fraction

from prefix_sched.errors import InputError
from prefix_sched.theory.numbers import Exact, brief, exact_number, normalize, to_json
from prefix_sched.theory.parameters import read_number

COEFFICIENTS = ("c0", "cp", "cd", "ckv", "catt")
"""The cost coefficients, in microseconds (per token, per context token, per attention unit)."""
DEFAULT_PRESET = "seed"


@dataclass(frozen=True)
class IterationCost:
    """The coefficients of the iteration cost (microseconds; exact), the tile and the preset name.

    Attributes
    ----------
    c0, cp, cd, ckv, catt : int or Fraction
        Fixed cost per iteration, per prefill token, per decode token, per decode context token,
        per unit of chunk attention ``x (c + x/2)``; all ``>= 0``.
    tile : int or None
        ``T >= 1``: the linear token term is charged on ``T ceil((Np + Nd) / T)`` tokens.
    name : str
        The preset it came from (``custom`` when given as numbers).
    source : str
        Where the numbers come from, for result headers.
    """

    c0: Exact = 0
    cp: Exact = 0
    cd: Exact = 0
    ckv: Exact = 0
    catt: Exact = 0
    tile: int | None = None
    name: str = "custom"
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        for key in COEFFICIENTS:
            value = getattr(self, key)
            number = exact_number(value, key)
            if number < 0:
                raise InputError(f"{key} must be >= 0, got {brief(value)}")
            object.__setattr__(self, key, number)
        if self.tile is not None and (type(self.tile) is not int or self.tile < 1):
            raise InputError(f"tile must be an integer >= 1, got {brief(self.tile)}")

    @property
    def spec(self) -> str:
        """The cost as ``--cost`` text, every coefficient spelled out (reads back to an equal cost)."""
        parts = [f"{key}={_text(getattr(self, key))}" for key in COEFFICIENTS]
        if self.tile is not None:
            parts.append(f"tile={self.tile}")
        return ",".join(parts)

    def as_dict(self) -> dict[str, object]:
        """The settings, for result headers (exact numbers as ``int`` or ``"p/q"``)."""
        out: dict[str, object] = {"preset": self.name, "unit": "us"}
        out.update({key: to_json(getattr(self, key)) for key in COEFFICIENTS})
        out["tile"] = self.tile
        if self.source:
            out["source"] = self.source
        return out

    def ticks_per_us(self) -> int:
        """``D``: the least integer making every coefficient and ``catt / 2`` whole ticks of ``1/D`` us."""
        return ticks_per_us_for([self.c0, self.cp, self.cd, self.ckv, Fraction(self.catt) / 2])

    def in_ticks(self, ticks_per_us: int) -> TickCost:
        """The coefficients as integers of ticks of ``1 / ticks_per_us`` microseconds.

        Raises InputError when ``ticks_per_us`` is not a multiple of :meth:`ticks_per_us`.
        """
        scaled = [Fraction(getattr(self, key)) * ticks_per_us for key in ("c0", "cp", "cd", "ckv")]
        half_att = Fraction(self.catt) * ticks_per_us / 2
        if any(value.denominator != 1 for value in (*scaled, half_att)):
            raise InputError(f"ticks of 1/{ticks_per_us} us cannot hold the cost {self.spec} exactly")
        return TickCost(*(int(value) for value in scaled), int(half_att), self.tile)

    def duration_us(self, prefill_tokens: int = 0, decode_tokens: int = 0, decode_context: int = 0,
                    chunks: Iterable[tuple[int, int]] = ()) -> Exact:
        """``tau`` in microseconds, exactly; ``chunks`` are the prefill chunks ``(c, x)``.

        ``prefill_tokens`` must be the sum of the chunks' ``x`` when chunks are given.
        """
        ticks = self.ticks_per_us()
        attention = sum(chunk_attention(c, x) for c, x in chunks)
        return normalize(Fraction(self.in_ticks(ticks).duration(prefill_tokens, decode_tokens, decode_context,
                                                                attention), ticks))


@dataclass(frozen=True, slots=True)
class TickCost:
    """The cost in integer ticks: ``k0 + kp Np + kd Nd + kkv ctx + katt2 A (+ kp pad)``, where
    ``A = sum x (2c + x)`` (:func:`chunk_attention`) and ``katt2 = catt / 2`` in ticks."""

    k0: int
    kp: int
    kd: int
    kkv: int
    katt2: int
    tile: int | None = None

    def duration(self, prefill_tokens: int, decode_tokens: int, decode_context: int = 0,
                 attention: int = 0) -> int:
        """The iteration's duration in ticks: the formula of the module docstring, the one place
        it is written."""
        linear = self.kp * prefill_tokens + self.kd * decode_tokens
        if self.tile is not None:
            batched = prefill_tokens + decode_tokens
            linear += self.kp * (-(-batched // self.tile) * self.tile - batched)
        return self.k0 + linear + self.kkv * decode_context + self.katt2 * attention


def chunk_attention(computed: int, chunk: int) -> int:
    """``x (2c + x)``: twice the attention units ``x (c + x/2)`` of a chunk of ``x`` tokens after ``c``.

    >>> chunk_attention(0, 10), chunk_attention(512, 512)
    (100, 786432)
    """
    return chunk * (2 * computed + chunk)


def ticks_per_us_for(values: Iterable[Exact]) -> int:
    """The least common denominator of ``values`` (exact numbers of microseconds).

    >>> ticks_per_us_for([Fraction(287, 5), Fraction(69, 4), 3])
    20
    """
    denominator = 1
    for value in values:
        denominator = math.lcm(denominator, Fraction(value).denominator)
    return denominator


PRESETS: dict[str, IterationCost] = {
    "seed": IterationCost(
        c0=15200, cp=Fraction("57.4"), cd=Fraction("57.4"), name="seed",
        source="SLAI's batch-time measurements (Mistral-7B, RTX 6000 Ada; agrimUT/SLAI "
               "scripts/plot1_results.csv): 15.2 ms + 0.0574 ms per batched token"),
    "seed-tile128": IterationCost(
        c0=15200, cp=Fraction("57.4"), cd=Fraction("57.4"), tile=128, name="seed-tile128",
        source="the seed preset (SLAI's batch-time measurements, Mistral-7B, RTX 6000 Ada) with the linear token "
               "term charged on whole tiles of 128 tokens (a reading: MODEL_SERVING.md 'Tile option', from "
               "Vidur's Llama-2-7B A100/H100 profiles, which jump just after multiples of 128 tokens)"),
    "blis-h100": IterationCost(
        c0=5753, cp=Fraction("17.25"), cd=6, name="blis-h100",
        source="BLIS (inference-sim) Llama-3.1-8B, one H100, vLLM 0.8.4: 5.753 ms + 17.25 us per "
               "prefill token + 6.0 us per decode token"),
    "blis-a100": IterationCost(
        c0=16441, cp=Fraction("47.8"), cd=Fraction("18.2"), name="blis-a100",
        source="BLIS (inference-sim) Llama-3.1-8B, one A100-80GB, vLLM 0.8.4: 16.441 ms + 47.8 us per "
               "prefill token + 18.2 us per decode token"),
    "vidur-llama2-7b-h100": IterationCost(
        c0=Fraction("5145.37"), cp=Fraction("20.2056"), cd=Fraction("20.2056"), ckv=Fraction("0.2135"),
        catt=Fraction("0.0018"), name="vidur-llama2-7b-h100",
        source="least-squares fit (benchmarks/vidur_fit.py, R^2 0.999) to Vidur 0.0.26's predicted batch times "
               "of its Sarathi run (Llama-2-7B, H100, chunk 512, ShareGPT 1.0 req/s, 16,384 requests): "
               "5.14537 ms + 20.2056 us per token + 0.2135 us per decode context token + 0.0018 us per "
               "chunk attention unit x (c + x/2)"),
}
"""The cost presets by name; see the module docstring for their sources."""


def parse_cost(text: str) -> IterationCost:
    """Read ``--cost``: a preset name, ``k=v,...`` (microseconds; unnamed coefficients are 0), or a
    preset followed by overrides (``seed,tile=128``). Keys: ``c0, cp, cd, ckv, catt, tile``.

    Raises
    ------
    InputError
        Naming the text and the bad part: an unknown preset or key, a key given twice, a value that
        is not an exact number ``>= 0`` (NaN, negative), a tile that is not an integer ``>= 1``.
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"a cost must be a preset ({', '.join(PRESETS)}) or k=v pairs, got {brief(text)}")
    parts = [part.strip() for part in text.split(",")]
    base = IterationCost()
    if "=" not in parts[0]:
        if parts[0] not in PRESETS:
            raise InputError(f"cost {text!r}: unknown preset {parts[0]!r}; presets: {', '.join(PRESETS)} "
                             f"(or give k=v pairs, keys {', '.join(COEFFICIENTS)}, tile)")
        base = PRESETS[parts[0]]
        parts = parts[1:]
    values: dict[str, object] = {}
    for part in parts:
        key, equals, value = (piece.strip() for piece in part.partition("="))
        if not equals or not key or not value:
            raise InputError(f"cost {text!r}: {part!r} is not k=v (keys {', '.join(COEFFICIENTS)}, tile)")
        if key not in COEFFICIENTS and key != "tile":
            raise InputError(f"cost {text!r}: unknown key {key!r}; keys: {', '.join(COEFFICIENTS)}, tile")
        if key in values:
            raise InputError(f"cost {text!r}: {key} is given twice")
        values[key] = _value(text, key, value)
    if not values:
        return base
    name = base.name + "+" + ",".join(f"{k}={v}" for k, v in values.items()) if base.name != "custom" else "custom"
    return replace(base, name=name, **values)


def _value(text: str, key: str, value: str) -> object:
    try:
        number = read_number(value, key)
    except InputError as err:
        raise InputError(f"cost {text!r}: {err}") from None
    if key == "tile":
        if not isinstance(number, int) or number < 1:
            raise InputError(f"cost {text!r}: tile must be an integer >= 1, got {value!r}")
        return number
    if number < 0:
        raise InputError(f"cost {text!r}: {key} must be >= 0, got {value!r}")
    return number


def _text(value: Exact) -> str:
    value = Fraction(value)
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
