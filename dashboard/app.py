"""watchfloor: the Streamlit entry point. Sign-in, then navigation; each page is thin."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run dashboard/app.py` puts dashboard/ on sys.path, not the project root.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dashboard import auth
from dashboard.timing import timed
from layers.access import may

st.set_page_config(page_title="watchfloor", page_icon="🛰️", layout="wide",
                   initial_sidebar_state="collapsed")

# Not "pages/": Streamlit would also list that folder as a second, legacy navigation.
PAGES = ROOT / "dashboard" / "views"

viewer = auth.require_viewer()
pages = [
    st.Page(str(PAGES / "operations.py"), title="Operations", icon=":material/monitor:", default=True),
    st.Page(str(PAGES / "commander.py"), title="Commander", icon=":material/tablet:", url_path="commander"),
]
# Roles decide what one may do, never what one may see (layers.access.PERMISSIONS).
if viewer is None or may(viewer, "analyse"):
    pages.append(st.Page(str(PAGES / "analyst.py"), title="Analyst", icon=":material/query_stats:",
                         url_path="analyst"))
pages.append(st.Page(str(PAGES / "health.py"), title="Data health", icon=":material/monitor_heart:",
                     url_path="data-health"))
# Signed out, the navigation is built (so a deep link keeps its page and query) but hidden and
# not run: the sign-in form is all there is.
nav = st.navigation(pages, position="top" if viewer is not None else "hidden")
if viewer is not None:
    auth.account_box(viewer)
    with timed(f"page {nav.title}"):
        nav.run()
    auth.watch(viewer)
