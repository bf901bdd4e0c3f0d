"""Keep unit symbols legible where units stand close together.

Two units in one town are a few hundred metres apart; at the regional zoom a
wall screen opens with, that is the same pixel, and one APP-6 frame hides the
other. deck.gl has no symbol placement of its own for icons that must all stay
visible (its collision filter hides the losers, which is right for
infrastructure icons and place names, wrong for partner units), so the symbols
that would overlap at the map's zoom are pushed apart, just enough, in
screen pixels (deck.gl's ``getPixelOffset``), each with a dot at its true
position. Pixel offsets do not grow when someone zooms in, so a group never
flies apart; it only stops overlapping sooner.
"""

from __future__ import annotations

import math

import numpy as np

TILE_PX = 512.0  # deck.gl's world width in pixels at zoom 0


def world_pixels(lon: np.ndarray, lat: np.ndarray, zoom: float) -> tuple[np.ndarray, np.ndarray]:
    """Web Mercator pixel coordinates at ``zoom`` (y grows southwards, as on screen)."""
    scale = TILE_PX * 2.0 ** zoom
    lat = np.clip(np.asarray(lat, dtype=float), -85.05112878, 85.05112878)
    x = (np.asarray(lon, dtype=float) + 180.0) / 360.0 * scale
    phi = np.radians(lat)
    y = (1.0 - np.log(np.tan(phi) + 1.0 / np.cos(phi)) / math.pi) / 2.0 * scale
    return x, y


def spread(lon: np.ndarray, lat: np.ndarray, zoom: float, size_px: float, gap_px: float = 4.0,
           max_rounds: int = 200) -> np.ndarray:
    """Pixel offsets (n x 2) that keep square symbols of ``size_px`` at least ``gap_px`` apart at
    ``zoom``, moving each as little as it can.

    Overlapping pairs are pushed apart along the axis where they overlap least, each by half,
    round after round until none overlaps (symbols at the very same spot start apart on a small
    circle, in input order, so the result is deterministic). Only symbols that overlap move;
    a crowded town becomes a tight cluster around its true position, not a grid across the map.
    Unmoved symbols get (0, 0)."""
    n = len(lon)
    if n < 2:
        return np.zeros((n, 2))
    x, y = world_pixels(np.asarray(lon), np.asarray(lat), zoom)
    home = np.column_stack([x, y])
    pitch = size_px + gap_px
    pos = home.copy()
    same = _duplicates(pos)
    for members in same:  # identical positions: a small circle to give the pushes a direction
        k = len(members)
        angles = 2 * math.pi * np.arange(k) / k + math.pi
        pos[members] += np.column_stack([np.cos(angles), -np.sin(angles)]) * 0.5
    for _ in range(max_rounds):
        dx = pos[:, None, 0] - pos[None, :, 0]
        dy = pos[:, None, 1] - pos[None, :, 1]
        over_x, over_y = pitch - np.abs(dx), pitch - np.abs(dy)
        hit = (over_x > 0) & (over_y > 0)
        np.fill_diagonal(hit, False)
        if not hit.any():
            break
        push = np.zeros_like(pos)
        i, j = np.nonzero(np.triu(hit))
        along_x = over_x[i, j] <= over_y[i, j]
        sx = np.where(dx[i, j] >= 0, 1.0, -1.0)
        sy = np.where(dy[i, j] >= 0, 1.0, -1.0)
        step = np.where(along_x, over_x[i, j], over_y[i, j]) / 2 + 0.5
        vec = np.column_stack([np.where(along_x, sx * step, 0.0), np.where(along_x, 0.0, sy * step)])
        np.add.at(push, i, vec)
        np.add.at(push, j, -vec)
        pos += push
    return np.round(pos - home, 1)


def _duplicates(pos: np.ndarray) -> list[np.ndarray]:
    """Groups of indices at (almost) the same pixel."""
    keys = np.round(pos, 1)
    _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    return [np.flatnonzero(inverse.ravel() == g) for g in np.flatnonzero(counts > 1)]
