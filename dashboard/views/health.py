"""Data health: per layer and feed, when it last updated, how many records, how stale; markings that
cannot be read; for administrators, what was quarantined and why."""

from __future__ import annotations

import streamlit as st

from dashboard import auth, loaders, ui
from layers.access import may
from layers.figures import layer_health, visible_stats
from layers.filters import View

ui.css(ui.ANALYST_CSS)
viewer = auth.current_viewer()
at = loaders.now()
v = loaders.versions()

st.title("Data health")
st.subheader("Layers")
stats = loaders.layer_stats(v)
if not viewer.is_admin:
    # Store-wide counts would say how much is hidden from this viewer: count what they may see.
    stats = visible_stats(stats, loaders.picture(View(window="7d"), at, viewer=viewer)[0])
    st.caption("Records you may see in the last 7 days (reference layers: all you may see).")
health = layer_health(stats, at)
st.dataframe(health, hide_index=True, width="stretch",
             column_config={"newest": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm [UTC]"),
                            "last write": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm [UTC]")})

if viewer.is_admin:
    # Counts over records others may not see (how many are unmarked) are for administrators only:
    # any number computed over hidden records would tell a viewer something about them.
    st.subheader("Markings")
    marks = loaders.marking_health(v)
    bad = marks[(marks["missing marking"] > 0) | (marks["unreadable marking"] > 0)]
    if bad.empty:
        st.success("Every stored record carries a readable releasability marking.")
    else:
        total = int(bad["missing marking"].sum() + bad["unreadable marking"].sum())
        st.warning(f"{total:,} stored records have a missing or unreadable marking. Nobody but administrators "
                   "sees them until their source marks them (or gives the source a default marking).")
        st.dataframe(bad, hide_index=True, width="stretch")

st.subheader("Feeds")
feeds = loaders.feeds_for(viewer, at)
if feeds.empty:
    st.info("No live feeds you may see have reported yet. Feeds declared in feeds.toml report here once "
            "`watchfloor feeds run` is running.")
else:
    st.dataframe(feeds, hide_index=True, width="stretch")
    if not may(viewer, "manage_feeds"):
        st.caption("Feeds whose marking is not releasable to you are not listed.")

st.subheader("Quarantined records")
if not may(viewer, "see_quarantine"):
    st.caption("Quarantined records were never checked for their markings: administrators only.")
    st.stop()
q = loaders.quarantined(v)
if q.empty:
    st.success("Nothing quarantined: every record read was stored.")
else:
    counts = q.groupby(["layer", "source", "reason"]).size().rename("records").reset_index()
    left, right = st.columns([1, 1])
    left.dataframe(counts.sort_values("records", ascending=False), hide_index=True, width="stretch")
    right.bar_chart(counts.groupby("reason")["records"].sum(), horizontal=True)
    st.dataframe(q[["quarantined_at", "layer", "source", "source_id", "reason", "detail", "raw"]].head(500),
                 hide_index=True, width="stretch")
