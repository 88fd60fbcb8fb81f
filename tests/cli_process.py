"""Command-line processes for the tests, forked from a warm interpreter.

A test that kills, signals or resumes `twoclocks` needs a process of its own; a fresh
interpreter spends 2-3 s of CPU importing torch and twoclocks before it does anything, which the
suite paid about forty times. Here every such process is forked from one server per test process
(multiprocessing's forkserver) that imported them once: the child is still a process of its
own, with its own pid, signals, exit status, environment and working folder, that has imported
twoclocks and nothing of the test's (no plugin, no monkeypatch), as a fresh `twoclocks` has.
What stays a fresh interpreter on purpose (which modules a command imports) does not use this.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import runpy
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

_CTX = multiprocessing.get_context("forkserver")
# What `twoclocks run` and `twoclocks sweep` import before they read their arguments.
_CTX.set_forkserver_preload(["cli_process", "twoclocks.cli", "twoclocks.commands.run", "twoclocks.commands.sweep"])


def _child(argv: list[str], script: str | None, env: dict, cwd: str, out: str, err: str, session: bool) -> None:
    """The forked process: become `twoclocks ARGV` (or `python SCRIPT ARGV`) as a fresh
    interpreter would be, and exit with its status."""
    if session:
        os.setsid()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    extra = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[1:1] = extra  # where a fresh interpreter puts PYTHONPATH: after its first entry
    for fd, path in ((1, out), (2, err)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(target, fd)
        os.close(target)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    code = 0
    try:
        if script is None:
            from twoclocks.cli import main

            sys.argv = ["twoclocks", *argv]
            code = main(argv)
        else:
            sys.argv = [script, *argv]
            sys.path[0] = str(Path(script).parent)
            runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:  # sys.exit(text) prints the text and exits 1, as an interpreter does
        if isinstance(exc.code, int) or exc.code is None:
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()  # what an interpreter runs at its end (os._exit below would skip it)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class CliProcess:
    """`twoclocks ARGV` (or `python SCRIPT ARGV`) in a process of its own, like a Popen:
    pid, poll, wait, send_signal, kill, returncode; stdout and stderr as text once it ended
    (or to the files given: os.devnull to drop them)."""

    def __init__(
        self,
        argv: list[str],
        *,
        script: str | os.PathLike | None = None,
        env: dict | None = None,
        cwd: str | os.PathLike | None = None,
        stdout: str | os.PathLike | None = None,
        stderr: str | os.PathLike | None = None,
        new_session: bool = False,
    ):
        self._own = []
        paths = []
        for given, name in ((stdout, "out"), (stderr, "err")):
            if given is None:
                fd, path = tempfile.mkstemp(prefix=f"twoclocks-{name}-")
                os.close(fd)
                self._own.append(path)
                paths.append(path)
            else:
                paths.append(str(given))
        self._paths = paths
        env = dict(os.environ, OMP_NUM_THREADS="1") if env is None else dict(env)
        args = (list(argv), None if script is None else str(script), env, str(cwd or os.getcwd()), *paths, new_session)
        self._proc = _CTX.Process(target=_child, args=args, daemon=False)
        self._proc.start()
        self.pid = self._proc.pid
        self.returncode: int | None = None
        self.stdout = self.stderr = ""

    def poll(self) -> int | None:
        if self.returncode is None and not self._proc.is_alive():
            self._finish()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        self._proc.join(timeout)
        if self._proc.exitcode is None:
            raise subprocess.TimeoutExpired(["twoclocks"], timeout or 0)
        self._finish()
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def _finish(self) -> None:
        self._proc.join()
        self.returncode = self._proc.exitcode
        for path, attr in zip(self._paths, ("stdout", "stderr")):
            if path in self._own:
                setattr(self, attr, Path(path).read_text(errors="replace"))
                os.unlink(path)


def run(argv: list[str], timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    """`twoclocks ARGV` (or `python SCRIPT ARGV`, script=) to its end: exit, stdout, stderr."""
    proc = CliProcess(argv, **kw)
    deadline = time.monotonic() + timeout
    try:
        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    return subprocess.CompletedProcess(argv, proc.returncode, proc.stdout, proc.stderr)
