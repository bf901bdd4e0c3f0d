"""Map icons as deck.gl IconLayer input: infrastructure glyphs, and the atlas packer unit symbols share.

Why an atlas: deck.gl's IconLayer has two modes. In auto-packing mode every
row carries its own icon object (url, width, height), and pydeck serialises
the rows as they are, so a 1-2 KB data URL is repeated once per feature; 199
infrastructure points cost ~250 KB of JSON on every Streamlit rerun. In atlas
mode the layer carries one image and a name -> rectangle mapping, and each row
only names its icon (a few bytes). `pack_atlas` builds that image server-side
as one SVG (the icons nested side by side), so no raster library or SVG
renderer is needed here; the browser rasterises it once.

Icons are drawn at `TEXTURE_SCALE` times their on-screen size so they stay
sharp on HiDPI wall screens; layers set their pixel size with `get_size`.

Infrastructure glyphs come from Mapbox Maki (CC0), committed under
``layers/map/icons/`` (see README.md there and fetch_icons.sh): the map must
work offline, so nothing is fetched at run time.
"""

from __future__ import annotations

import base64
import functools
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from layers import style

ICON_DIR = Path(__file__).parent  # layers/map/icons/
TEXTURE_SCALE = 2
# On-screen diameter of an infrastructure icon. Smaller than a unit symbol on
# purpose: infrastructure is context, units and incidents are the news.
INFRASTRUCTURE_PX = 22

# Kind (ingest.schema.INFRASTRUCTURE_KINDS) -> Maki icon name. Where Maki has
# no icon of that name the nearest clear glyph is used: a lightning bolt
# (charging-station) for power, a boom barrier (lift-gate) for border crossings,
# no-entry (roadblock) for restricted zones.
KIND_GLYPHS: dict[str, str] = {
    "airport": "airport",
    "heliport": "heliport",
    "port": "harbor",
    "power_plant": "charging-station",
    "hospital": "hospital",
    "dam": "dam",
    "bridge": "bridge",
    "border_crossing": "lift-gate",
    "communications": "communications-tower",
    "fuel": "fuel",
    "water": "water",
    "government": "town-hall",
    "restricted_zone": "roadblock",
    "other": "circle",
}
DEFAULT_KIND = "other"
_DISC_FILL = style.BACKGROUND  # a dark disc keeps the glyph legible over borders and areas
_SVG_NS = "http://www.w3.org/2000/svg"


@dataclass(frozen=True)
class SvgIcon:
    """One icon: SVG text at texture size and the point of it that sits on the map position."""

    key: str
    svg: str
    width: int
    height: int
    anchor_x: float
    anchor_y: float

    @property
    def display_height(self) -> float:
        """Pixels on screen (deck.gl sizes icons by height)."""
        return self.height / TEXTURE_SCALE


def data_url(svg: str) -> str:
    """Base64, not percent-encoding: pydeck strips quote characters from quoted literals."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def icon_definition(icon: SvgIcon) -> dict:
    """A deck.gl auto-packing icon object (getIcon returning this per row)."""
    return {"url": data_url(icon.svg), "width": icon.width, "height": icon.height,
            "anchorX": round(icon.anchor_x, 2), "anchorY": round(icon.anchor_y, 2), "id": icon.key,
            "mask": False}


_ROOT_TAG = re.compile(r"^\s*(?:<\?xml[^>]*\?>\s*)?<svg\b([^>]*)>(.*)</svg>\s*$", re.DOTALL)
_SIZE_ATTR = re.compile(r'\s(?:width|height|x|y)="[^"]*"')
_DEFS = re.compile(r"<defs>(.*?)</defs>", re.DOTALL)


def _nest(icon: SvgIcon, x: int, y: int, defs: dict[str, None]) -> str:
    """The icon as a nested <svg> placed at (x, y): its own viewBox keeps its coordinates intact.

    Its <defs> are moved into `defs`, so icons sharing a definition (a halo
    filter of one colour, with one id) carry it once in the atlas.
    """
    m = _ROOT_TAG.match(icon.svg)
    if m is None:
        raise ValueError(f"not an <svg> document: {icon.key}")
    attrs = _SIZE_ATTR.sub("", m.group(1))
    for d in _DEFS.findall(m.group(2)):
        defs.setdefault(d)
    body = _DEFS.sub("", m.group(2))
    return f'<svg{attrs} x="{x}" y="{y}" width="{icon.width}" height="{icon.height}">{body}</svg>'


def pack_atlas(icons: Iterable[SvgIcon], *, max_width: int = 1024, gap: int = 2) -> tuple[str, dict[str, dict]]:
    """Shelf-pack icons into one SVG atlas; returns (atlas data URL, deck.gl iconMapping).

    Icons with the same key are packed once. Shelf packing is enough: a map has
    tens of distinct icons, not thousands. Definitions (<defs>) must use ids
    that mean the same thing wherever they appear, as the halo filters do.
    """
    unique = list({i.key: i for i in icons}.values())
    x = y = shelf = width = 0
    parts: list[str] = []
    defs: dict[str, None] = {}
    mapping: dict[str, dict] = {}
    for icon in unique:
        if x and x + icon.width > max_width:
            x, y, shelf = 0, y + shelf + gap, 0
        parts.append(_nest(icon, x, y, defs))
        mapping[icon.key] = {"x": x, "y": y, "width": icon.width, "height": icon.height,
                             "anchorX": round(icon.anchor_x, 2), "anchorY": round(icon.anchor_y, 2), "mask": False}
        width = max(width, x + icon.width)
        shelf = max(shelf, icon.height)
        x += icon.width + gap
    width, height = max(width, 1), max(y + shelf, 1)
    head = f"<defs>{''.join(defs)}</defs>" if defs else ""
    svg = (f'<svg xmlns="{_SVG_NS}" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
           f'{head}{"".join(parts)}</svg>')
    return data_url(svg), mapping


@functools.cache
def _glyph_paths(name: str) -> tuple[str, ...]:
    """The path data of one Maki glyph (15 x 15 units); ids and styling dropped so glyphs can share an atlas."""
    root = ET.parse(ICON_DIR / f"{name}.svg").getroot()
    paths = tuple(el.get("d", "") for el in root.iter(f"{{{_SVG_NS}}}path"))
    if not paths:
        raise ValueError(f"no path in Maki icon {name}")
    return paths


def kind_colour(kind: str) -> style.RGBA:
    return style.INFRASTRUCTURE.get(kind, style.INFRASTRUCTURE_DEFAULT)


def normalise_kind(kind: object) -> str:
    k = str(kind) if kind is not None else DEFAULT_KIND
    return k if k in KIND_GLYPHS else DEFAULT_KIND


@functools.cache
def infrastructure_icon(kind: str) -> SvgIcon:
    """The icon of one infrastructure kind: its Maki glyph in the kind's colour on a dark, ringed disc.

    Unknown kinds get the 'other' icon rather than an error: the layer must draw
    whatever a reference source sends.
    """
    kind = normalise_kind(kind)
    colour = style.hex_colour(kind_colour(kind))
    size = INFRASTRUCTURE_PX * TEXTURE_SCALE
    # 21-unit canvas: the 15-unit glyph centred with a 3-unit margin inside the disc.
    paths = "".join(f'<path d="{d}"/>' for d in _glyph_paths(KIND_GLYPHS[kind]))
    svg = (f'<svg xmlns="{_SVG_NS}" width="{size}" height="{size}" viewBox="0 0 21 21">'
           f'<circle cx="10.5" cy="10.5" r="9.6" fill="{_DISC_FILL}" fill-opacity="0.92" '
           f'stroke="{colour}" stroke-width="1.4"/>'
           f'<g transform="translate(4.1 4.1) scale(0.82)" fill="{colour}">{paths}</g></svg>')
    return SvgIcon(key=f"infra-{kind}", svg=svg, width=size, height=size, anchor_x=size / 2, anchor_y=size / 2)


@functools.lru_cache(maxsize=64)
def infrastructure_atlas(kinds: tuple[str, ...]) -> tuple[str, dict[str, dict]]:
    """The atlas of the given kinds (sorted, de-duplicated by the caller), cached per set of kinds."""
    return pack_atlas(infrastructure_icon(k) for k in kinds)
