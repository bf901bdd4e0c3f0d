"""UI pieces the pages share: view controls bound to the URL, key figures, ticker, legend, styles.

Everything shown here that came from a feed is escaped (`layers.map.deck.base.escape`)
before it reaches any HTML; the only unescaped HTML is the constant CSS below.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from ingest.schema import INCIDENT_STATUSES, LAYERS, SEVERITIES
from layers import style
from layers.filters import ALL_LAYERS, DEFAULT_LAYERS, DEFAULT_WINDOW, WINDOWS, View
from layers.map.deck.base import escape

LAYER_TITLES = {**{name: spec.title for name, spec in LAYERS.items()}, "alerts": "Alerts",
                "hotspots": "Hot spots (H3)"}
WINDOW_LABELS = {"1h": "1 h", "6h": "6 h", "24h": "24 h", "7d": "7 d", "custom": "Custom"}
_STATE_KEYS = {"window": "w", "layers": "lyr", "categories": "cat", "severities": "sev", "statuses": "st",
               "nations": "nat", "sources": "src", "country": "aoi_country"}

# Streamlit dims every element while its script reruns: on a wall refreshing itself, the whole
# picture would fade every interval. The wall and the tablet keep full opacity.
CALM_CSS = """
  .stElementContainer[data-stale="true"] { opacity: 1 !important; transition: none !important; }
"""
WALL_CSS = """
<style>""" + CALM_CSS + """
  header[data-testid="stHeader"] { display: none; }
  .block-container { padding-top: 0.6rem !important; padding-bottom: 0.4rem !important; max-width: 100% !important; }
  [data-testid="stMetricValue"] { font-size: clamp(1.5rem, 2.5vw, 3.1rem) !important; line-height: 1.05 !important; }
  [data-testid="stMetricLabel"] p { font-size: clamp(.8rem, 1vw, 1.15rem) !important; }
  .wf-ticker { font-size: clamp(.9rem, 1.05vw, 1.25rem); line-height: 1.5; }
  .wf-ticker .t { color: #9fb3d1; font-variant-numeric: tabular-nums; margin-right: .6em; }
  .wf-card { border-left: .35em solid; padding: .15em 0 .15em .5em; margin-bottom: .45em; }
  .wf-card .wf-sub { color: #9fb3d1; font-size: .8em; line-height: 1.3; }
  .wf-count { font-weight: 700; margin-right: .4em; }
  .wf-calm { color: #7fd39a; }
  .wf-latest { font-size: clamp(.8rem, .9vw, 1.05rem); line-height: 1.45; color: #c9d4e6; }
  .wf-latest .t { color: #9fb3d1; font-variant-numeric: tabular-nums; margin-right: .5em; }
  .wf-sev { display: inline-block; min-width: 5.2em; font-weight: 700; margin-right: .4em; }
  .wf-legend { font-size: 1rem; line-height: 1.7; }
  .wf-swatch { display: inline-block; width: .95em; height: .95em; border-radius: 50%; margin: 0 .35em -.1em .9em; }
  .wf-title { font-size: clamp(1.3rem, 1.7vw, 2rem); font-weight: 700; letter-spacing: .02em; }
</style>
"""
TOUCH_CSS = """
<style>""" + CALM_CSS + """
  header[data-testid="stHeader"] { height: 2.5rem; }
  .block-container { padding-top: 4rem !important; padding-left: 1rem !important; padding-right: 1rem !important; }
  button, [role="option"], [data-baseweb="select"] { min-height: 48px !important; }
  [data-testid="stMetricValue"] { font-size: 2.3rem !important; }
  .wf-legend { font-size: .95rem; line-height: 1.7; }
  .wf-swatch { display: inline-block; width: .95em; height: .95em; border-radius: 50%; margin: 0 .35em -.1em .9em; }
  .wf-line { font-size: 1.05rem; line-height: 1.45; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  .wf-dim { color: #9fb3d1; }
  .wf-ticker { font-size: 1rem; line-height: 1.4; }
  .wf-card { border-left: .3em solid; padding: .1em 0 .1em .5em; margin-bottom: .35em; }
  .wf-ticker .t { color: #9fb3d1; margin-right: .5em; }
  .wf-sev { display: inline-block; min-width: 4.6em; font-weight: 700; margin-right: .3em; }
  .wf-count { font-weight: 700; margin-right: .3em; }
  .wf-calm { color: #7fd39a; }
</style>
"""
ANALYST_CSS = """
<style>
  .block-container { padding-top: 4rem !important; max-width: 100% !important; }
  .wf-legend { font-size: .9rem; line-height: 1.7; }
  .wf-swatch { display: inline-block; width: .9em; height: .9em; border-radius: 50%; margin: 0 .35em -.1em .9em; }
</style>
"""


def css(text: str) -> None:
    st.html(text)


# -- view state: URL <-> widgets ---------------------------------------------------------
# The view lives in one plain session key, never in the widgets' own state: Streamlit forgets a
# widget's value when a run of a page does not draw it, and a run interrupted by a timed fragment
# (the sign-in watchdog, the wall's refresh) while the user changes page can register a widget
# empty. Widgets are set from the view before they are drawn and write back only when the user
# changes them, so the view follows the user from page to page.
_VIEW_KEY = "_wf_view"
_BOUND = (*_STATE_KEYS, "custom_start", "custom_end")


def _view_state() -> dict:
    return st.session_state.setdefault(_VIEW_KEY, {})


def _keep(key: str, offered: tuple | None = None) -> None:
    """A widget changed by the user: its value becomes the view's. A layer control that offers only
    some layers (Commander) leaves the others as they were."""
    value = st.session_state.get(key)
    if offered is not None:
        value = [*value, *(v for v in _view_state().get(key, ()) if v not in offered)]
    _view_state()[key] = value


def _bind(key: str, value, offered: tuple | None = None) -> dict:
    st.session_state[key] = value
    return {"key": key, "on_change": _keep, "args": (key, offered)}


def init_view_state() -> View:
    """On a session's first run, the view comes from the URL (a shared link)."""
    view = View.from_params(st.query_params.to_dict())
    if _VIEW_KEY not in st.session_state:
        state = _view_state()
        state["window"] = view.window if (view.window in WINDOWS or view.window == "custom") else DEFAULT_WINDOW
        if view.window == "custom":
            state["custom_start"], state["custom_end"] = view.start, view.end
        state["layers"] = list(view.layers)
        for name in ("categories", "severities", "statuses", "nations", "sources"):
            state[name] = list(getattr(view, name))
        state["country"] = view.country
        st.session_state["viewport"] = view.viewport
        st.session_state["aoi_wkt"] = view.aoi_wkt
    return view


def current_view(layers: tuple[str, ...] | None = None) -> View:
    """The view as chosen; `layers`: only those of the chosen layers this page offers."""
    state, ss = _view_state(), st.session_state
    window = state.get("window") or DEFAULT_WINDOW
    start, end = state.get("custom_start"), state.get("custom_end")
    if window == "custom":
        start, end = _utc(start), _utc(end)
        if start is None or end is None or start >= end:
            window, start, end = DEFAULT_WINDOW, None, None
    else:
        start = end = None
    chosen = tuple(state.get("layers", DEFAULT_LAYERS))
    return View(window=window, start=start, end=end,
                categories=tuple(state.get("categories") or ()), severities=tuple(state.get("severities") or ()),
                statuses=tuple(state.get("statuses") or ()), nations=tuple(state.get("nations") or ()),
                sources=tuple(state.get("sources") or ()),
                layers=chosen if layers is None else tuple(l for l in chosen if l in layers),
                country=state.get("country") or None, aoi_wkt=ss.get("aoi_wkt"), viewport=ss.get("viewport"))


def sync_url(view: View) -> None:
    """Keep the address bar equal to the view, so copying it shares exactly this view."""
    params = view.to_params()
    if params != {k: v for k, v in st.query_params.to_dict().items()}:
        st.query_params.from_dict(params)


def window_control(label_visibility: str = "visible", *, custom: bool = False) -> None:
    """Last 1 h / 6 h / 24 h / 7 d, and for analysts a custom window (UTC)."""
    options = list(WINDOWS) + (["custom"] if custom else [])
    state = _view_state()
    if state.get("window") not in options:
        state["window"] = DEFAULT_WINDOW
    st.segmented_control("Time window", options, format_func=WINDOW_LABELS.get, label_visibility=label_visibility,
                         **_bind("window", state["window"]))
    if not state.get("window"):  # a click on the chosen segment clears it: keep a window
        state["window"] = DEFAULT_WINDOW
    if state["window"] == "custom":
        now = datetime.now(UTC).replace(second=0, microsecond=0, tzinfo=None)
        state.setdefault("custom_start", now - timedelta(days=2))
        state.setdefault("custom_end", now)
        st.datetime_input("From (UTC)", step=timedelta(minutes=15), **_bind("custom_start", state["custom_start"]))
        st.datetime_input("To (UTC)", step=timedelta(minutes=15), **_bind("custom_end", state["custom_end"]))


def _utc(value) -> datetime | None:
    """Widgets give naive datetimes meaning UTC (the labels say so)."""
    if value is None:
        return None
    ts = pd.Timestamp(value)
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).to_pydatetime()


def layer_control(layers: tuple[str, ...] = ALL_LAYERS, label_visibility: str = "visible") -> None:
    chosen = [l for l in _view_state().get("layers", DEFAULT_LAYERS) if l in layers]
    st.pills("Layers", list(layers), selection_mode="multi", format_func=LAYER_TITLES.get,
             label_visibility=label_visibility, **_bind("layers", chosen, tuple(layers)))


def filter_controls(options: dict[str, list[str]], *, full: bool) -> None:
    """Category, severity, status, nation, source: all for analysts, the first two for commanders."""
    state = _view_state()

    def offered(key: str, choices: list) -> list:
        return [v for v in state.get(key) or () if v in choices]

    st.multiselect("Severity", list(SEVERITIES), placeholder="All severities",
                   **_bind("severities", offered("severities", list(SEVERITIES))))
    cats = options.get("categories", [])
    st.multiselect("Category", cats, placeholder="All categories", **_bind("categories", offered("categories", cats)))
    if full:
        st.multiselect("Status", list(INCIDENT_STATUSES), placeholder="All statuses",
                       **_bind("statuses", offered("statuses", list(INCIDENT_STATUSES))))
        nations, sources = options.get("nations", []), options.get("sources", [])
        st.multiselect("Nation", nations, placeholder="All nations", **_bind("nations", offered("nations", nations)))
        st.multiselect("Source", sources, placeholder="All sources", **_bind("sources", offered("sources", sources)))
        countries = [None] + options.get("countries", [])
        country = state.get("country") if state.get("country") in countries else None
        st.selectbox("Area of interest: country", countries,
                     format_func=lambda c: "Everywhere" if c is None else options.get("country_names", {}).get(c, c),
                     **_bind("country", country))


def filter_options(picture: dict) -> dict[str, list[str]]:
    inc, dep = picture.get("incidents"), picture.get("deployments")
    borders = picture.get("borders")
    sources = set()
    for name in ("incidents", "tracks", "imagery", "deployments"):
        f = picture.get(name)
        if f is not None and not f.empty:
            sources |= set(f["source"].dropna().astype(str))
    out = {
        "categories": sorted(inc["category"].dropna().astype(str).unique()) if inc is not None and not inc.empty else [],
        "nations": sorted(dep["nation"].dropna().astype(str).unique()) if dep is not None and not dep.empty else [],
        "sources": sorted(sources),
        "countries": [], "country_names": {},
    }
    if borders is not None and not borders.empty:
        b = borders.sort_values("name")
        out["countries"] = b["country_code"].astype(str).tolist()
        out["country_names"] = dict(zip(b["country_code"].astype(str), b["name"].astype(str)))
    return out


# -- panels ---------------------------------------------------------------------------------
def kpi_strip(fig: dict) -> None:
    sev = fig["incidents_by_severity"]
    cols = st.columns(6)
    cols[0].metric("Incidents, 24 h", f"{fig['incidents_24h']:,}",
                   help=" · ".join(f"{k}: {v}" for k, v in sev.items()))
    cols[1].metric("Critical / high", f"{sev.get('critical', 0)} / {sev.get('high', 0)}")
    cols[2].metric("Active tracks", f"{fig['tracks_active']:,}", help=f"{fig['tracks_stale']} stale")
    cols[3].metric("Partner units", f"{fig['units']:,}", help=f"{fig['nations']} nations, {fig['personnel']:,} personnel")
    cols[4].metric("Needs action", f"{fig.get('action_cards', 0):,}",
                   help=f"{fig.get('alerts_open', 0):,} open alerts in all ({fig.get('alerts_critical', 0)} critical), "
                        "grouped; the full list and acknowledgement are on the Analyst page")
    cols[5].metric("Stale feeds", f"{fig['stale_feeds']} / {fig['feeds']}" if fig["feeds"] else "0")


def _ago(then: object, now: datetime) -> str:
    minutes = int((pd.Timestamp(now) - pd.Timestamp(then)).total_seconds() // 60)
    if minutes < 1:
        return "now"
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h" if minutes < 48 * 60 else f"{minutes // 1440} d"


def action_html(cards: pd.DataFrame, now: datetime, *, limit: int = 10, details: bool = True) -> str:
    """The alerts that need a person, one card per line (grouped findings count as one), most severe
    and newest first; the rest is information, counted on Commander and listed on Analyst."""
    act = cards[cards["needs_action"].astype(bool)].head(limit) if not cards.empty else cards
    lines = []
    for c in act.itertuples():
        colour = style.hex_colour(style.SEVERITY[c.severity]) if c.severity in style.SEVERITY else "#9fb3d1"
        sub = f'<div class="wf-sub">{escape(c.detail)}</div>' if details and c.detail else ""
        lines.append(f'<div class="wf-card" style="border-left-color:{colour}"><span class="t">'
                     f'{escape(_ago(c.time, now))}</span><span class="wf-sev" style="color:{colour}">'
                     f'{escape(c.severity.upper())}</span>{escape(c.title)}{sub}</div>')
    empty = '<div class="wf-calm">Nothing needs action.</div>'
    return '<div class="wf-ticker" data-testid="wf-ticker">' + ("".join(lines) or empty) + "</div>"


def attention_line(summary: dict) -> str:
    """One line: how many alert cards need action, by severity, and how much is information."""
    sev = summary["action_by_severity"]
    parts = [f'<b style="color:{style.hex_colour(style.SEVERITY[s])}">{n} {escape(s)}</b>'
             for s, n in sev.items() if n]
    head = ("Needs action: " + " · ".join(parts)) if parts else "Nothing needs action"
    info = summary["info_alerts"]
    tail = f' <span class="wf-dim">· {info:,} open alerts are information (Analyst)</span>' if info else ""
    return f'<div class="wf-line">{head}{tail}</div>'


def summary_html(fig: dict) -> str:
    """The key figures as one line of text, for a tablet: the map must stay above the fold."""
    sev = fig["incidents_by_severity"]
    crit = style.hex_colour(style.SEVERITY["critical"])
    stale = f" · <b>{fig['stale_feeds']}</b> stale feeds" if fig.get("stale_feeds") else ""
    return (f'<div class="wf-line">Incidents 24 h <b>{fig["incidents_24h"]:,}</b> (<b style="color:{crit}">'
            f'{sev.get("critical", 0)}</b> critical, <b>{sev.get("high", 0)}</b> high) · tracks <b>'
            f'{fig["tracks_active"]:,}</b> active · <b>{fig["units"]:,}</b> partner units{stale}</div>')


def latest_html(rows: pd.DataFrame, now: datetime) -> str:
    """Newest reports (incidents, tracks, imagery), one short line each: what changed, not what to do."""
    lines = [f'<div><span class="t">{escape(pd.Timestamp(r.time).strftime("%H:%M"))}Z</span>{escape(r.text)}</div>'
             for r in rows.itertuples()]
    return '<div class="wf-latest">' + ("".join(lines) or "<div>No reports in the window.</div>") + "</div>"


def ticker_html(rows: pd.DataFrame, now: datetime) -> str:
    lines = []
    for r in rows.itertuples():
        colour = style.hex_colour(style.SEVERITY[r.severity]) if r.severity in style.SEVERITY else "#9fb3d1"
        label = escape(r.severity.upper() if r.severity else r.kind.upper())
        lines.append(f'<div><span class="t">{escape(pd.Timestamp(r.time).strftime("%H:%M"))}Z</span>'
                     f'<span class="wf-sev" style="color:{colour}">{label}</span>{escape(r.text)}</div>')
    return '<div class="wf-ticker">' + ("".join(lines) or "<div>No events in the window.</div>") + "</div>"


def legend_html(shown: tuple[str, ...] | list[str]) -> str:
    parts = []
    if "incidents" in shown:
        parts += [f'<span class="wf-swatch" style="background:{style.hex_colour(c)}"></span>{escape(s)}'
                  for s, c in style.SEVERITY.items()]
    if "tracks" in shown:
        parts += [f'<span class="wf-swatch" style="background:{style.hex_colour(style.TRACK_ACTIVE)}"></span>track',
                  f'<span class="wf-swatch" style="background:{style.hex_colour(style.TRACK_STALE)}"></span>stale track']
    if "infrastructure" in shown:
        parts += [f'<span class="wf-swatch" style="background:{style.hex_colour(c)}"></span>{escape(k.replace("_", " "))}'
                  for k, c in style.INFRASTRUCTURE.items() if k in ("airport", "port", "power_plant")]
    if "disputed_areas" in shown:
        parts.append(f'<span class="wf-swatch" style="background:{style.hex_colour(style.DISPUTED_LINE)}"></span>'
                     "disputed area")
    if "imagery" in shown:
        parts.append(f'<span class="wf-swatch" style="background:{style.hex_colour(style.IMAGERY_CLEAR)}"></span>'
                     "imagery (clear)")
    return '<div class="wf-legend">' + " ".join(parts) + "</div>"


BANNER_COLOURS = {"UNCLASSIFIED": "#1f7a3a", "RESTRICTED": "#1f4f9a", "CONFIDENTIAL": "#1f4f9a",
                  "SECRET": "#b3261e", "TOP SECRET": "#d08a00"}


def banner(text: str) -> None:
    """The classification banner: the highest marking of what is on screen (shown top and bottom)."""
    level = next((k for k in ("TOP SECRET", "SECRET", "CONFIDENTIAL", "RESTRICTED", "UNCLASSIFIED")
                  if text.startswith(k)), None)
    colour = BANNER_COLOURS.get(level, "#6b2fa0") if "UNMARKED" not in text or level else "#6b2fa0"
    st.html(f'<div class="wf-banner" style="background:{colour};color:#fff;text-align:center;font-weight:700;'
            f'letter-spacing:.06em;padding:.15rem .5rem;border-radius:3px;font-size:.95rem">{escape(text)}</div>')
