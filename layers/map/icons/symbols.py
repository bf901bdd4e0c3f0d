"""APP-6 / MIL-STD-2525 unit symbols as deck.gl icons, rendered by the `milsymbol` library.

Why `milsymbol` (PyPI, MIT): it reproduces the output of milsymbol.js, the
reference implementation of these standards on the web, for 2525B/C/D/E and
APP-6B/D/E SIDCs, with no dependencies; pydeck cannot run custom JavaScript, so
the SVG has to be made server-side. (`military-symbol` was the first choice,
but its last release that installs on Python 3.11, 2.0.2, fails to import
there, and later releases need Python 3.13.)

The symbol itself follows the standard (frame and fill give the affiliation,
the icon the unit type, the marks above the frame the echelon). The one
addition is a halo in the nation's colour: the standard's black echelon marks
and frame lines would otherwise vanish on the dark operations-centre map, and
the halo ties a symbol to its nation's label and area of responsibility.

Feed SIDCs are untrusted: anything that is not a well-formed SIDC the library
knows falls back to a plain frame ('unit, unspecified') of the same
affiliation if that is readable, else a friendly one, with the unit's echelon
when known. Nothing here raises on bad input.

Cost: the library keeps its symbols as pre-composed tables. The first symbol
loads the 20-digit table (~0.4 s, ~160 MB resident, once per process); the
letter-SIDC (2525B/C) table (~2 s, ~400 MB) loads only if such a code shows up,
which is why junk never reaches it (see `normalise_sidc`). After that a symbol
takes about a millisecond and is cached.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from milsymbol import Symbol

from layers import style
from layers.map.icons import TEXTURE_SCALE, SvgIcon, icon_definition

# Library size unit: at size S the frame of a land unit is 1.5 S wide and S
# tall. 30 px tall frames (45 px wide; 44-74 px with echelon marks or an HQ
# staff) read across a room on a wall screen without burying the map.
FRAME_PX = 30
_LIBRARY_SIZE = FRAME_PX * TEXTURE_SCALE
HALO_WIDTH = 7  # library units (frame height = 100): ~2 px on screen
DEFAULT_HALO = "#e8eef8"

# APP-6D / 2525D echelon amplifier (SIDC digits 9-10) by ingest.schema.ECHELONS name.
ECHELON_CODES: dict[str, str] = {
    "team": "11", "squad": "12", "section": "13", "platoon": "14", "company": "15", "battalion": "16",
    "regiment": "17", "brigade": "18", "division": "21", "corps": "22", "army": "23", "": "00",
}
_FRIEND_UNIT = "10031000{echelon}0000000000"  # 2525D/APP-6D, reality, friend, land unit, present, unspecified

_NUMBER_SIDC = re.compile(r"^[0-9]{20}([0-9]{10})?$")  # 2525D/E, APP-6D/E (30 digits: with the E extension)
_LETTER_SIDC = re.compile(r"^[A-Z][A-Z*\-][A-Z*\-][A-Z*\-][A-Z0-9*\-]{6,11}$")  # 2525B/C, APP-6B
_SVG = re.compile(r'^<svg\b[^>]*\sviewBox="([^"]+)"[^>]*>(.*)</svg>$', re.DOTALL)
_HEX = re.compile(r"^#[0-9a-f]{6}$")


def normalise_sidc(sidc: object) -> str | None:
    """The SIDC as the library wants it (upper case, no blanks), or None if it is not shaped like one.

    Checking the shape first keeps junk from reaching the library's letter-SIDC
    path, which loads a large table on first use.
    """
    if sidc is None or not isinstance(sidc, str):
        return None
    s = re.sub(r"\s+", "", sidc).upper()
    if _NUMBER_SIDC.match(s) or _LETTER_SIDC.match(s):
        return s
    return None


def _halo_hex(nation_colour: Sequence[int] | str | None) -> str:
    if nation_colour is None:
        return DEFAULT_HALO
    if isinstance(nation_colour, str):
        c = nation_colour.strip().lower()
        return c if _HEX.match(c) else DEFAULT_HALO
    try:
        return style.hex_colour([max(0, min(255, int(v))) for v in list(nation_colour)[:3]])
    except (TypeError, ValueError, IndexError):
        return DEFAULT_HALO


def _candidates(sidc: str | None, echelon: str | None) -> list[str]:
    """SIDCs to try in order: the unit's own, then plain frames, most faithful first.

    A letter SIDC is retried with its status (4th character) blanked: the
    library's 2525B/C table is keyed that way, and a unit type in the right
    frame beats a plain frame. (The library draws no echelon marks for letter
    SIDCs; 20-digit ones get them.)
    """
    out = [sidc] if sidc else []
    if sidc and _LETTER_SIDC.match(sidc) and sidc[3] != "-":
        out.append(sidc[:3] + "-" + sidc[4:])
    if sidc and _NUMBER_SIDC.match(sidc):
        out.append(sidc[:10] + "000000" + "0000")  # keep identity, set, status, HQ, echelon; no main icon
    code = ECHELON_CODES.get((echelon or "").strip().lower())
    if code is None and sidc and _NUMBER_SIDC.match(sidc):
        code = sidc[8:10]
    out.append(_FRIEND_UNIT.format(echelon=code or "00"))
    out.append(_FRIEND_UNIT.format(echelon="00"))
    return out


def _render(sidc: str) -> Symbol | None:
    try:
        sym = Symbol(sidc, size=_LIBRARY_SIZE, outline_width=HALO_WIDTH)
        if not sym.is_valid():
            return None
        sym.as_svg()  # render now, so a library failure is caught here
        return sym
    except Exception:  # noqa: BLE001 - the library must never take the map down; the caller falls back
        return None


def _with_halo(svg: str, halo: str) -> str:
    """Wrap the library's SVG body in a dilate filter: an outline like milsymbol.js's outlineColor."""
    m = _SVG.match(svg.strip())
    if m is None:
        return svg
    view_box, body = m.groups()
    _, _, w, h = (float(v) for v in view_box.split())
    width, height = round(w * _LIBRARY_SIZE / 100), round(h * _LIBRARY_SIZE / 100)
    fid = "halo" + halo[1:]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="{view_box}">'
            # Region relative to the symbol's own box (not its viewBox): the filter
            # is then the same text for every symbol of one colour, so an atlas
            # keeps one copy of it. 15% covers the halo on the smallest box.
            f'<defs><filter id="{fid}" x="-15%" y="-15%" width="130%" height="130%">'
            f'<feMorphology in="SourceAlpha" operator="dilate" radius="{HALO_WIDTH}" result="d"/>'
            f'<feFlood flood-color="{halo}"/><feComposite in2="d" operator="in" result="h"/>'
            f'<feMerge><feMergeNode in="h"/><feMergeNode in="SourceGraphic"/></feMerge></filter></defs>'
            f'<g filter="url(#{fid})">{body}</g></svg>')


@functools.lru_cache(maxsize=1024)
def unit_symbol(sidc: str | None, halo: str = DEFAULT_HALO, echelon: str | None = None) -> SvgIcon:
    """The symbol of a normalised SIDC with its halo, falling back to a plain frame. Cached: one render per SIDC."""
    sym, used = None, None
    for candidate in _candidates(sidc, echelon):
        sym = _render(candidate)
        if sym is not None:
            used = candidate
            break
    if sym is None:  # the library could not draw even a plain frame: a grey box, never a crash
        size = FRAME_PX * TEXTURE_SCALE
        svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{size * 3 // 2}" height="{size}" viewBox="0 0 150 100">'
               f'<rect x="4" y="4" width="142" height="92" fill="#80e0ff" stroke="{halo}" stroke-width="6"/></svg>')
        return SvgIcon("unit-none-" + halo[1:], svg, size * 3 // 2, size, size * 3 / 4, size / 2)
    svg = _with_halo(sym.as_svg(), halo)
    size, anchor = sym.get_size(), sym.get_anchor()
    # The library's anchor is where the symbol stands on the map: the frame's
    # centre, or the foot of the staff for a headquarters. Not height / 2,
    # which would shift symbols with echelon marks or a staff off their position.
    width, height = round(size["width"]), round(size["height"])
    key = f"unit-{used}-{halo[1:]}"
    return SvgIcon(key, svg, width, height, anchor["x"] * width / size["width"], anchor["y"] * height / size["height"])


@functools.lru_cache(maxsize=1024)
def _unit_icon(sidc: str | None, halo: str, echelon: str | None) -> dict:
    return icon_definition(unit_symbol(sidc, halo, echelon))


def unit_icon(sidc: str | None, *, nation_colour: Sequence[int] | str | None = None,
              echelon: str | None = None) -> dict:
    """A deck.gl IconLayer icon object (auto-packing mode) for a unit's SIDC.

    Returns ``{"url": "data:image/svg+xml;base64,...", "width", "height",
    "anchorX", "anchorY", "id", "mask": False}`` with width/height in texture
    pixels (`TEXTURE_SCALE` times the on-screen size). `nation_colour` (RGB(A)
    list or '#rrggbb') colours the halo; `echelon` (an `ingest.schema.ECHELONS`
    name) picks the echelon of the fallback frame when the SIDC is missing or
    unknown. The same SIDC and colour give the same (cached, shared: do not
    mutate) dict.
    """
    return _unit_icon(normalise_sidc(sidc), _halo_hex(nation_colour), echelon)


def unit_symbol_for(sidc: object, *, nation_colour: Sequence[int] | str | None = None,
                    echelon: str | None = None) -> SvgIcon:
    """The `SvgIcon` behind `unit_icon`, for packing into an atlas."""
    return unit_symbol(normalise_sidc(sidc), _halo_hex(nation_colour), echelon)
