"""Timing and table printing shared by the benchmarks: medians of repeats, ratios to a baseline."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Row:
    name: str
    seconds: float
    baseline: str | None = None
    baseline_seconds: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return None if not self.baseline_seconds else self.seconds / self.baseline_seconds


def median_time(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    return median_times(fn, repeats, warmup)[0]


def median_times(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> tuple[float, float]:
    """(wall, CPU) medians. On a shared machine the wall clock also counts other people's work;
    this process's CPU seconds say what the code itself costs."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        gc.collect()
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def table(title: str, rows: list[Row]) -> str:
    out = [f"\n## {title}", "", "| measurement | median s | baseline | baseline s | ratio | note |",
           "|---|---:|---|---:|---:|---|"]
    for r in rows:
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else ""
        base = f"{r.baseline_seconds:.3f}" if r.baseline_seconds is not None else ""
        out.append(f"| {r.name} | {r.seconds:.3f} | {r.baseline or ''} | {base} | {ratio} | {r.note} |")
    return "\n".join(out)
