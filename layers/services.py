"""The processes of a watch floor, and `watchfloor up`, which runs them together on one machine.

A running watchfloor is a few long-lived processes, each replaceable on its own:

| name      | command                                  | does                                          |
|-----------|------------------------------------------|-----------------------------------------------|
| feeds     | watchfloor feeds run --config FILE       | polls and listens to the live feeds           |
| alerts    | watchfloor alerts run                    | evaluates the alert rules (off every rerun)   |
| demo      | watchfloor demo live                     | the demo's outside world (demo only)          |
| dashboard | streamlit run dashboard/server.py        | the dashboard                                 |

On one machine `watchfloor up` (what `make run` calls) starts them all, stops them all when
it is stopped (Ctrl-C, SIGTERM, or its own death: children get SIGTERM through the kernel's
parent-death signal), and restarts a background process that dies (with a capped backoff), so
a crashed feed runner does not take the wall down. Several machines run the same commands
under systemd or a Procfile (`watchfloor up --procfile` prints one); see README, Deployment.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("watchfloor.up")

ROOT = Path(__file__).resolve().parents[1]
RESTART_CAP_S = 60.0
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Service:
    name: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    essential: bool = False  # when it ends, everything ends (the dashboard)


def watchfloor(*args: str) -> tuple[str, ...]:
    return (sys.executable, "-m", "layers.cli", *args)


def services(*, demo: bool, feeds_config: Path | None, port: int, address: str | None = None,
             alerts_interval: float = 30.0, demo_args: tuple[str, ...] = ()) -> list[Service]:
    """What `watchfloor up` runs. The dashboard does not evaluate alerts itself: the alerts process
    does, so no rerun ever waits for an evaluation."""
    out: list[Service] = []
    if feeds_config is not None:
        out.append(Service("feeds", watchfloor("feeds", "run", "--config", str(feeds_config))))
    out.append(Service("alerts", watchfloor("alerts", "run", "--interval", f"{alerts_interval:g}")))
    if demo:
        out.append(Service("demo", watchfloor("demo", "live", *demo_args)))
    dash = [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "server.py"),
            "--server.port", str(port)]
    if address:
        dash += ["--server.address", address]
    out.append(Service("dashboard", tuple(dash), env=(("WATCHFLOOR_ALERTS_IN_DASHBOARD", "0"),), essential=True))
    return out


def procfile(svcs: list[Service]) -> str:
    """A Procfile (honcho, foreman, systemd generators) for the same processes."""
    lines = []
    for s in svcs:
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in s.env)
        argv = ["watchfloor", *s.argv[3:]] if s.argv[1:3] == ("-m", "layers.cli") else \
            ["streamlit", *s.argv[3:]] if s.argv[1:3] == ("-m", "streamlit") else list(s.argv)
        lines.append(f"{s.name}: {(env + ' ') if env else ''}{shlex.join(argv)}")
    return "\n".join(lines) + "\n"


def _die_with_parent() -> None:
    """In the child: SIGTERM when the supervisor dies, however it dies (Linux)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


@dataclass
class _Running:
    service: Service
    proc: subprocess.Popen
    started: float
    failures: int = 0
    restart_at: float | None = field(default=None)


class Supervisor:
    def __init__(self, svcs: list[Service]) -> None:
        self.svcs = svcs
        self.running: dict[str, _Running] = {}
        self.stop = threading.Event()

    def _start(self, s: Service, failures: int = 0) -> None:
        env = {**os.environ, **dict(s.env)}
        proc = subprocess.Popen(s.argv, cwd=ROOT, env=env, preexec_fn=_die_with_parent)  # noqa: PLW1509
        self.running[s.name] = _Running(s, proc, time.monotonic(), failures)
        log.info("started %s (pid %d): %s", s.name, proc.pid, shlex.join(s.argv))

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stop.set())
        for s in self.svcs:
            self._start(s)
        code = 0
        try:
            while not self.stop.is_set():
                for name, r in list(self.running.items()):
                    rc = r.proc.poll()
                    if rc is None:
                        continue
                    if r.service.essential:
                        log.info("%s ended (exit %s): stopping the rest", name, rc)
                        code = rc
                        self.stop.set()
                        break
                    if r.restart_at is None:
                        fails = r.failures + 1 if time.monotonic() - r.started < 60 else 1
                        delay = min(RESTART_CAP_S, 2.0 ** fails)
                        log.warning("%s ended (exit %s); restarting in %.0f s", name, rc, delay)
                        r.failures, r.restart_at = fails, time.monotonic() + delay
                    elif time.monotonic() >= r.restart_at:
                        self._start(r.service, r.failures)
                self.stop.wait(0.5)
        finally:
            self.shutdown()
        return code

    def shutdown(self, grace_s: float = 10.0) -> None:
        for r in self.running.values():
            if r.proc.poll() is None:
                r.proc.terminate()
        deadline = time.monotonic() + grace_s
        for r in self.running.values():
            try:
                r.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                r.proc.kill()
                r.proc.wait()
