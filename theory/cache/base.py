"""The written interface of a cache model: what every model and every cache state answers.

A *cache model* (:class:`CacheModel`) is a spec string and a factory of empty *states*; a state
(:class:`CacheState`) is the cache's contents as prompts are served into it, and answers in
tokens of prefill saved:

- ``state.reuse(p)``: the tokens of ``p`` that the cache holds as a prefix (read-only);
- ``state.serve(p)``: serve ``p`` (its reuse, then the cache after it), returning the reuse;
- ``state.copy()``: an independent snapshot.

That is all the evaluator and the naive waiting queues ask. The rest is optional, and a caller
that needs a piece asks for it through these methods, never by the concrete class:

- what the lower bounds need of a model (:mod:`~prefix_sched.solvers.bounds.lower`):
  :attr:`CacheModel.is_last_prompt` (Definition 2's one-prompt cache, the model the paper's
  theorems are about) and :meth:`CacheModel.token_capacity` (the most tokens cached at once,
  ``None`` when unbounded). A model that does not give its capacity is refused by the bounds with
  an :class:`~prefix_sched.errors.InputError` naming the model and what it lacks;
- what the indexed waiting queues need of a state (:mod:`~prefix_sched.solvers.online.queues`):
  :meth:`CacheState.single_prompt` (the cache holds exactly the prefixes of one prompt: which),
  :meth:`CacheState.watch` (report every change of the cache) and :meth:`CacheState.tree` (the
  cache as a radix tree, for ``dfs-weight``). A state without them is served by the naive queues
  (``queue="naive"``; ``dfs-weight`` walks the tree either way); the indexed ones refuse it with an
  InputError naming what it lacks.

The models: :mod:`~prefix_sched.theory.cache.last` (Definition 2), :mod:`~prefix_sched.theory.cache.lru`
and :mod:`~prefix_sched.theory.cache.unbounded` (SGLang's radix tree,
:mod:`~prefix_sched.theory.cache.radix`); specs are read by :mod:`~prefix_sched.theory.cache.parse`.

Examples
--------
A model of one's own: a cache that holds nothing. It serves the evaluator as it is, and is refused
by what needs more than reuse and serve:

>>> class Empty(CacheModel):
...     spec = "empty"
...     def new_state(self):
...         return EmptyState()
>>> class EmptyState(CacheState):
...     def reuse(self, prompt):
...         return 0
...     def serve(self, prompt):
...         return 0
...     def copy(self):
...         return self
>>> Empty().reuse_along([(("a", 2),)] * 2), Empty().is_last_prompt, EmptyState().single_prompt()
([0, 0], False, None)
>>> Empty().token_capacity()
Traceback (most recent call last):
...
prefix_sched.errors.InputError: cache model 'empty' does not give its token capacity (CacheModel.token_capacity(): the most tokens it caches at once, None when unbounded), which the lower bounds need
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from prefix_sched.errors import InputError
from prefix_sched.theory.prompt import Prompt
from prefix_sched.theory.stream import Stream

Listener = Callable[[Prompt, int], None]
"""Called as ``listener(prompt, k)`` when the cache changes: the reuse of a prompt can have changed
only if its first ``k + 1`` segment ids are those of ``prompt``."""


class CacheModel(ABC):
    """A cache model: a spec string, fresh states, the stream check, and what the bounds need."""

    @property
    @abstractmethod
    def spec(self) -> str:
        """The spec string that :func:`~prefix_sched.theory.cache.parse.parse_cache` reads back to an
        equal model (a model of one's own names itself here)."""

    @abstractmethod
    def new_state(self) -> CacheState:
        """Return the empty cache of this model."""

    def check_stream(self, stream: Stream) -> None:
        """Raise InputError if a query of ``stream`` cannot be served under this model (default: all can)."""

    def reuse_along(self, prompts: Sequence[Prompt]) -> list[int]:
        """Return each prompt's reuse when ``prompts`` are served in this order from an empty cache."""
        state = self.new_state()
        return [state.serve(prompt) for prompt in prompts]

    @property
    def is_last_prompt(self) -> bool:
        """Whether this is Definition 2's one-prompt cache (the model the theorems are about)."""
        return False

    def token_capacity(self) -> int | None:
        """The most tokens the cache holds at once, ``None`` when it has no limit.

        The lower bounds' window credit needs it, and a model that gives it vouches for what their
        proof assumes of a cache (the assumptions (A1) and (A2) of
        :mod:`~prefix_sched.solvers.bounds.lower`: only prefixes of served prompts, prefix-closed,
        empty at first). The default refuses.

        Raises
        ------
        InputError
            Naming the model, for a model that does not say.
        """
        raise InputError(f"cache model {self.spec!r} does not give its token capacity (CacheModel.token_capacity(): "
                         "the most tokens it caches at once, None when unbounded), which the lower bounds need")


class CacheState(ABC):
    """The contents of a cache as prompts are served into it (see the module docstring)."""

    __slots__ = ()

    @abstractmethod
    def reuse(self, prompt: Prompt) -> int:
        """The tokens of ``prompt`` the cache holds as a prefix; the state is unchanged."""

    @abstractmethod
    def serve(self, prompt: Prompt) -> int:
        """Serve ``prompt``: return its reuse, then hold what the model holds after it."""

    @abstractmethod
    def copy(self) -> CacheState:
        """An independent snapshot."""

    def single_prompt(self) -> Prompt | None:
        """The prompt whose prefixes are exactly what is cached (Definition 2's cache: the previous
        prompt, empty at first), or ``None`` for a cache that is not one prompt (the default)."""
        return None

    def watch(self, listener: Listener) -> None:
        """Call ``listener(prompt, k)`` (:data:`Listener`) after every change of the cache from now on.

        Raises
        ------
        InputError
            For a state that cannot report its changes (the default).
        """
        raise InputError(f"cache state {type(self).__name__} does not report its changes (CacheState.watch), "
                         "which the indexed waiting queues need; serve with queue='naive'")

    def tree(self) -> RadixNode:  # noqa: F821 - radix.py builds on this module
        """The cache as a radix tree: its root (:class:`~prefix_sched.theory.cache.radix.RadixNode`,
        read-only), each node a token range of a served prompt.

        Raises
        ------
        InputError
            For a state that cannot show itself as a tree (the default).
        """
        raise InputError(f"cache state {type(self).__name__} cannot show itself as a radix tree (CacheState.tree), "
                         "which dfs-weight walks")
