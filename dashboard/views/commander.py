"""Commander: for a tablet. The summary first, then the map; touch-sized controls, a light payload."""

from __future__ import annotations

import streamlit as st

from dashboard import auth, ui
from dashboard import loaders as data
from layers.figures import key_figures, screen_marking, ticker
from layers.table import alert_table

# Fewer, lighter layers: the commander's link may be weak.
COMMANDER_LAYERS = ("borders", "disputed_areas", "deployments", "tracks", "incidents", "infrastructure", "alerts")
MAX_POINTS = 1_500

ui.css(ui.TOUCH_CSS)
ui.init_view_state()
viewer = auth.current_viewer()
if "cmd_layers_seeded" not in st.session_state:
    st.session_state["cmd_layers_seeded"] = True
    st.session_state["layers"] = [l for l in st.session_state.get("layers", COMMANDER_LAYERS) if l in COMMANDER_LAYERS]

at = data.now()
view = ui.current_view()
picture, bounds = data.picture(view, at, viewer=viewer)
figures = key_figures(picture, at, data.feeds(data.versions(), at.strftime("%H:%M")))

marking = screen_marking(picture)
ui.banner(marking)
st.title("Commander")
ui.kpi_strip(figures)
open_alerts = picture["alerts"][picture["alerts"]["state"] == "open"] if not picture["alerts"].empty else None
if open_alerts is not None and not open_alerts.empty:
    with st.expander(f"Open alerts ({len(open_alerts)})", expanded=True):
        st.dataframe(alert_table(open_alerts).head(5)[["time", "severity", "message"]], hide_index=True,
                     width="stretch")
with st.expander("Newest events", expanded=False):
    st.html(ui.ticker_html(ticker(picture, at, limit=8), at))

ui.window_control()
with st.popover("Filters and layers", width="stretch"):
    ui.filter_controls(ui.filter_options(picture), full=False)
    ui.layer_control(COMMANDER_LAYERS)
ui.sync_url(view)

deck = data.deck(view, at, viewer=viewer, max_points=MAX_POINTS, height=560)
st.pydeck_chart(deck, height=560, key="commander-map")
st.html(ui.legend_html(view.layers))
ui.banner(marking)
