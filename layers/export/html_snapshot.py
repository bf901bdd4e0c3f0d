"""A standalone HTML map of the view: one file that opens offline, in any browser, years later.

The map is the analyst map (`layers.map.leaflet.build_analyst_map`: same layers, colours, escaped
tooltips), with every vendored Leaflet script and stylesheet from dashboard/static/vendor pasted
into the page, and the images those stylesheets use turned into data: URIs. So the file makes no
request at all: not to a CDN, not to the app. A Content-Security-Policy meta tag (`default-src
'none'`, inline script and style only, data: images) makes the browser refuse any fetch a future
folium version might add, and `check_no_remote_assets` refuses to write a page that still names a
script, stylesheet or image by URL.

The marking is shown in a banner at the top and bottom of the page (classification-banner
practice, coloured by its classification: `Provenance.banner_colours`), with the provenance (window, filters, counts, generation time) in the bottom one.
Places and alerts are not drawn (the analyst map does not draw them); the banner says so when the
view holds them. Each layer is capped at SNAPSHOT_MAX_FEATURES (the map notes what was left out).
"""

from __future__ import annotations

import base64
import html
import mimetypes
import re
from pathlib import Path

import shapely

from layers import style
from layers.export.constants import HTML_ASSET_SENTINEL, SNAPSHOT_MAX_FEATURES
from layers.export.job import ExportJob

VENDOR_DIR = Path(__file__).resolve().parents[2] / "dashboard" / "static" / "vendor"
DRAWN_LAYERS = ("borders", "disputed_areas", "imagery", "infrastructure", "overlays", "deployments", "tracks",
                "incidents")
BANNER_PX = 30
FOOTER_LINE_PX = 15
FOOTER_LINES = 4  # marking; records and their counts; time window and generation; filters and what is not drawn
FOOTER_PX = FOOTER_LINES * FOOTER_LINE_PX + 8

_SCRIPT = re.compile(r'<script src="' + re.escape(HTML_ASSET_SENTINEL) + r'/([^"]+)"></script>')
_LINK = re.compile(r'<link rel="stylesheet" href="' + re.escape(HTML_ASSET_SENTINEL) + r'/([^"]+)"\s*/?>')
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""")
# What would make a browser fetch something. Script bodies are left out of the attribute check
# (inlined Leaflet mentions src= and href= in its code and its attribution link); what a script
# could fetch at run time is what the Content-Security-Policy forbids.
_SCRIPT_BODY = re.compile(r"(<script\b[^>]*>).*?(</script>)", re.IGNORECASE | re.DOTALL)
_ATTR = re.compile(r"""<[a-z][^>]*?\b(?:src|href|srcset|poster|data)\s*=\s*["']?\s*([^"'\s>]+)""", re.IGNORECASE)
_URL = re.compile(r"""url\(\s*['"]?\s*([^'")\s]+)""", re.IGNORECASE)
_IMPORT = re.compile(r"@import\s+[^;]+", re.IGNORECASE)

CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data:; "
       "font-src data:; connect-src 'none'; frame-src 'none'; form-action 'none'; base-uri 'none'")


class RemoteAssetInHtml(RuntimeError):
    """The snapshot would still load something by URL."""


def write_html(job: ExportJob, path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.write(snapshot_html(job))


def snapshot_html(job: ExportJob) -> str:
    from branca.element import Element

    from layers.map.leaflet import build_analyst_map, view_for_bounds

    layers = {n: f for n, f in job.non_empty().items() if n in DRAWN_LAYERS}
    if job.view.viewport is not None:
        center, zoom = (job.view.viewport.latitude, job.view.viewport.longitude), round(job.view.viewport.zoom)
    else:
        center, zoom = view_for_bounds(_bounds(job))
    m = build_analyst_map(layers, center=center, zoom=zoom, aoi=job.aoi, now=job.now,
                          max_features=SNAPSHOT_MAX_FEATURES, asset_base=HTML_ASSET_SENTINEL)
    prov = job.provenance
    not_drawn = [n for n in job.non_empty() if n not in DRAWN_LAYERS and n != "track_points"]
    root = m.get_root()
    root.header.add_child(Element(f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'),
                          name="watchfloor_csp", index=0)
    root.header.add_child(Element(f"<title>{html.escape('watchfloor snapshot - ' + prov.marking)}</title>"),
                          name="watchfloor_title")
    root.header.add_child(Element(_banner_css(prov.banner_colours)), name="watchfloor_banner_css")
    root.html.add_child(Element(
        f'<div class="wf-banner wf-top">{html.escape(prov.marking)}</div>'
        f'<div class="wf-banner wf-bottom">{_footer(job, not_drawn)}</div>'), name="watchfloor_banners")
    page = inline_assets(root.render())
    check_no_remote_assets(page)
    return page


def _footer(job: ExportJob, not_drawn: list[str]) -> str:
    """One line each, the counts right under the marking: a reader must see how many records the
    picture holds, whatever the filters' length (a long line ends in an ellipsis, whole on hover)."""
    prov = job.provenance
    lines = prov.lines()
    records = next(line for line in lines if line.startswith("Records: "))
    when = " · ".join(line for line in lines if line.startswith(("Time window", "Generated")))
    rest = " · ".join([*(line for line in lines if line.startswith("Filters")),
                       *(["Not drawn on this map: " + ", ".join(not_drawn)] if not_drawn else [])])
    return "".join(f'<div class="wf-line" title="{html.escape(text)}">{html.escape(text) if i else f"<b>{html.escape(text)}</b>"}</div>'
                   for i, text in enumerate((prov.marking, records, when, rest)))


def _bounds(job: ExportJob) -> tuple[float, float, float, float] | None:
    """Where the data is: the AOI if any, else the event layers, else whatever is there."""
    if job.aoi is not None and not job.aoi.is_empty:
        return tuple(job.aoi.bounds)
    layers = job.non_empty()
    for names in (("incidents", "tracks", "deployments", "imagery", "alerts"), tuple(layers)):
        geoms = [f.geometry.values for n, f in layers.items() if n in names]
        if geoms:
            import numpy as np

            b = shapely.total_bounds(np.concatenate([np.asarray(g, dtype=object) for g in geoms]))
            if np.all(np.isfinite(b)):
                return tuple(float(v) for v in b)
    return None


def _banner_css(colours: tuple[str, str]) -> str:
    bg, fg = colours
    return f"""<style>
.wf-banner {{ position: fixed; left: 0; right: 0; z-index: 10000; height: {BANNER_PX}px; line-height: {BANNER_PX}px;
  background: {bg}; color: {fg}; font: 600 14px/{BANNER_PX}px system-ui, sans-serif; text-align: center;
  overflow: hidden; white-space: nowrap; text-overflow: ellipsis; padding: 0 8px; }}
.wf-top {{ top: 0; font-size: 16px; letter-spacing: 0.05em; }}
.wf-bottom {{ bottom: 0; height: {FOOTER_PX}px; font-weight: 400; font-size: 12px; line-height: {FOOTER_LINE_PX}px;
  padding-top: 4px; box-sizing: border-box; }}
.wf-line {{ overflow: hidden; white-space: nowrap; text-overflow: ellipsis; }}
.folium-map {{ top: {BANNER_PX}px !important; height: calc(100% - {BANNER_PX + FOOTER_PX}px) !important; }}
.folium-map.leaflet-container {{ background: {style.BACKGROUND}; }}
</style>"""


def inline_assets(page: str, vendor_dir: Path = VENDOR_DIR) -> str:
    """Replace each vendored <script src>/<link href> by the file's content, CSS images as data: URIs."""

    def script(m: re.Match) -> str:
        js = _vendor_file(vendor_dir, m.group(1)).read_text(encoding="utf-8")
        return "<script>" + re.sub(r"</(script)", r"<\\/\1", js, flags=re.IGNORECASE) + "</script>"

    def link(m: re.Match) -> str:
        css_path = _vendor_file(vendor_dir, m.group(1))
        css = _CSS_URL.sub(lambda u: _data_url(u, css_path.parent, vendor_dir), css_path.read_text(encoding="utf-8"))
        return "<style>" + re.sub(r"</(style)", r"<\\/\1", css, flags=re.IGNORECASE) + "</style>"

    page = _SCRIPT.sub(lambda m: script(m), page)
    return _LINK.sub(lambda m: link(m), page)


def _vendor_file(vendor_dir: Path, relative: str) -> Path:
    path = (vendor_dir / relative).resolve()
    if vendor_dir.resolve() not in path.parents or not path.is_file():
        raise RemoteAssetInHtml(f"asset {relative!r} is not a vendored file under {vendor_dir}")
    return path


def _data_url(m: re.Match, base: Path, vendor_dir: Path) -> str:
    ref = m.group(2).strip()
    if ref.startswith(("data:", "#")):
        return m.group(0)  # already inline, or a fragment (IE's VML behaviour): nothing is fetched
    path = (base / ref).resolve()
    if vendor_dir.resolve() not in path.parents or not path.is_file():
        raise RemoteAssetInHtml(f"stylesheet image {ref!r} is not a vendored file")
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f'url("data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}")'


def remote_asset_references(page: str) -> list[str]:
    """Every tag attribute (src, href...) and CSS url()/@import in the page that names something
    to fetch: anything but a data: URI or a #fragment."""
    markup = _SCRIPT_BODY.sub(r"\1\2", page)
    refs = [*_ATTR.findall(markup), *_URL.findall(markup)]
    found = [r for r in refs if not r.lower().startswith(("data:", "#"))]
    return sorted(set(found + _IMPORT.findall(markup)))


def check_no_remote_assets(page: str) -> None:
    found = remote_asset_references(page)
    if found:
        raise RemoteAssetInHtml(f"snapshot would load: {found[:5]}")
