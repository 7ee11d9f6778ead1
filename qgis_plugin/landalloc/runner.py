"""The `landalloc` command run as a child process for QGIS: found, started, streamed, stopped.

QGIS's own Python has none of landalloc's dependencies (HiGHS, geopandas, …) and may not be the
Python they were built for, so the plugin never imports the project: it runs the command a planner
would type, reads its progress from stderr line by line and its result from the ``--json`` document on
stdout. Standard library only, so this module is the same in every QGIS.

Cancel follows the CLI's own Ctrl-C contract (``optimizer/engine/interrupts.py``): SIGINT stops a
load at once and a solve keeping its best plan, which is then checked and written; further SIGINTs
every :data:`REPEAT_SIGINT_S` stop re-solves after the plan (marginal values). Only a process still
alive after :data:`GRACE_S` is terminated — the run directory is written atomically, so even then no
half-written run is left.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

ENV_VAR = "LANDALLOC_EXE"
GRACE_S = 20.0
REPEAT_SIGINT_S = 2.0
KILL_AFTER_TERM_S = 5.0

# Set by QGIS installers (OSGeo4W, the macOS bundle) for QGIS's own Python, GDAL and PROJ; inherited,
# they would make landalloc's Python load QGIS's packages or its PROJ/GDAL read another version's data.
_QGIS_ONLY = ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "PROJ_LIB", "PROJ_DATA", "GDAL_DATA", "GDAL_DRIVER_PATH",
              "QGIS_PREFIX_PATH")


class ExecutableNotFound(Exception):
    pass


def find_executable(configured: str | None = None) -> str:
    """The `landalloc` to run: the provider's setting, else ``$LANDALLOC_EXE``, else the one on PATH."""
    for origin, value in (("the landalloc provider setting", configured), (f"${ENV_VAR}", os.environ.get(ENV_VAR))):
        if value and value.strip():
            path = os.path.expanduser(value.strip())
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return path
            raise ExecutableNotFound(f"{origin} names {path!r}, which is not an executable file; set it to the "
                                     "landalloc command of the environment landalloc is installed in "
                                     "(e.g. /path/to/venv/bin/landalloc)")
    found = shutil.which("landalloc")
    if found:
        return found
    raise ExecutableNotFound("no landalloc command on PATH; install landalloc (python3 -m pip install -e . in its "
                             f"repository) and set ${ENV_VAR} or Settings → Options → Processing → Providers → "
                             "landalloc → landalloc executable to its path")


def child_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _QGIS_ONLY}
    # UTF-8 whatever QGIS's locale (Vietnamese names), lines as they are written, long lines unwrapped
    env.update(PYTHONIOENCODING="utf-8", PYTHONUNBUFFERED="1", COLUMNS="200", NO_COLOR="1")
    return env


@dataclass
class Finished:
    exit_code: int
    stdout: str
    stderr: list[str] = field(default_factory=list)
    cancelled: bool = False


PHASE_LINE = re.compile(r"^\s*(loading and compiling |solving |[0-9.]+ s\s|marginal values \d+/\d+:)")
"""a line that says where the run is (shown as Processing's progress text) rather than a message"""


class SolveMeter:
    """A percentage for the Processing progress bar from what the CLI prints on stderr.

    The CLI prints phases, not a percentage: "loading and compiling …", "solving … (time limit T s …)",
    a line per new plan ("  12.3 s  improving the plan  plan … gap …"), "marginal values k/n: …", and
    a last line with the status. While solving, the bar shows the share of the time limit used — a
    solve proven sooner jumps to the end — so it is a budget, honestly labelled in the progress text,
    never an estimate of the gap closed.
    """

    _TIME_LIMIT = re.compile(r"^solving .*\(time limit ([0-9.]+) s")
    _MARGINAL = re.compile(r"^marginal values (\d+)/(\d+):")
    _FINAL = re.compile(r"^\s*(?:[0-9.]+ s\s+)?(optimal|feasible|infeasible|no_solution) \(")

    def __init__(self):
        self.solving_since: float | None = None
        self.time_limit: float | None = None
        self.percent = 0.0

    def line(self, text: str, now: float) -> float | None:
        """The new percentage after ``text``, or None when the line does not move the bar."""
        stripped = text.strip()
        if stripped.startswith("loading and compiling"):
            return self._set(2.0)
        m = self._TIME_LIMIT.match(stripped)
        if m:
            self.solving_since, self.time_limit = now, float(m.group(1))
            return self._set(5.0)
        m = self._MARGINAL.match(stripped)
        if m:
            self.solving_since = None
            return self._set(90.0 + 9.0 * (int(m.group(1)) - 1) / max(1, int(m.group(2))))
        if self._FINAL.match(stripped):
            self.solving_since = None
            return self._set(100.0)
        return None

    def tick(self, now: float) -> float | None:
        """While solving: 5 % + the share of the time limit used, up to 90 %."""
        if self.solving_since is None or not self.time_limit:
            return None
        return self._set(5.0 + 85.0 * min(1.0, (now - self.solving_since) / self.time_limit))

    def _set(self, value: float) -> float | None:
        if value <= self.percent and value != 100.0:
            return None
        self.percent = value
        return value


def run(executable: str, args: list[str], *, on_line, on_progress, is_canceled, cwd: str | None = None,
        poll_s: float = 0.1) -> Finished:
    """Run ``executable args``: each stderr line to ``on_line``, a percentage to ``on_progress`` (see
    :class:`SolveMeter`), stdout kept whole; ``is_canceled()`` polled every ``poll_s`` (then SIGINT, as Ctrl-C)."""
    popen = dict(stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                 env=child_environment())
    if sys.platform == "win32":  # no console window; Windows has no SIGINT for a child: Cancel terminates it
        popen["creationflags"] = subprocess.CREATE_NO_WINDOW | subprocess.CREATE_NEW_PROCESS_GROUP
    else:  # its own session: a Ctrl-C in the terminal QGIS was started from is not sent to it as well
        popen["start_new_session"] = True
    proc = subprocess.Popen([executable, *args], **popen)
    lines: queue.Queue = queue.Queue()
    stdout: list[bytes] = []

    def read_stderr():
        for raw in iter(proc.stderr.readline, b""):
            lines.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
        lines.put(None)

    readers = [threading.Thread(target=read_stderr, daemon=True),
               threading.Thread(target=lambda: stdout.append(proc.stdout.read()), daemon=True)]
    for t in readers:
        t.start()
    meter, stderr, stopper, stderr_open = SolveMeter(), [], _Stopper(proc), True
    while stderr_open or proc.poll() is None:
        try:
            text = lines.get(timeout=poll_s)
        except queue.Empty:
            text = ""
        now = time.monotonic()
        if text is None:
            stderr_open = False
        elif text:
            stderr.append(text)
            on_line(text)
            pct = meter.line(text, now)
            if pct is not None:
                on_progress(pct)
        pct = meter.tick(now)
        if pct is not None:
            on_progress(pct)
        if proc.poll() is None and (stopper.since is not None or is_canceled()):
            stopper.step(now)
    for t in readers:
        t.join()
    proc.stdout.close()
    proc.stderr.close()
    return Finished(proc.wait(), b"".join(stdout).decode("utf-8", "replace"), stderr, stopper.since is not None)


class _Stopper:
    """Ctrl-C first (the CLI keeps and writes the best plan), repeated; terminate, then kill, past the grace."""

    def __init__(self, proc: subprocess.Popen):
        self.proc, self.since, self.last_signal = proc, None, None

    def step(self, now: float) -> None:
        if self.since is None:
            self.since = now
        waited = now - self.since
        if waited > GRACE_S + KILL_AFTER_TERM_S:
            self.proc.kill()
        elif waited > GRACE_S or sys.platform == "win32":
            if self.last_signal != "term":
                self.proc.terminate()
                self.last_signal = "term"
        elif self.last_signal is None or now - self.last_signal >= REPEAT_SIGINT_S:
            self.proc.send_signal(signal.SIGINT)
            self.last_signal = now
