"""Subcommands of the ``prefix-sched`` CLI; each module has ``register(subparsers)``."""
