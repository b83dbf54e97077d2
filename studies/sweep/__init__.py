"""Sweeps: one study over many configurations, on local processes or a Ray cluster.

A sweep spec (TOML, :mod:`~prefix_sched.studies.sweep.spec`) names stream sources, offered loads,
policies, cache models and seeds; :mod:`~prefix_sched.studies.sweep.cells` expands it into cells, one
``(stream, load, policy, cache, seed)`` each, named by a content hash of its inputs;
:mod:`~prefix_sched.studies.sweep.run_cell` computes one cell's record (its run's
:class:`~prefix_sched.studies.rows.PolicyRow`, measures named as in :mod:`~prefix_sched.theory.measures`,
with the sweep's settings); :mod:`~prefix_sched.studies.sweep.executors` runs cells on local worker
processes or as Ray tasks; :mod:`~prefix_sched.studies.sweep.schema` says what a record's columns
are and may hold; :mod:`~prefix_sched.studies.sweep.results` keeps the records (a CSV journal, a
Parquet file, resume by hash); :mod:`~prefix_sched.studies.sweep.sources` is where a table's stream
or trace comes from; :mod:`~prefix_sched.studies.sweep.runner` ties one sweep
together and :mod:`~prefix_sched.studies.sweep.summary` tabulates and plots the rows. The command is
``prefix-sched sweep`` (:mod:`prefix_sched.commands.sweep_cmd`); the guide is docs/sweep.md.

What it leaves out: exact solvers and the Theorem 2 batch view as cell kinds (docs/sweep.md says
what moving those loops onto sweeps would take), and scheduling cells by their cost.
"""
