"""watchfloor: the Streamlit entry point. Navigation only; each page is thin."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run dashboard/app.py` puts dashboard/ on sys.path, not the project root.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

st.set_page_config(page_title="watchfloor", page_icon="🛰️", layout="wide",
                   initial_sidebar_state="collapsed")

# Not "pages/": Streamlit would also list that folder as a second, legacy navigation.
PAGES = ROOT / "dashboard" / "views"
pages = [
    st.Page(str(PAGES / "operations.py"), title="Operations", icon=":material/monitor:", default=True),
    st.Page(str(PAGES / "commander.py"), title="Commander", icon=":material/tablet:", url_path="commander"),
    st.Page(str(PAGES / "analyst.py"), title="Analyst", icon=":material/query_stats:", url_path="analyst"),
    st.Page(str(PAGES / "health.py"), title="Data health", icon=":material/monitor_heart:", url_path="data-health"),
]
st.navigation(pages, position="top").run()
