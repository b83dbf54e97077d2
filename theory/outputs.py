"""The one writer for result files: the path is checked before any work, the file written atomically.

A command that will write ``--out``, ``--json``, ``--plot`` or ``--dag`` calls
:func:`check_output_path` before it computes anything, so a missing folder or a read-only target
costs nothing; the file itself is written by :func:`write_text` (or, for a library that writes to a
path of its own, inside :func:`atomic_path`): into a temporary file in the same folder, flushed and
synced, then renamed over the target. A kill leaves either the old file or the whole new one, never
a truncated or empty file; a failed write is an :class:`~prefix_sched.errors.OutputError` naming
the path and the option, and the temporary file is removed.

Figures: :func:`plot_format` checks, before the work, that matplotlib can write a plot's
extension; :func:`save_figure` writes the figure atomically and closes it.

What it leaves out: what goes into the files (:mod:`~prefix_sched.theory.formats` and the
commands) and writing to standard output (``-``), which the caller handles.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> target = check_output_path(folder / "result.jsonl", "--out")
>>> write_text(target, "line\\n", "--out")
>>> target.read_text()
'line\\n'
>>> check_output_path(folder / "missing" / "x.json", "--json")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
prefix_sched.errors.OutputError: --json: cannot write ...missing/x.json: the folder ...missing does not exist
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prefix_sched.errors import OutputError


def check_output_path(path: Path | str, option: str) -> Path:
    """Return ``path`` as a Path after checking that a file can be created or replaced there.

    Raises
    ------
    OutputError
        If the folder is missing or not a folder, the target is a folder, or either is not
        writable (checked by creating and removing a temporary file in the folder).
    """
    if not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise OutputError(f"{option}: an output path is needed, got {path!r}")
    target = Path(path)
    folder = target.parent
    if not folder.exists():
        raise OutputError(f"{option}: cannot write {target}: the folder {folder} does not exist")
    if not folder.is_dir():
        raise OutputError(f"{option}: cannot write {target}: {folder} is not a folder")
    if target.is_dir():
        raise OutputError(f"{option}: cannot write {target}: it is a folder")
    _refuse_special(target, option)
    if target.exists() and not os.access(target, os.W_OK):
        raise OutputError(f"{option}: cannot write {target}: the file is read-only")
    try:
        handle, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=folder)
    except OSError as err:
        raise OutputError(f"{option}: cannot write {target}: {err.strerror or err}") from err
    os.close(handle)
    os.unlink(probe)
    return target


@contextmanager
def atomic_path(path: Path | str, option: str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is synced and renamed to ``path``.

    For libraries that write to a path themselves (matplotlib's ``savefig``, networkx's
    ``write_graphml``). On any error the temporary file is removed and the target left as it was;
    an OSError becomes an OutputError naming the option.
    """
    target = Path(path)
    _refuse_special(target, option)
    suffix = target.suffix
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}",
                                             dir=target.parent)
    except OSError as err:
        raise OutputError(f"{option}: cannot write {target}: {err.strerror or err}") from err
    os.close(handle)
    temporary = Path(temporary)
    try:
        yield temporary
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        _keep_mode(target, temporary)
        os.replace(temporary, target)
    except OSError as err:
        raise OutputError(f"{option}: cannot write {target}: {err.strerror or err}") from err
    finally:
        if temporary.exists():
            temporary.unlink()


def write_text(path: Path | str, text: str, option: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; see the module docstring."""
    with atomic_path(path, option) as temporary:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()


def save_figure(fig, path: Path | str, option: str, *, file_format: str, dpi: int = 120) -> None:
    """Save a matplotlib figure at ``path`` atomically (see :func:`atomic_path`), then close it.

    The figure is closed whether or not the write succeeds, so a failed plot leaks nothing.
    """
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path, option) as temporary:
            fig.savefig(temporary, dpi=dpi, format=file_format)
    finally:
        plt.close(fig)


def _refuse_special(target: Path, option: str) -> None:
    """Refuse a target that exists and is not a regular file (a device such as ``/dev/null``, a
    named pipe, a socket): the atomic rename would replace the node itself with a file."""
    try:
        mode = target.stat().st_mode
    except OSError:
        return  # absent (or a dangling link): a new file is created
    if not stat.S_ISREG(mode):
        kind = ("a character device" if stat.S_ISCHR(mode) else "a block device" if stat.S_ISBLK(mode)
                else "a named pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
                else "not a regular file")
        raise OutputError(f"{option}: cannot write {target}: it is {kind}, not a regular file")


def _keep_mode(target: Path, temporary: Path) -> None:
    """Give the new file the old file's mode, or the mode a plain ``open`` would have given it."""
    if target.exists():
        os.chmod(temporary, target.stat().st_mode & 0o7777)
    else:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)


def plot_format(path: Path | str, option: str = "--plot") -> str:
    """The format matplotlib writes ``path`` in, from its extension; OutputError if it writes none.

    Check it before the work, so that ``--plot p99.txt`` costs nothing.

    >>> plot_format("p99.png"), plot_format("p99.PDF")
    ('png', 'pdf')
    >>> plot_format("p99.txt")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    prefix_sched.errors.OutputError: --plot: cannot write p99.txt: matplotlib writes no '.txt' files (use .png, ...)
    """
    from matplotlib.backend_bases import FigureCanvasBase

    extension = Path(path).suffix.lower().removeprefix(".")
    if extension not in FigureCanvasBase.get_supported_filetypes():
        kind = f"{Path(path).suffix!r} files" if extension else "files without an extension"
        raise OutputError(f"{option}: cannot write {path}: matplotlib writes no {kind} (use .png, .pdf, .svg)")
    return extension
