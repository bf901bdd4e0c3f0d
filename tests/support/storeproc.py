"""Child processes for the store's durability and concurrency tests (run with `python -m`).

ROOT is what `open_store` takes: a folder (the embedded store) or a postgresql:// URL.

writer ROOT BATCH N [START [HOLD]] - write batches START.. START+N-1 of BATCH track points (batch K is
                      always the same points), printing "writing K" before each write and
                      "committed K INSERTED UPDATED UNCHANGED" after it. HOLD is STAGE@K: at that moment
                      of batch K's write the writer prints "held STAGE K ..." and waits for a line on
                      stdin ("go" resumes; end of input exits) - so a test can kill it exactly there:
                      before-write   batch K built, nothing of it sent
                      before-commit  (PostGIS) every row of K inserted in its open transaction, COMMIT
                                     not sent; the line ends with the rows of K the transaction sees
                      after-commit   the write returned (committed), "committed K" not yet printed
reader ROOT STOP     - read the layer repeatedly, printing each count seen, until the file STOP exists;
                      the last read starts after it appeared
alert-writer ROOT KEYS STOP MARK - put the same KEYS findings again and again (a refresh loop), printing
                      "put K" after each ("put after K" once the refresh began after the file MARK
                      appeared), until the file STOP exists
ack ROOT BY KEY...   - acknowledge each KEY as BY, printing "acked KEY True|False"
alerts ROOT          - print every alert as a JSON line: key, state, acknowledged_by
lease ROOT NAME      - try to take the lease NAME, print "held True|False PID", then wait for a line on stdin:
                      "release" releases it and prints "released"; end of input exits (holding it)
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ingest.store import open_store
from ingest.validate import validate

ROOT = Path(__file__).resolve().parents[2]


def store_root(store) -> str:
    """What a child process passes to `open_store` to open the same store."""
    return store.url if hasattr(store, "url") else str(store.root)

# The test and its child processes meet on signals, never on time: a child prints a line at
# each moment the test acts on, and the test waits for that line with a deadline. The
# deadline only bounds a failure; a loaded machine makes the test slower, not flaky.
DEADLINE_S = 180.0


class Child:
    """A `tests.support.storeproc` child process (or another `module`'s, e.g. `layers.cli`: a
    `watchfloor` command) whose output lines the test waits for one by one."""

    def __init__(self, *args: str, module: str = "tests.support.storeproc", env: dict[str, str] | None = None
                 ) -> None:
        self.args = args
        self.p = subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT, env=env,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        self.lines: list[str] = []  # every line taken from the queue so far
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        self._pumps = [threading.Thread(target=self._pump, daemon=True),
                       threading.Thread(target=lambda: self._stderr.extend(self.p.stderr), daemon=True)]
        for t in self._pumps:
            t.start()

    def _pump(self) -> None:
        for line in self.p.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)  # end of output

    def _problem(self, what: str) -> str:
        return f"{' '.join(self.args[:1])}: {what}; its lines: {self.lines[-5:]}; stderr: {''.join(self._stderr)[-2000:]}"

    def expect(self, prefix: str, timeout: float = DEADLINE_S) -> str:
        """The next line starting with `prefix` (earlier lines are kept in `lines`)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(self._problem(f"no {prefix!r} line within {timeout:.0f} s")) from None
            if line is None:
                self._queue.put(None)
                self.p.wait(timeout)
                raise AssertionError(self._problem(f"exited ({self.p.returncode}) before a {prefix!r} line"))
            self.lines.append(line)
            if line.startswith(prefix):
                return line

    def send(self, line: str) -> None:
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def finish(self, timeout: float = DEADLINE_S) -> list[str]:
        """Every line, once the process has ended (stdin closed: a held writer leaves)."""
        self.p.stdin.close()
        while (line := self._queue.get(timeout=timeout)) is not None:
            self.lines.append(line)
        self.p.wait(timeout)
        for t in self._pumps:
            t.join(timeout)
        return self.lines

    def succeed(self) -> list[str]:
        lines = self.finish()
        assert self.p.returncode == 0, self._problem(f"exit status {self.p.returncode}")
        return lines

    def kill(self) -> list[str]:
        os.kill(self.p.pid, signal.SIGKILL)
        lines = self.finish()
        assert self.p.returncode == -signal.SIGKILL, self._problem(f"exit status {self.p.returncode}")
        return lines


def batch(k: int, size: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(k)
    t0 = pd.Timestamp("2026-11-20T00:00:00Z") + pd.Timedelta(minutes=k)
    frame = gpd.GeoDataFrame(
        {"source_id": [f"b{k}-{i}" for i in range(size)], "track_id": f"uav-{k % 7}",
         "time": [t0 + pd.Timedelta(seconds=i) for i in range(size)], "marking": "UNCLASSIFIED"},
        geometry=shapely.points(20 + rng.random(size), 42 + rng.random(size)), crs=4326)
    return validate(frame, "track_points", source="proc").valid


T0 = pd.Timestamp("2026-11-20T00:00:00Z")


def findings(keys: list[str], *, t0: pd.Timestamp = T0,
             rule: str = "zone-entry", severity: str = "high", message: str = "entered") -> gpd.GeoDataFrame:
    """Findings as layers/analysis/findings.py makes them, one per key."""
    n = len(keys)
    return gpd.GeoDataFrame(
        {"rule": rule, "severity": severity, "time": [t0 + pd.Timedelta(minutes=i) for i in range(n)],
         "key": keys, "subjects": [json.dumps([k]) for k in keys], "message": message,
         "details": [json.dumps({"i": i}) for i in range(n)]},
        geometry=shapely.points(20 + np.arange(n) * 1e-3, np.full(n, 42.0)), crs=4326)


HOLD_STAGES = ("before-write", "before-commit", "after-commit")


def hold(stage: str, k: int, detail: str = "") -> None:
    """Say where the writer is, then wait for the test: it kills the process here, or
    writes "go". End of input (the test is gone) ends the writer rather than resuming it."""
    print(f"held {stage} {k} {detail}".rstrip(), flush=True)
    if sys.stdin.readline().strip() != "go":
        os._exit(3)


def hold_before_commit(k: int) -> None:
    """Hold the writer inside its transaction, after the last statement, before COMMIT is
    sent: a kill here is a kill in the middle of a write whose rows are all in the table."""
    import psycopg

    exit_ = psycopg.Transaction.__exit__

    def __exit__(self, exc_type, exc_val, exc_tb):
        if exc_type is None:
            seen = self.connection.execute("SELECT count(*) FROM track_points WHERE source_id LIKE %s",
                                           (f"b{k}-%",)).fetchone()[0]
            hold("before-commit", k, str(seen))
        return exit_(self, exc_type, exc_val, exc_tb)

    psycopg.Transaction.__exit__ = __exit__


def writer(store, size: int, n: int, start: int, held: str | None) -> None:
    stage, at = held.split("@") if held else ("", "-1")
    if stage not in ("", *HOLD_STAGES):
        raise SystemExit(f"writer: hold stage expected one of {HOLD_STAGES}, found {stage!r}")
    if stage == "before-commit" and not hasattr(store, "url"):
        raise SystemExit("writer: before-commit needs the PostGIS store (the embedded store commits "
                         "inside one native call, with no moment in between to hold at)")
    for k in range(start, start + n):
        frame = batch(k, size)
        print(f"writing {k}", flush=True)
        if k == int(at) and stage == "before-write":
            hold(stage, k)
        if k == int(at) and stage == "before-commit":
            hold_before_commit(k)
        rep = store.write("track_points", frame)
        if k == int(at) and stage == "after-commit":
            hold(stage, k)
        print(f"committed {k} {rep.inserted} {rep.updated} {rep.unchanged}", flush=True)


def main() -> None:
    role, root = sys.argv[1], sys.argv[2]
    store = open_store(root)
    if role == "writer":
        size, n = int(sys.argv[3]), int(sys.argv[4])
        start = int(sys.argv[5]) if len(sys.argv) > 5 else 0
        writer(store, size, n, start, sys.argv[6] if len(sys.argv) > 6 else None)
    elif role == "reader":
        stop = Path(sys.argv[3])
        while True:
            last = stop.exists()
            print(len(store.read("track_points", columns=["source_id"])), flush=True)
            if last:
                break
    elif role == "alert-writer":
        keys, stop, mark = [f"k{i}" for i in range(int(sys.argv[3]))], Path(sys.argv[4]), Path(sys.argv[5])
        k = 0
        while not stop.exists():
            after = "after " if mark.exists() else ""
            store.put_alerts(findings(keys, message=f"refresh {k}"))
            print(f"put {after}{k}", flush=True)
            k += 1
    elif role == "ack":
        by = sys.argv[3]
        for key in sys.argv[4:]:
            print(f"acked {key} {store.acknowledge(key, by)}", flush=True)
    elif role == "lease":
        lease = store.exclusive(sys.argv[3])
        print(f"held {lease.acquire()} {os.getpid()}", flush=True)
        if sys.stdin.readline().strip() == "release":
            lease.release()
            print("released", flush=True)
    elif role == "alerts":
        for row in store.alerts()[["key", "state", "acknowledged_by"]].itertuples(index=False):
            by = None if pd.isna(row.acknowledged_by) else row.acknowledged_by
            print(json.dumps({"key": row.key, "state": row.state, "acknowledged_by": by}))


if __name__ == "__main__":
    main()
    # Under heavy load the native runtime of delta-rs has been seen to abort during interpreter
    # teardown ("terminate called without an active exception") after all work was committed.
    # These helpers report through stdout; leave without the teardown so the exit code reflects
    # the work. (Noted on the issue for a proper look.)
    sys.stdout.flush()
    os._exit(0)
