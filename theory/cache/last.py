"""The ``last`` cache model (the default): Definition 2's one-prompt cache.

Only the previously served prompt is cached, so a prompt ``p`` served after ``p_prev`` reuses
``ov(p, p_prev)``, the tokens of their longest common prefix (Definition 2). Every theorem of the
paper is about this model; a solver or bound that holds only here says so by refusing the other
models (:func:`~prefix_sched.theory.cache.parse.require_last_prompt`).

Its state offers every capability of :class:`~prefix_sched.theory.cache.base.CacheState`: the one
cached prompt (:meth:`LastPromptState.single_prompt`), a report of each change of it
(:meth:`LastPromptState.watch`) and the cache as a one-node radix tree (:meth:`LastPromptState.tree`).

Examples
--------
>>> state = LastPromptCache().new_state()
>>> [state.serve(p) for p in [(("u", 4), ("x", 1)), (("u", 4), ("y", 2)), (("v", 3),)]]
[0, 4, 0]
>>> state.single_prompt(), LastPromptCache().reuse_along([(("a", 2),)] * 2)
((('v', 3),), [0, 2])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prefix_sched.theory.cache.base import CacheModel, CacheState, Listener
from prefix_sched.theory.cache.radix import RadixNode, segment_offsets
from prefix_sched.theory.prompt import EMPTY_PROMPT, Prompt, overlap


@dataclass(frozen=True)
class LastPromptCache(CacheModel):
    """Definition 2: only the previously served prompt is cached (spec ``"last"``)."""

    @property
    def spec(self) -> str:
        return "last"

    @property
    def is_last_prompt(self) -> bool:
        return True

    def token_capacity(self) -> None:
        """No token limit: the cache is one prompt, however long."""
        return None

    def new_state(self) -> LastPromptState:
        return LastPromptState()

    def reuse_along(self, prompts: Sequence[Prompt]) -> list[int]:
        """``ov(p_i, p_{i-1})`` per position, the cache starting empty (the evaluator's fast path)."""
        reused, previous = [], EMPTY_PROMPT
        for prompt in prompts:
            reused.append(overlap(prompt, previous))
            previous = prompt
        return reused


class LastPromptState(CacheState):
    """The cache of Definition 2: the previously served prompt (``prompt``, empty at first).

    Attributes
    ----------
    prompt : Prompt
        The cached prompt (read-only; :meth:`single_prompt` for callers of the interface).
    listener : callable or None
        If set (by :meth:`watch`), called when the cached prompt changes from ``old`` to ``new``,
        agreeing on their first ``c`` segment ids: as ``listener(old, c)`` and ``listener(new, c)``
        for each of the two with more than ``c`` segments. A prompt's reuse can change only if its
        first ``c + 1`` segment ids are ``old``'s or ``new``'s (any other prompt agrees with both on
        the same leading segments).
    """

    __slots__ = ("prompt", "listener")

    def __init__(self, prompt: Prompt = EMPTY_PROMPT) -> None:
        self.prompt = prompt
        self.listener: Listener | None = None

    def reuse(self, prompt: Prompt) -> int:
        """``ov(prompt, cached)``."""
        return overlap(prompt, self.prompt)

    def serve(self, prompt: Prompt) -> int:
        """Return ``ov(prompt, cached)`` and cache ``prompt`` in place of the previous one."""
        old = self.prompt
        shared = overlap(prompt, old)
        self.prompt = prompt
        if self.listener is not None and old is not prompt:
            self._report(old, prompt)
        return shared

    def copy(self) -> LastPromptState:
        """An independent snapshot (prompts are immutable, so this is one reference; the listener
        is not copied)."""
        return LastPromptState(self.prompt)

    def single_prompt(self) -> Prompt:
        """The cached prompt: the cache is exactly its prefixes."""
        return self.prompt

    def watch(self, listener: Listener) -> None:
        """Call ``listener`` on each change of the cached prompt from now on (see :attr:`listener`)."""
        self.listener = listener

    def tree(self) -> RadixNode:
        """The cache as a radix tree: a root with one child, the cached prompt (none before the first).

        >>> root = LastPromptState((("a", 2), ("b", 3))).tree()
        >>> [(child.key, child.start, child.end, child.children) for child in root.children.values()]
        [(('a', 0), 0, 5, {})]
        """
        root = RadixNode(None, EMPTY_PROMPT, [0], 0, 0, 0, 0)
        if self.prompt:
            cum = segment_offsets(self.prompt)
            node = RadixNode(root, self.prompt, cum, 0, 0, cum[-1], 0)
            root.children[node.key] = node
        return root

    def _report(self, old: Prompt, new: Prompt) -> None:
        common = 0
        for (a, _), (b, _) in zip(old, new):
            if a != b:
                break
            common += 1
        for prompt in (old, new):
            if len(prompt) > common:
                self.listener(prompt, common)
