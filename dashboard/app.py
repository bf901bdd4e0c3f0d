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

pages = [
    st.Page(str(ROOT / "dashboard" / "pages" / "operations.py"), title="Operations", icon=":material/map:",
            default=True),
]
st.navigation(pages).run()
