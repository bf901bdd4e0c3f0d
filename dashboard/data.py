"""Cached loaders shared by the pages.

`st.cache_resource` returns the one shared object (no copy: a cache_data hit
on a large GeoDataFrame costs a pickle round trip), so callers must never
mutate what they get. Keys include the store tables' versions, so a write by a
feed poller shows up on the next rerun without any timer of ours.
"""

from __future__ import annotations

from datetime import datetime, timezone

import geopandas as gpd
import pandas as pd
import streamlit as st

from ingest.schema import LAYERS
from ingest.store import Store, open_store
from layers.picture import Window, load_picture, operational_bounds, summary


@st.cache_resource
def store() -> Store:
    return open_store()


def versions() -> tuple:
    s = store()
    return tuple(getattr(s, "version", lambda _l: 0)(name) for name in LAYERS)


@st.cache_resource(max_entries=16, ttl=600)
def _picture(hours: float, minute: str, _versions: tuple) -> tuple[dict[str, gpd.GeoDataFrame], tuple | None]:
    now = pd.Timestamp(minute).to_pydatetime()
    s = store()
    bounds = operational_bounds(s)
    return load_picture(s, Window.last(hours, now), bounds), bounds


def picture(hours: float) -> tuple[dict[str, gpd.GeoDataFrame], tuple | None, datetime]:
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    v = versions()
    frames, bounds = _picture(hours, now.isoformat(), v)
    return frames, bounds, now


@st.cache_resource(ttl=30)
def layer_summary(_versions: tuple) -> pd.DataFrame:
    return summary(store())
