"""Analyst: filters, the map, a feature table with details, and charts over the same view."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard import data, ui
from ingest.schema import LAYERS
from layers.figures import imagery_timeline, incidents_per_day, track_activity
from layers.map import build_deck, build_layers, initial_view
from layers.table import feature_details, feature_table

st.set_page_config(initial_sidebar_state="expanded")  # the analyst's filters live there
ui.css(ui.ANALYST_CSS)
ui.init_view_state()
at = data.now()

# Filter options come from the unfiltered picture, so a filter never hides its own choices.
base_view = ui.current_view().with_(categories=(), severities=(), statuses=(), nations=(), sources=(), country=None)
options = ui.filter_options(data.picture(base_view, at)[0])
with st.sidebar:
    st.header("View")
    ui.window_control()
    ui.filter_controls(options, full=True)
    ui.layer_control()

view = ui.current_view()
ui.sync_url(view)
picture, bounds = data.picture(view, at)

st.title("Analyst")
counts = " · ".join(f"{LAYERS[n].title}: {len(picture[n]):,}" for n in ("incidents", "tracks", "deployments", "imagery")
                    if n in picture)
st.caption(f"{counts} — window {ui.WINDOW_LABELS.get(view.window, view.window)} ending "
           f"{at:%Y-%m-%d %H:%M} UTC")

tab_map, tab_table, tab_charts = st.tabs(["Map", "Features", "Charts"])
with tab_map:
    initial = initial_view(view.viewport, bounds)
    deck = build_deck(build_layers(picture, view.layers, at, zoom=initial.zoom), initial, height=640)
    st.pydeck_chart(deck, height=640, key="analyst-map")
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
