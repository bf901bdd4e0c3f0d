"""Analyst: filters, the map, a feature table with details, and charts over the same view."""

from __future__ import annotations

import altair as alt
import shapely
import streamlit as st

from dashboard import auth, loaders, ui
from ingest.schema import LAYERS
from layers.figures import imagery_timeline, incidents_per_day, screen_marking, track_activity
from layers.table import alert_table, feature_details, feature_table, quicklook

st.set_page_config(initial_sidebar_state="expanded")  # the analyst's filters live there
ui.css(ui.ANALYST_CSS)
ui.init_view_state()
viewer = auth.current_viewer()
at = loaders.now()

# Filter options come from the unfiltered picture, so a filter never hides its own choices.
base_view = ui.current_view().with_(categories=(), severities=(), statuses=(), nations=(), sources=(), country=None)
options = ui.filter_options(loaders.picture(base_view, at, viewer=viewer)[0])
with st.sidebar:
    st.header("View")
    ui.window_control(custom=True)
    ui.filter_controls(options, full=True)
    ui.layer_control()

view = ui.current_view()
ui.sync_url(view)
picture, bounds = loaders.picture(view, at, viewer=viewer)

marking = screen_marking(picture)
ui.banner(marking)
st.title("Analyst")
counts = " · ".join(f"{LAYERS[n].title}: {len(picture[n]):,}" for n in ("incidents", "tracks", "deployments", "imagery")
                    if n in picture)
aoi_note = " · area of interest drawn" if view.aoi_wkt else ""
st.caption(f"{counts}{aoi_note} — window {ui.WINDOW_LABELS.get(view.window, view.window)} ending "
           f"{at:%Y-%m-%d %H:%M} UTC")

def draw_area(picture: dict, bounds) -> None:
    """The folium map (local Leaflet assets) for drawing an area of interest and measuring."""
    from streamlit_folium import st_folium

    from layers.map.leaflet import (
        RETURNED_OBJECTS,
        InvalidAOI,
        aoi_from_drawing,
        build_analyst_map,
        view_for_bounds,
    )

    current = shapely.from_wkt(st.session_state["aoi_wkt"]) if st.session_state.get("aoi_wkt") else None
    center, zoom = view_for_bounds(bounds)
    fmap = build_analyst_map(picture, center=center, zoom=zoom, aoi=current, now=at)
    out = st_folium(fmap, key="analyst-draw", returned_objects=list(RETURNED_OBJECTS), height=640,
                    use_container_width=True)
    try:
        drawn = aoi_from_drawing(out)
    except InvalidAOI as exc:
        st.warning(f"That area cannot be used: {exc}")
        drawn = None
    if drawn is not None and (current is None or not drawn.equals(current)):
        st.session_state["aoi_wkt"] = drawn.wkt
        st.rerun()
    if current is not None:
        if st.button("Clear the area of interest", key="clear_aoi"):
            st.session_state["aoi_wkt"] = None
            st.rerun()
        with st.expander("Make this area a restricted zone (alerts when a track enters it)"):
            from layers.zones import default_zone_marking, zone_marking_error

            zone_name = st.text_input("Zone name", key="zone_name")
            zone_marking = st.text_input("Marking", value=default_zone_marking(viewer), key="zone_marking",
                                         help="Who may see the zone, e.g. RESTRICTED//REL TO NATO")
            problem = zone_marking_error(zone_marking, viewer)
            if problem:
                st.caption(problem)
            if st.button("Save restricted zone", key="save_zone", disabled=not zone_name.strip() or bool(problem)):
                st.success(loaders.save_zone(zone_name, current.wkt, viewer=viewer, marking=zone_marking))


PLAYBACK_STEPS = 120  # a window plays in about two minutes at one step a second


def playback(picture: dict, bounds) -> None:
    """Replay tracks and incidents through the window; only this fragment reruns while playing."""
    import pandas as pd

    from layers.map.deck import CompactDeck, build_layers, initial_view
    from layers.map.deck.base import TOOLTIP
    from layers.map.deck.playback import playback_layers

    start, end = view.span(at)
    start = pd.Timestamp(start).floor("min").to_pydatetime()
    step = (end - start) / PLAYBACK_STEPS
    if "pb_cursor" not in st.session_state or not (start <= st.session_state["pb_cursor"] <= end):
        st.session_state["pb_cursor"] = start
    playing = st.toggle("Play", key="pb_playing")

    def seek() -> None:
        st.session_state["pb_cursor"] = st.session_state["pb_seek"]

    st.slider("Time", min_value=start, max_value=end, value=st.session_state["pb_cursor"], step=step,
              format="DD MMM HH:mm", key="pb_seek", on_change=seek)

    @st.fragment(run_every=1.0 if playing else None)
    def frame() -> None:
        if playing:
            nxt = st.session_state["pb_cursor"] + step
            st.session_state["pb_cursor"] = start if nxt > end else nxt
        cursor = st.session_state["pb_cursor"]
        st.caption(f"Playback at {cursor:%Y-%m-%d %H:%M} UTC")
        base = build_layers(picture, [n for n in ("borders", "disputed_areas", "deployments") if n in view.layers],
                            at)
        layers = base + playback_layers(loaders.trips(start, end, viewer=viewer), picture["incidents"], start, cursor)
        deck = CompactDeck(layers=layers, initial_view_state=initial_view(view.viewport, bounds),
                           map_provider=None, tooltip=TOOLTIP, height=600)
        st.pydeck_chart(deck, height=600, key="playback-map")

    frame()


@st.fragment
def alert_list() -> None:
    """The alerts this viewer may see; acknowledging one is stored, so it stays acknowledged everywhere."""
    states = st.pills("Show", ["open", "acknowledged", "resolved"], selection_mode="multi",
                      default=["open", "acknowledged"], key="alert_states")
    alerts = loaders.visible_alerts(at, viewer=viewer)
    shown = alerts[alerts["state"].isin(states or [])] if not alerts.empty else alerts
    table = alert_table(shown)
    if table.empty:
        st.info("No alerts in this selection.")
        return
    event = st.dataframe(table.drop(columns=["key"]), hide_index=True, width="stretch", height=360,
                         on_select="rerun", selection_mode="multi-row", key="alert-table")
    chosen = table.iloc[event.selection.rows] if event and event.selection and event.selection.rows else table.iloc[0:0]
    if st.button(f"Acknowledge {len(chosen)} selected as {viewer.display_name or viewer.username}", key="ack",
                 disabled=chosen.empty):
        done = loaders.acknowledge([str(k) for k in chosen["key"]], viewer=viewer, at=at)
        st.toast(f"{done} alert(s) acknowledged")
        st.rerun(scope="fragment")


@st.fragment
def export_panel() -> None:
    """Exactly the view on screen (window, filters, area, layers) in the analyst's format."""
    from layers.export.api import FORMATS, ExportError, export_bytes

    fmt = st.selectbox("Format", list(FORMATS), format_func=lambda f: FORMATS[f].label or f, key="export_fmt")
    layers = tuple(name for name in view.layers if name in LAYERS)
    st.caption("Exports " + ", ".join(LAYERS[n].title for n in layers) + " as filtered on screen, with provenance "
               "(window, filters, generation time, highest marking) in the file and its name.")
    if st.button("Prepare export", key="export_go"):
        start, end = view.span(at)
        try:
            result = export_bytes(picture, view.with_(layers=layers), viewer=viewer, fmt=fmt, now=at,
                                  track_points=loaders.track_points(start, end, viewer=viewer))
        except ExportError as exc:
            st.warning(str(exc))
            return
        st.session_state["export_result"] = result
    result = st.session_state.get("export_result")
    if result is not None and result.format == fmt:
        counts = ", ".join(f"{k}: {v:,}" for k, v in result.counts.items() if v)
        st.download_button(f"Download {result.filename}", data=result.data, file_name=result.filename,
                           mime=result.mime, key="export_download", type="primary")
        st.caption(f"{counts} — marking {result.marking}")


tab_map, tab_alerts, tab_table, tab_charts, tab_export = st.tabs(["Map", "Alerts", "Features", "Charts", "Export"])
with tab_export:
    export_panel()
with tab_alerts:
    alert_list()
with tab_map:
    mode = st.segmented_control("Map mode", ["Live map", "Playback", "Draw area / measure"], default="Live map",
                                key="map_mode", label_visibility="collapsed")
    if mode == "Draw area / measure":
        draw_area(picture, bounds)
    elif mode == "Playback":
        playback(picture, bounds)
    else:
        st.pydeck_chart(loaders.deck(view, at, viewer=viewer, height=640), height=640, key="analyst-map")
    st.html(ui.legend_html(view.layers))


@st.fragment
def features() -> None:
    """A fragment: choosing a layer or a row reruns only the table, never the map."""
    layer = st.segmented_control("Layer", ["incidents", "tracks", "deployments", "imagery", "infrastructure"],
                                 default="incidents", key="table_layer", format_func=lambda n: LAYERS[n].title)
    frame = picture.get(layer or "incidents")
    if frame is None or frame.empty:
        st.info("Nothing selected by the current filters.")
        return
    table = feature_table(frame, layer)
    event = st.dataframe(table, hide_index=True, width="stretch", height=420, on_select="rerun",
                         selection_mode="single-row", key=f"table-{layer}")
    rows = event.selection.rows if event and event.selection else []
    if rows:
        st.subheader("Details")
        st.dataframe(feature_details(frame, layer, table.iloc[rows[0]]), hide_index=True, width="stretch")
        if layer == "imagery":
            png = quicklook(frame, table.iloc[rows[0]])
            if png:
                st.image(png, caption="Quicklook", width=360)
            else:
                st.caption("No local quicklook for this scene (made at ingest for GeoTIFF/COG files).")
    else:
        st.caption(f"{len(table):,} features. Select a row for its details.")


with tab_table:
    features()

with tab_charts:
    per_day = incidents_per_day(picture["incidents"], picture["borders"])
    left, right = st.columns(2)
    if per_day.empty:
        left.info("No incidents in the view.")
    else:
        left.altair_chart(alt.Chart(per_day, title="Incidents per day by category").mark_bar().encode(
            x=alt.X("yearmonthdate(day):T", title="Day (UTC)"), y=alt.Y("sum(count):Q", title="Incidents"),
            color=alt.Color("category:N", title="Category")), width="stretch")
        right.altair_chart(alt.Chart(per_day, title="Incidents per day by region").mark_bar().encode(
            x=alt.X("yearmonthdate(day):T", title="Day (UTC)"), y=alt.Y("sum(count):Q", title="Incidents"),
            color=alt.Color("region:N", title="Region")), width="stretch")
    start, end = view.span(at)
    activity = track_activity(picture["tracks"], start, end)
    left.altair_chart(alt.Chart(activity, title="Tracks airborne per hour").mark_area(opacity=0.7).encode(
        x=alt.X("time:T", title="UTC"), y=alt.Y("tracks:Q", title="Tracks")), width="stretch")
    img = imagery_timeline(picture["imagery"])
    if not img.empty:
        right.altair_chart(alt.Chart(img, title="Imagery acquisitions and cloud cover").mark_circle(size=90).encode(
            x=alt.X("acquired_at:T", title="Acquired (UTC)"), y=alt.Y("cloud_cover:Q", title="Cloud cover %"),
            color=alt.Color("platform:N", title="Platform"), tooltip=["platform", "acquired_at", "cloud_cover"]),
            width="stretch")

ui.banner(marking)
