"""The one writer: paths checked before work, atomic replacement, no temporary file left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from prefix_sched.errors import OutputError
from prefix_sched.theory.outputs import atomic_path, check_output_path, write_text


def test_missing_folder_file_as_folder_and_folder_as_target_are_refused(tmp_path):
    with pytest.raises(OutputError, match="--out: .*does not exist"):
        check_output_path(tmp_path / "nope" / "a.jsonl", "--out")
    (tmp_path / "plain").write_text("x")
    with pytest.raises(OutputError, match="is not a folder"):
        check_output_path(tmp_path / "plain" / "a.jsonl", "--out")
    with pytest.raises(OutputError, match="it is a folder"):
        check_output_path(tmp_path, "--json")
    with pytest.raises(OutputError, match="an output path is needed"):
        check_output_path("", "--plot")


def test_a_target_that_is_not_a_regular_file_is_refused_and_left_as_it_is(tmp_path):
    """A named pipe or a socket (a device such as /dev/null alike) would be replaced by the rename."""
    import socket
    import stat

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    sock_path = tmp_path / "sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    try:
        for target, kind in ((fifo, "a named pipe"), (sock_path, "a socket")):
            with pytest.raises(OutputError, match=f"--out: cannot write .*: it is {kind}, not a regular file"):
                check_output_path(target, "--out")
            with pytest.raises(OutputError, match=f"it is {kind}"):
                write_text(target, "x", "--out")
        assert stat.S_ISFIFO(fifo.stat().st_mode) and stat.S_ISSOCK(sock_path.stat().st_mode)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe", "sock"]
    finally:
        server.close()


def test_the_command_line_refuses_a_pipe_as_output_before_any_work(tmp_path, capsys):
    import stat

    from prefix_sched.cli import main

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert main(["simulate", "--policy", "fcfs", "--out", str(fifo)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out" in err[0] and "named pipe" in err[0]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_read_only_target_is_refused(tmp_path, monkeypatch):
    """Checked with os.access, which is what root also answers to (mode bits alone would not stop root)."""
    target = tmp_path / "a.json"
    target.write_text("old")
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(OutputError, match="read-only"):
        check_output_path(target, "--json")


def test_a_failed_replace_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "a.jsonl"
    target.write_text("old\n")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OutputError, match="--out: cannot write .*No space left"):
        write_text(target, "new\n" * 1000, "--out")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl"]


def test_an_error_inside_the_block_keeps_the_old_file(tmp_path):
    target = tmp_path / "plot.png"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target, "--plot") as temporary:
            temporary.write_bytes(b"half")
            raise RuntimeError("the plotting library failed")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plot.png"]


def test_new_file_gets_the_umask_mode_and_a_replaced_one_keeps_its_mode(tmp_path):
    fresh = tmp_path / "fresh.txt"
    write_text(fresh, "x", "--out")
    umask = os.umask(0)
    os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask
    kept = tmp_path / "kept.txt"
    kept.write_text("old")
    kept.chmod(0o600)
    write_text(kept, "new", "--out")
    assert kept.read_text() == "new" and kept.stat().st_mode & 0o777 == 0o600


def test_a_kill_during_the_write_never_leaves_a_truncated_target(tmp_path):
    """A child writes 40 MB through write_text and is SIGKILLed mid-way: the target holds either
    the old content or the whole new content, never a part."""
    target = tmp_path / "big.txt"
    target.write_text("old\n")
    script = textwrap.dedent(f"""
        import sys
        from prefix_sched.theory.outputs import write_text
        print("ready", flush=True)
        write_text({str(target)!r}, "y" * 40_000_000 + "\\n", "--out")
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert child.stdout.readline().strip() == b"ready"
    child.send_signal(signal.SIGKILL)
    child.wait()
    content = target.read_bytes()
    assert content in (b"old\n", b"y" * 40_000_000 + b"\n")
