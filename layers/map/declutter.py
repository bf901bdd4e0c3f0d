"""Keep unit symbols legible where units stand close together.

Two units in one town are a few hundred metres apart; at the regional zoom a
wall screen opens with, that is the same pixel, and one APP-6 frame hides the
other. deck.gl has no symbol placement of its own for icons that must all stay
visible (its collision filter hides the losers, which is right for
infrastructure icons and place names, wrong for partner units), so the symbols
that would overlap at the map's zoom are spread around their common centre, in
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
           max_rounds: int = 8) -> np.ndarray:
    """Pixel offsets (n x 2) that keep symbols of ``size_px`` at least ``gap_px`` apart at ``zoom``.

    Symbols closer than that form groups (transitively, so a chain of near neighbours is one
    group); each group is laid out on a grid around its centre (side by side for two), in
    west-to-east order so the layout keeps the map's sense of direction. Groups whose layouts then touch are merged and laid
    out again, for a few rounds. Unmoved symbols get (0, 0)."""
    n = len(lon)
    offsets = np.zeros((n, 2))
    if n < 2:
        return offsets
    x, y = world_pixels(np.asarray(lon), np.asarray(lat), zoom)
    home = np.column_stack([x, y])
    pitch = size_px + gap_px
    labels = np.arange(n)
    for _ in range(max_rounds):
        pos = home + offsets
        labels = _components(pos, pitch, labels)
        moved = False
        for group in np.unique(labels):
            members = np.flatnonzero(labels == group)
            if len(members) < 2:
                continue
            layout = _layout(home[members], pitch)
            new = layout - home[members]
            if not np.allclose(new, offsets[members]):
                offsets[members] = new
                moved = True
        if not moved:
            break
    return np.round(offsets, 1)


def _components(pos: np.ndarray, pitch: float, start: np.ndarray) -> np.ndarray:
    """Connected groups of points closer than ``pitch`` (in either axis box), merged with the
    groups of ``start`` so a group never splits between rounds."""
    n = len(pos)
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)

    for label in np.unique(start):
        members = np.flatnonzero(start == label)
        for m in members[1:]:
            union(int(members[0]), int(m))
    order = np.argsort(pos[:, 0])
    xs = pos[order, 0]
    for a in range(n):
        i = int(order[a])
        b = a + 1
        while b < n and xs[b] - xs[a] < pitch:
            j = int(order[b])
            if abs(pos[i, 1] - pos[j, 1]) < pitch:
                union(i, j)
            b += 1
    return np.array([find(i) for i in range(n)])


def _layout(points: np.ndarray, pitch: float) -> np.ndarray:
    """Positions for a group: a grid around its centre, west to east (see `spread`)."""
    k = len(points)
    centre = points.mean(axis=0)
    rel = points - centre
    # west to east, then north to south: a stable order that keeps relative positions
    order = np.lexsort((rel[:, 1], np.round(rel[:, 0], 3)))
    out = np.empty_like(points)
    # A grid, not a ring: the symbols are square, so only whole cells keep them apart.
    cols = math.ceil(math.sqrt(k))
    rows = math.ceil(k / cols)
    cells = [(c, r) for r in range(rows) for c in range(cols)][:k]
    last = k - (rows - 1) * cols  # a short last row is centred
    slots = np.array([[(c - ((cols if r < rows - 1 else last) - 1) / 2) * pitch, (r - (rows - 1) / 2) * pitch]
                      for c, r in cells])
    slots = slots[np.lexsort((slots[:, 1], np.round(slots[:, 0], 3)))]
    out[order] = centre + slots
    return out
