"""Drone kinematics: airframes, legs, and the fixes a flight leaves (positions, speeds, headings)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class _Airframe:
    kind: str  # 'fw' fixed wing, 'qc' quadcopter
    vmin: float
    vmax: float
    max_turn: float  # rad/s
    max_turn_acc: float  # rad/s^2 (roll-in: keeps turns smooth)
    k_turn: float  # 1/s, heading error to turn rate
    accel: float  # m/s^2
    climb: float  # m/s
    sink: float  # m/s
    capture: float  # m: waypoint reached
    gust: float  # m/s, standard deviation of the along-track wind gusts


_FW = _Airframe("fw", 15.5, 39.5, 0.22, 0.06, 0.5, 0.8, 4.0, 5.0, 260.0, 0.7)
_QC = _Airframe("qc", 5.0, 15.0, 0.9, 0.5, 1.2, 1.5, 3.0, 2.5, 25.0, 0.3)
_FRAMES = {"fw": _FW, "qc": _QC}


@dataclass
class _Leg:
    kind: str  # 'goto' | 'orbit'
    x: float
    y: float
    alt: float
    speed: float
    phase: str
    radius: float = 0.0
    duration: int = 0  # s, orbit only
    direction: int = 1  # +1 clockwise seen from above


@dataclass
class _Flight:
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    v: np.ndarray
    hdg: np.ndarray  # degrees true
    phase: list[str]


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


def _fly(
    frame: _Airframe,
    start: tuple[float, float],
    ground: float,
    legs: list[_Leg],
    rng: np.random.Generator,
) -> _Flight:
    """Integrate a simple point-mass drone at 1 Hz along `legs`.

    Bounded turn rate and turn acceleration (smooth turns), bounded
    acceleration, climb and sink rates; along-track gusts as an AR(1) process.
    """
    x, y = start
    z = ground + 20.0
    first = legs[0]
    hdg = math.atan2(first.x - x, first.y - y)
    vctl = frame.vmin + 1.0
    rate = 0.0
    noise = rng.normal(0.0, 1.0, 30_000)
    gust = 0.0
    xs: list[float] = []
    ys: list[float] = []
    zs: list[float] = []
    vs: list[float] = []
    hs: list[float] = []
    ph: list[str] = []
    step = 0
    for leg in legs:
        n = 0
        budget = leg.duration if leg.kind == "orbit" else 4 * 3600
        while n < budget:
            if leg.kind == "goto":
                dx, dy = leg.x - x, leg.y - y
                d = math.hypot(dx, dy)
                if d < frame.capture:
                    break
                desired = math.atan2(dx, dy)
                ff = 0.0
                vt = leg.speed
                if frame.kind == "qc":
                    vt = min(vt, max(frame.vmin, 0.35 * d))
            else:
                dx, dy = x - leg.x, y - leg.y
                d = math.hypot(dx, dy)
                theta = math.atan2(dx, dy)
                desired = theta + leg.direction * (
                    math.pi / 2 + math.atan((d - leg.radius) / (0.35 * leg.radius))
                )
                ff = leg.direction * vctl / leg.radius if d < 3 * leg.radius else 0.0
                vt = leg.speed
            err = _wrap(desired - hdg)
            if frame.kind == "qc" and abs(err) > 1.0:
                vt = frame.vmin
            want = max(-frame.max_turn, min(frame.max_turn, ff + frame.k_turn * err))
            rate += max(-frame.max_turn_acc, min(frame.max_turn_acc, want - rate))
            hdg = _wrap(hdg + rate)
            vctl += max(-frame.accel, min(frame.accel, vt - vctl))
            gust = 0.97 * gust + 0.243 * frame.gust * noise[step % len(noise)]
            v = max(frame.vmin, min(frame.vmax, vctl + gust))
            z += max(-frame.sink, min(frame.climb, leg.alt - z))
            x += v * math.sin(hdg)
            y += v * math.cos(hdg)
            xs.append(x)
            ys.append(y)
            zs.append(z)
            vs.append(v)
            hs.append(math.degrees(hdg) % 360.0)
            ph.append(leg.phase)
            n += 1
            step += 1
    return _Flight(np.array(xs), np.array(ys), np.array(zs), np.array(vs), np.array(hs), ph)


@dataclass
class _Track:
    track_id: str
    nation: str
    frame: str
    fmt: str
    callsign: str
    marking: str
    mission: str
    kind: str  # crossing | loiter | survey | route
    detail: str
    times_ms: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    lon: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lat: np.ndarray = field(default_factory=lambda: np.zeros(0))
    alt: np.ndarray = field(default_factory=lambda: np.zeros(0))
    speed: np.ndarray = field(default_factory=lambda: np.zeros(0))
    heading: np.ndarray = field(default_factory=lambda: np.zeros(0))
    phase: list[str] = field(default_factory=list)
    ce: float = 5.0
    le: float = 9.0

    @property
    def cot_type(self) -> str:
        return "a-f-A-M-F-Q" if self.frame == "fw" else "a-f-A-M-H-Q"
