"""Unit symbols that would overlap at the map's zoom are pushed apart just enough; the rest stay put."""

from __future__ import annotations

import numpy as np

from layers.map.deck.declutter import spread, world_pixels


def boxes_overlap(lon, lat, offsets, zoom, size):
    x, y = world_pixels(np.asarray(lon), np.asarray(lat), zoom)
    p = np.column_stack([x, y]) + offsets
    dx = np.abs(p[:, None, 0] - p[None, :, 0])
    dy = np.abs(p[:, None, 1] - p[None, :, 1])
    hit = (dx < size) & (dy < size)
    np.fill_diagonal(hit, False)
    return int(hit.sum() // 2)


def test_world_pixels_match_web_mercator():
    x, y = world_pixels(np.array([0.0, 180.0]), np.array([0.0, 0.0]), 0)
    assert x.tolist() == [256.0, 512.0] and y.tolist() == [256.0, 256.0]
    _, y = world_pixels(np.array([0.0]), np.array([85.05112878]), 1)
    assert abs(y[0]) < 1e-6  # the top edge of the world


def test_units_in_one_town_are_pushed_apart_and_a_distant_unit_does_not_move():
    lon = np.array([18.41, 18.4105, 18.411, 21.0])  # three units in Sarajevo, one in Nis
    lat = np.array([43.85, 43.85, 43.8502, 43.3])
    offsets = spread(lon, lat, zoom=6.1, size_px=50, gap_px=6)
    assert boxes_overlap(lon, lat, offsets, 6.1, 56) == 0
    assert offsets[3].tolist() == [0.0, 0.0]
    assert np.abs(offsets[:3]).max() <= 58  # a tight cluster (one symbol pitch), not a grid across the map


def test_units_at_the_very_same_spot_separate_deterministically():
    lon, lat = np.full(5, 20.0), np.full(5, 42.0)
    a = spread(lon, lat, zoom=7, size_px=40)
    b = spread(lon, lat, zoom=7, size_px=40)
    assert (a == b).all() and boxes_overlap(lon, lat, a, 7, 44) == 0


def test_close_in_enough_nothing_moves():
    lon, lat = np.array([18.41, 18.4105]), np.array([43.85, 43.85])
    assert spread(lon, lat, zoom=18, size_px=50).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert spread(lon[:1], lat[:1], zoom=6, size_px=50).shape == (1, 2)
