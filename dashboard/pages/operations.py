"""Operations: every layer on one map, with toggles, hover details and per-layer counts."""

from __future__ import annotations

import streamlit as st

from dashboard import data
from ingest.schema import LAYERS
from layers.map import MAP_LAYERS, build_deck, build_layers, view_for
from layers.picture import newest_line

WINDOWS = {"1 h": 1, "6 h": 6, "24 h": 24, "7 d": 168}

st.title("Operations")
left, right = st.columns([3, 2], vertical_alignment="bottom")
with left:
    choice = st.segmented_control("Time window", list(WINDOWS), default="24 h", key="window")
with right:
    shown = st.multiselect("Layers", MAP_LAYERS, default=list(MAP_LAYERS), key="layers",
                           format_func=lambda n: LAYERS[n].title)

frames, bounds, now = data.picture(WINDOWS[choice or "24 h"])
deck = build_deck(build_layers(frames, shown, now), view_for(bounds), height=680)
st.pydeck_chart(deck, height=680, key="operations-map")

counts = data.layer_summary(data.versions())
cols = st.columns(6)
for col, name in zip(cols, ("incidents", "tracks", "deployments", "imagery", "infrastructure", "borders")):
    col.metric(LAYERS[name].title, f"{len(frames.get(name, [])):,}", help=f"in the window; {int(counts.loc[counts.layer == LAYERS[name].title, 'records'].iloc[0]):,} stored")
st.caption(newest_line(counts))
with st.expander("Store: records per layer and newest record", expanded=False):
    st.dataframe(counts, hide_index=True, width="stretch")
