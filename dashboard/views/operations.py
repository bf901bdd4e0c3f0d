"""Operations: the wall screen. Full-screen map, key figures, newest events; refreshes itself, no clicks."""

from __future__ import annotations

import streamlit as st

from dashboard import auth, loaders, ui
from dashboard.timing import timed
from ingest.config import refresh_seconds
from layers.figures import key_figures, screen_marking, ticker
from layers.filters import wall_view

ui.css(ui.WALL_CSS)
ui.init_view_state()


@st.fragment(run_every=refresh_seconds())
def live() -> None:
    """Only this reruns on each refresh: the page does not reload and the map keeps its key.
    The sign-in is checked again on every refresh, not once at page load."""
    with timed("operations refresh"):
        _draw()


def _draw() -> None:
    viewer = auth.current_viewer()
    at = loaders.now()
    chosen = ui.current_view()
    ui.sync_url(chosen)
    view = wall_view(chosen)
    picture, _bounds = loaders.picture(view, at, viewer=viewer)
    cards = loaders.cards(picture, viewer=viewer)
    figures = key_figures(picture, at, loaders.feeds_for(viewer, at), cards)
    marking = screen_marking(picture)
    ui.banner(marking)
    head, clock = st.columns([5, 1], vertical_alignment="bottom")
    head.html('<div class="wf-title">Operations — common operational picture</div>')
    clock.metric("UTC", at.strftime("%H:%M"), help=at.strftime("%Y-%m-%d %H:%M:%S UTC"))
    ui.kpi_strip(figures)
    map_col, side = st.columns([4, 1.25])
    deck = loaders.deck(view, at, viewer=viewer, height=820)
    with map_col:
        st.pydeck_chart(deck, height=820, key="ops-map")
    with side:
        st.subheader("Needs action")
        st.html(ui.action_html(cards, at, limit=10))
        st.subheader("Latest reports")
        st.html(ui.latest_html(ticker(picture, at, limit=6, with_alerts=False), at))
        st.html(ui.legend_html(view.layers))
    ui.banner(marking)


live()
