"""Commander: for a tablet. The summary in two lines, then the map above the fold; what needs action
right after; touch-sized controls; a light payload."""

from __future__ import annotations

import streamlit as st

from dashboard import auth, loaders, ui
from layers.figures import key_figures, screen_marking
from layers.triage import summary

# Fewer, lighter layers: the commander's link may be weak.
COMMANDER_LAYERS = ("borders", "disputed_areas", "deployments", "tracks", "incidents", "infrastructure", "alerts")
MAX_POINTS = 1_500
MAP_HEIGHT = 540  # with the header and two summary lines, the map ends above the fold at 1024x768 and 768x1024
TOP_CARDS = 5

ui.css(ui.TOUCH_CSS)
ui.init_view_state()
viewer = auth.current_viewer()

at = loaders.now()
view = ui.current_view(COMMANDER_LAYERS)  # the chosen layers this lighter map offers
picture, bounds = loaders.picture(view, at, viewer=viewer)
cards = loaders.cards(picture, viewer=viewer)
figures = key_figures(picture, at, loaders.feeds_for(viewer, at), cards)

marking = screen_marking(picture)
ui.banner(marking)
st.html(ui.summary_html(figures))
st.html(ui.attention_line(summary(cards)))
ui.sync_url(view)

deck = loaders.deck(view, at, viewer=viewer, max_points=MAX_POINTS, height=MAP_HEIGHT)
st.pydeck_chart(deck, height=MAP_HEIGHT, key="commander-map")

st.subheader("Needs action")
st.html(ui.action_html(cards, at, limit=TOP_CARDS, details=False))
with st.expander("Time window, filters and layers", expanded=False):
    ui.window_control()
    ui.filter_controls(ui.filter_options(picture), full=False)
    ui.layer_control(COMMANDER_LAYERS)
st.html(ui.legend_html(view.layers))
ui.banner(marking)
