"""Data health: per layer and feed, when it last updated, how many records, how stale; what was quarantined and why."""

from __future__ import annotations

import streamlit as st

from dashboard import data, ui
from layers.figures import layer_health

ui.css(ui.ANALYST_CSS)
at = data.now()
v = data.versions()

st.title("Data health")
st.subheader("Layers")
health = layer_health(data.layer_stats(v), at)
st.dataframe(health, hide_index=True, width="stretch",
             column_config={"newest": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm [UTC]"),
                            "last write": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm [UTC]")})

st.subheader("Feeds")
feeds = data.feed_health(v, at.strftime("%H:%M"))
if feeds.empty:
    st.info("No live feeds have reported yet. Feeds declared in feeds.toml report here once `watchfloor feeds run` is running.")
else:
    st.dataframe(feeds, hide_index=True, width="stretch")

st.subheader("Quarantined records")
q = data.quarantined(v)
if q.empty:
    st.success("Nothing quarantined: every record read was stored.")
else:
    counts = q.groupby(["layer", "source", "reason"]).size().rename("records").reset_index()
    left, right = st.columns([1, 1])
    left.dataframe(counts.sort_values("records", ascending=False), hide_index=True, width="stretch")
    right.bar_chart(counts.groupby("reason")["records"].sum(), horizontal=True)
    st.dataframe(q[["quarantined_at", "layer", "source", "source_id", "reason", "detail", "raw"]].head(500),
                 hide_index=True, width="stretch")
