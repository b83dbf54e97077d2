"""One sweep: expand the spec, skip the cells the results folder has, run the rest, record each.

A cell counts as done when its row is in ``results.csv`` (finished, or failed with its error);
``retry_failed`` forgets the failed ones first so that they run again. Every row is written once.
Ctrl-C stops the executor; the rows already written stay (sorted into the final files) and the
outcome says the sweep was interrupted, so that running the same command again resumes it.
Rows in the folder from cells that are not in this spec (a spec that grew or changed) are kept
and counted, never mixed into this spec's verdict.

What it leaves out: the command line and the progress bar (:mod:`prefix_sched.commands.sweep_cmd`).

Examples
--------
>>> import pathlib, tempfile
>>> from prefix_sched.studies.sweep.executors import LocalExecutor
>>> from prefix_sched.studies.sweep.results import ResultsFolder
>>> from prefix_sched.studies.sweep.spec import read_spec
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "s.toml").write_text('''
... seeds = [0, 1]
... [streams.d]
... generator = "def4"
... n = 8
... r = 2
... u = 5
... d = 5
... delta = 1
... [[policies]]
... name = "lpm"
... ''')
>>> out = ResultsFolder(folder / "out")
>>> out.check()
>>> run_sweep(read_spec(folder / "s.toml"), out, LocalExecutor(1))
SweepOutcome(cells=2, skipped=0, ran=2, failed=(), other=0, interrupted=False, repaired=())
>>> run_sweep(read_spec(folder / "s.toml"), out, LocalExecutor(1)).skipped
2
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from prefix_sched.studies.sweep.cells import expand
from prefix_sched.studies.sweep.results import ResultsFolder
from prefix_sched.studies.sweep.schema import SCHEMAS
from prefix_sched.studies.sweep.run_cell import CellResult
from prefix_sched.studies.sweep.serving_spec import ServingSpec
from prefix_sched.studies.sweep.spec import Spec


@dataclass(frozen=True)
class SweepOutcome:
    """What one sweep did.

    Attributes
    ----------
    cells : int
        Cells in the spec.
    skipped : int
        Cells already in the folder when it started.
    ran : int
        Cells finished by this run.
    failed : tuple of str
        Keys of the spec's cells whose row is a failure (from this run or before), sorted.
    other : int
        Rows in the folder from cells not in this spec.
    interrupted : bool
        Whether Ctrl-C stopped it before every cell was done.
    repaired : tuple of str
        What was dropped from the folder's files (a row cut off by a kill).
    """

    cells: int
    skipped: int
    ran: int
    failed: tuple[str, ...]
    other: int
    interrupted: bool
    repaired: tuple[str, ...]


def run_sweep(
    spec: Spec | ServingSpec,
    folder: ResultsFolder,
    executor,
    *,
    retry_failed: bool = False,
    on_start: Callable[[int, int], None] | None = None,
    on_result: Callable[[CellResult], None] | None = None,
) -> SweepOutcome:
    """Run the cells of ``spec`` that ``folder`` does not have yet on ``executor``.

    ``folder`` must have been checked (:meth:`ResultsFolder.check`). ``on_start(todo, skipped)``
    is called once the folder is read, ``on_result`` after each row is written.
    """
    cells = expand(spec)
    keys = {cell.key for cell in cells}
    folder.columns = SCHEMAS["serving" if isinstance(spec, ServingSpec) else "policy"]
    interrupted = False
    todo: list = []
    with folder.opened(keys) as done:
        if retry_failed:
            folder.drop([key for key in keys if key in done and done[key]["status"] == "failed"])
        todo = [cell for cell in cells if cell.key not in done]
        skipped = len(cells) - len(todo)
        if on_start is not None:
            on_start(len(todo), skipped)

        def record(result: CellResult) -> None:
            folder.add(result.record, result.timing)
            if on_result is not None:
                on_result(result)

        try:
            if todo:  # a finished sweep does not even connect to its cluster
                executor.run(todo, record)
        except KeyboardInterrupt:
            interrupted = True
        rows = folder.rows
    # Counted from the rows kept, not from callbacks: a Ctrl-C may land inside one (say, during the
    # first Parquet save), after its row was recorded and before the callback returned.
    ran = sum(1 for cell in todo if cell.key in rows)
    failed = tuple(sorted(key for key in keys if key in rows and rows[key]["status"] == "failed"))
    return SweepOutcome(len(cells), skipped, ran, failed, len(set(rows) - keys), interrupted, tuple(folder.repaired))
