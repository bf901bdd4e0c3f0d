"""A PNG picture of the view for briefings and reports: map, legend, title, marking banners.

Drawn with matplotlib (Agg, no display needed) from the same colours as the map (layers/style.py):
borders as the basemap (there is no tile service in an operations centre), disputed areas,
imagery footprints, infrastructure, places, deployments by nation, tracks active/stale, incidents
by severity, alerts as rings, the area of interest dashed. The extent is the view's viewport when
it has one, else the area of interest, else the event data, with a margin; the aspect is corrected
for latitude so shapes are not squashed. A marking banner runs across the top and bottom of the
image (coloured by classification) and the provenance sits under the title, so a cropped
screenshot of the picture still carries the marking at both edges.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers import style
from layers.export.constants import PNG_DPI, PNG_SIZE_INCHES
from layers.export.job import ExportJob

CLOUDY_PERCENT = 30
MARGIN = 0.08  # of the data extent on each side


def _rgba(colour: list[int]) -> tuple[float, float, float, float]:
    r, g, b = colour[:3]
    a = colour[3] if len(colour) > 3 else 255
    return (r / 255, g / 255, b / 255, a / 255)


def write_png(job: ExportJob, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure  # a Figure without pyplot: no global state, thread-safe
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle

    prov = job.provenance
    layers = job.non_empty()
    fig = Figure(figsize=PNG_SIZE_INCHES, dpi=PNG_DPI, facecolor=style.BACKGROUND)
    ax = fig.add_axes((0.02, 0.08, 0.78, 0.78))
    ax.set_facecolor(style.BACKGROUND)
    extent = _extent(job)
    handles: list = []

    def area(frame: gpd.GeoDataFrame, face, edge, width: float, **kw) -> None:
        frame = frame[frame.geom_type.isin(["Polygon", "MultiPolygon"])]
        if len(frame):
            frame.plot(ax=ax, facecolor=face, edgecolor=edge, linewidth=width, **kw)

    clip = shapely.box(*extent).buffer(1.0) if extent else None
    if "borders" in layers:
        b = layers["borders"]
        if clip is not None:
            b = b[b.intersects(clip)]
        area(b, _rgba(style.LAND), _rgba(style.BORDER_LINE), 0.6)
    if "disputed_areas" in layers:
        area(layers["disputed_areas"], _rgba(style.DISPUTED_FILL), _rgba(style.DISPUTED_LINE), 1.2, linestyle="--")
        handles.append(Patch(facecolor=_rgba(style.DISPUTED_FILL), edgecolor=_rgba(style.DISPUTED_LINE),
                             linestyle="--", label="Disputed area"))
    if "imagery" in layers:
        im = layers["imagery"]
        cloudy = im["cloud_cover"].astype("float64").fillna(100) > CLOUDY_PERCENT if "cloud_cover" in im \
            else pd.Series(True, index=im.index)
        for mask, colour, label in ((~cloudy, style.IMAGERY_CLEAR, "Imagery (clear)"),
                                    (cloudy, style.IMAGERY_CLOUDY, "Imagery (cloudy)")):
            if mask.any():
                area(im[mask], "none", _rgba(colour), 1.0)
                handles.append(Patch(facecolor="none", edgecolor=_rgba(colour), label=label))
    if "places" in layers:
        _points(ax, layers["places"], _rgba(style.PLACE), 4, zorder=3)
        handles.append(Line2D([], [], marker="o", linestyle="", color=_rgba(style.PLACE), markersize=4,
                              label="Populated place"))
    if "infrastructure" in layers:
        inf = layers["infrastructure"]
        kinds = inf["kind"].astype(object).where(inf["kind"].notna(), "other") if "kind" in inf else \
            pd.Series("other", index=inf.index)
        for kind in sorted(kinds.unique()):
            colour = style.INFRASTRUCTURE.get(kind, style.INFRASTRUCTURE_DEFAULT)
            part = inf[kinds == kind]
            area(part, _rgba(list(colour[:3]) + [40]), _rgba(colour), 0.8)
            _points(ax, part, _rgba(colour), 8, marker="s", zorder=4)
        shown = sorted(k for k in kinds.unique() if k in style.INFRASTRUCTURE)
        handles += [Line2D([], [], marker="s", linestyle="", color=_rgba(style.INFRASTRUCTURE[k]), markersize=6,
                           label=f"Infrastructure: {k.replace('_', ' ')}") for k in shown]
        if len(shown) < kinds.nunique():
            handles.append(Line2D([], [], marker="s", linestyle="", color=_rgba(style.INFRASTRUCTURE_DEFAULT),
                                  markersize=6, label="Infrastructure: other"))
    if "deployments" in layers:
        dep = layers["deployments"]
        nations = dep["nation"].astype(object).where(dep["nation"].notna(), "") if "nation" in dep else \
            pd.Series("", index=dep.index)
        colours = style.nation_colours([str(n) for n in nations])
        if "area" in dep:
            for n, colour in colours.items():
                aor = gpd.GeoDataFrame(geometry=gpd.GeoSeries(dep.loc[nations == n, "area"].values, crs=4326))
                aor = aor[aor.geometry.notna()]
                area(aor, _rgba(list(colour[:3]) + [style.AOR_ALPHA]), _rgba(colour), 1.2)
        for n, colour in colours.items():
            _points(ax, dep[nations == n], _rgba(colour), 60, marker="D", edgecolor="white", zorder=6)
            handles.append(Line2D([], [], marker="D", linestyle="", color=_rgba(colour), markeredgecolor="white",
                                  markersize=7, label=f"Unit: {n or 'unknown nation'}"))
    if "tracks" in layers:
        tr = layers["tracks"]
        stale = (pd.to_datetime(tr["stale_at"], utc=True) < pd.Timestamp(job.now)).fillna(False).astype(bool) \
            if "stale_at" in tr else pd.Series(False, index=tr.index)
        for mask, colour, label in ((~stale, style.TRACK_ACTIVE, "Track (active)"),
                                    (stale, style.TRACK_STALE, "Track (stale)")):
            part = tr[mask]
            if not len(part):
                continue
            lines = part[part.geom_type.isin(["LineString", "MultiLineString"])]
            if len(lines):
                lines.plot(ax=ax, color=_rgba(colour), linewidth=1.8, zorder=7)
            heads = [shapely.Point(g.coords[-1]) if g.geom_type == "LineString" else shapely.point_on_surface(g)
                     for g in part.geometry.values if g is not None and not g.is_empty]
            if heads:
                xy = shapely.get_coordinates(np.asarray(heads, dtype=object))
                ax.scatter(xy[:, 0], xy[:, 1], s=18, color=_rgba(colour), edgecolors="black", linewidths=0.5,
                           zorder=8)
            handles.append(Line2D([], [], color=_rgba(colour), linewidth=2, marker="o", markersize=4, label=label))
    if "incidents" in layers:
        inc = layers["incidents"]
        sev = inc["severity"].astype(object).where(inc["severity"].notna(), "low") if "severity" in inc else \
            pd.Series("low", index=inc.index)
        for s in style.SEVERITY:
            part = inc[sev == s]
            size = 10 + style.SEVERITY_RADIUS_M[s] / 40
            if len(part):
                _points(ax, part, _rgba(style.SEVERITY[s]), size, edgecolor="black", zorder=9)
            handles.append(Line2D([], [], marker="o", linestyle="", color=_rgba(style.SEVERITY[s]),
                                  markeredgecolor="black", markersize=math.sqrt(size),
                                  label=f"Incident: {s}"))
    if "alerts" in layers:
        al = layers["alerts"]
        sev = al["severity"].astype(object).where(al["severity"].notna(), "low") if "severity" in al else \
            pd.Series("low", index=al.index)
        for s in style.SEVERITY:
            part = al[sev == s]
            if len(part):
                _points(ax, part, "none", 260, edgecolor=_rgba(style.SEVERITY[s]), linewidths=2, zorder=10)
        handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="none",
                              markeredgecolor="white", markersize=12, label="Alert (ring, by severity)"))
    if job.aoi is not None and not job.aoi.is_empty:
        gpd.GeoSeries([job.aoi], crs=4326).boundary.plot(ax=ax, color="#ffb020", linewidth=2, linestyle="--",
                                                         zorder=11)
        handles.append(Line2D([], [], color="#ffb020", linestyle="--", linewidth=2, label="Area of interest"))

    if extent:
        minx, miny, maxx, maxy = extent
        ax.set_xlim(minx, maxx)
        ax.set_ylim(miny, maxy)
        ax.set_aspect(1 / max(math.cos(math.radians((miny + maxy) / 2)), 0.1))
    ax.tick_params(colors="#9fb0c8", labelsize=8)
    for spine in ax.spines.values():
        spine.set_color("#3a4a66")
    ax.set_xlabel("Longitude", color="#9fb0c8", fontsize=8)
    ax.set_ylabel("Latitude", color="#9fb0c8", fontsize=8)

    if handles:
        legend = fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.81, 0.86), fontsize=8,
                            frameon=True, facecolor="#111a2b", edgecolor="#3a4a66", labelcolor="#e8eef8",
                            title="Legend", title_fontsize=9)
        legend.get_title().set_color("#e8eef8")

    bg, fg = prov.banner_colours
    for y in (0.965, 0.0):
        fig.add_artist(Rectangle((0, y), 1, 0.035, transform=fig.transFigure, facecolor=bg, edgecolor="none"))
        fig.text(0.5, y + 0.0175, prov.marking, ha="center", va="center", color=fg, fontsize=13,
                 fontweight="bold")
    start, end = prov.to_dict()["window"].values()
    fig.text(0.02, 0.935, f"watchfloor - {', '.join(l for l in prov.layers if l != 'track_points')}",
             color="#e8eef8", fontsize=15, fontweight="bold", va="center")
    fig.text(0.02, 0.905, f"Time window (UTC): {start} to {end}", color="#c8d3e6", fontsize=10, va="center")
    fig.text(0.02, 0.88, "  ·  ".join(prov.lines()[4:6] + [prov.lines()[2]]), color="#9fb0c8", fontsize=8.5,
             va="center", wrap=True)
    fig.savefig(path, format="png", facecolor=fig.get_facecolor(), metadata={
        "Title": f"watchfloor snapshot - {prov.marking}", "Description": prov.to_json(),
        "Software": "watchfloor"})


def _points(ax, frame: gpd.GeoDataFrame, colour, size: float, **kw) -> None:
    geoms = np.asarray(frame.geometry.values, dtype=object)
    geoms = geoms[~pd.isna(geoms)]
    if not len(geoms):
        return
    pts = [g if g.geom_type == "Point" else shapely.point_on_surface(g) for g in geoms if not g.is_empty]
    if not pts:
        return
    xy = shapely.get_coordinates(np.asarray(pts, dtype=object))
    ax.scatter(xy[:, 0], xy[:, 1], s=size, c=[colour] if colour != "none" else "none", **kw)


def _extent(job: ExportJob) -> tuple[float, float, float, float] | None:
    vp = job.view.viewport
    if vp is not None:
        half_w = 360.0 / (2 ** vp.zoom) * 2.0  # about the width a 1,000-px screen shows at that zoom
        half_h = half_w * 0.6 * max(math.cos(math.radians(vp.latitude)), 0.1)
        return (vp.longitude - half_w, max(-90, vp.latitude - half_h), vp.longitude + half_w,
                min(90, vp.latitude + half_h))
    if job.aoi is not None and not job.aoi.is_empty:
        bounds = job.aoi.bounds
    else:
        layers = job.non_empty()
        event = [n for n in ("incidents", "tracks", "deployments", "imagery", "alerts", "track_points") if n in layers]
        names = event or list(layers)
        if not names:
            return None
        geoms = np.concatenate([np.asarray(layers[n].geometry.values, dtype=object) for n in names])
        bounds = shapely.total_bounds(geoms)
        if not np.all(np.isfinite(bounds)):
            return None
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    dx, dy = max(maxx - minx, 0.1), max(maxy - miny, 0.1)
    return (minx - dx * MARGIN, max(-90, miny - dy * MARGIN), maxx + dx * MARGIN, min(90, maxy + dy * MARGIN))
