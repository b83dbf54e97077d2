"""The index structures of the waiting queues, shared by the policies, and their naive references.

A policy (:mod:`~prefix_sched.solvers.online.policies`) serves from a waiting queue with
``add(rank, step, clock)``, ``pop(step, clock, rng)``, ``peek(step, clock, rng)`` (the rank ``pop``
would serve now, left waiting; a random choice drawn from :func:`peek_generator`, a copy of
``rng``, so peeks never move the seeded draws) and ``len()``, built from these pieces, each asking
the cache state only through its written interface
(:class:`~prefix_sched.theory.cache.base.CacheState`):

- :mod:`~prefix_sched.solvers.online.queues.lpm`: LPM's queues (:class:`LpmIndex` for a one-prompt
  cache, :class:`MatchIndexQueue` for a cache that reports its changes, :class:`NaiveLpmQueue`,
  picked by :func:`make_lpm_queue`) and :class:`LpmStepQueue`, Algorithm 1's FCFS and LPM steps;
- :mod:`~prefix_sched.solvers.online.queues.tracker`: :class:`MatchTracker`, every waiting
  query's cached prefix ``m_q`` kept current from the cache's changes;
- :mod:`~prefix_sched.solvers.online.queues.buckets`: :class:`KeyBuckets`, ranks by integer key, and
  :func:`peek_generator`;
- :mod:`~prefix_sched.solvers.online.queues.keyed`: :class:`KeyedQueue`, a key per query and ``m_q``;
- :mod:`~prefix_sched.solvers.online.queues.naive`: :class:`NaivePolicyQueue`, the rescan every
  index is checked against;
- :mod:`~prefix_sched.solvers.online.queues.inputs`: :class:`QueueInputs`, what a queue is built over.

Queue kinds (:data:`QUEUES`): ``indexed`` (the index for the run's cache model) and ``naive``.
"""

from prefix_sched.solvers.online.queues.buckets import KeyBuckets, peek_generator
from prefix_sched.solvers.online.queues.inputs import QueueInputs
from prefix_sched.solvers.online.queues.keyed import KeyedQueue
from prefix_sched.solvers.online.queues.lpm import (
    QUEUES, LpmIndex, LpmStepQueue, MatchIndexQueue, NaiveLpmQueue, make_lpm_queue,
)
from prefix_sched.solvers.online.queues.naive import NaivePolicyQueue
from prefix_sched.solvers.online.queues.tracker import MatchTracker

__all__ = ["QUEUES", "KeyBuckets", "KeyedQueue", "LpmIndex", "LpmStepQueue", "MatchIndexQueue", "MatchTracker",
           "NaiveLpmQueue", "NaivePolicyQueue", "QueueInputs", "make_lpm_queue", "peek_generator"]
