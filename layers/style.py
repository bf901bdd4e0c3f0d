"""Colours and sizes, in one place, so every page, legend and export agrees.

Chosen for a dark operations-centre screen: high contrast against the navy
background, severity ramps that stay distinguishable for red-green colour
blindness (yellow -> orange -> red -> magenta), nation colours from a
qualitative palette.
"""

from __future__ import annotations

RGBA = list[int]

BACKGROUND = "#0b1220"
LAND = [22, 32, 48, 255]
BORDER_LINE = [120, 140, 170, 200]
DISPUTED_FILL = [255, 170, 0, 40]
DISPUTED_LINE = [255, 170, 0, 220]

SEVERITY: dict[str, RGBA] = {
    "low": [250, 225, 80, 210],
    "medium": [255, 150, 40, 220],
    "high": [235, 50, 40, 230],
    "critical": [230, 40, 200, 240],
}
SEVERITY_RADIUS_M: dict[str, float] = {"low": 600, "medium": 900, "high": 1300, "critical": 1800}

INFRASTRUCTURE: dict[str, RGBA] = {
    "airport": [120, 200, 255, 230],
    "heliport": [120, 200, 255, 200],
    "port": [80, 160, 255, 230],
    "power_plant": [235, 235, 245, 230],
    "hospital": [255, 120, 120, 230],
    "restricted_zone": [255, 80, 80, 200],
}
INFRASTRUCTURE_DEFAULT: RGBA = [180, 180, 200, 200]
PLACE: RGBA = [200, 205, 215, 150]

# Qualitative palette for partner nations (assigned in order of first appearance).
NATION_PALETTE: list[RGBA] = [
    [66, 135, 245, 240], [52, 199, 89, 240], [175, 82, 222, 240], [255, 214, 10, 240],
    [90, 200, 250, 240], [255, 159, 10, 240], [255, 55, 95, 240], [162, 132, 94, 240],
    [100, 210, 180, 240], [191, 90, 242, 240], [255, 120, 60, 240], [130, 170, 255, 240],
    [200, 230, 90, 240], [255, 130, 200, 240],
]
TRACK_ACTIVE: RGBA = [0, 230, 255, 230]
TRACK_STALE: RGBA = [130, 130, 140, 160]
IMAGERY_CLEAR: RGBA = [120, 255, 160, 110]  # footprints are context: faint, so they never cross out a symbol
IMAGERY_CLOUDY: RGBA = [150, 150, 160, 70]
AOR_ALPHA = 28


def nation_colours(nations: list[str]) -> dict[str, RGBA]:
    return {n: NATION_PALETTE[i % len(NATION_PALETTE)] for i, n in enumerate(sorted(set(nations)))}


def hex_colour(rgba: RGBA) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgba[:3])
