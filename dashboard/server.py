"""watchfloor's web server: the Streamlit app (dashboard/app.py) plus what a script cannot do.

``streamlit run dashboard/server.py`` finds the ASGI app below (Streamlit's ``st.App``) and
serves it with the usual ``--server.*`` options. Two things need the server itself:

- **Wall-display enrolment** (layers/access/kiosk.py): only an HTTP response can set a cookie
  that scripts cannot read (HttpOnly) and that no other site can send (SameSite=Strict).
  ``/kiosk/enrol?code=...`` shows a confirmation page; its POST exchanges the one-time code
  for the device token and sets the cookie. A GET changes nothing, so a link previewer or a
  prefetch cannot use the code up. ``/kiosk/forget`` (POST) removes the cookie.
- **No stack traces for users**: an uncaught error in a page or a fragment is logged on the
  server with an incident id, and the page shows a short message naming that id (config:
  ``client.showErrorDetails = "none"`` as well, for anything that escapes).
"""

from __future__ import annotations

import html
import logging
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path

import streamlit as st
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ingest.config import log_level, log_to_stderr
from layers.access.errors import KioskRefused
from layers.access.kiosk import COOKIE_NAME, enrol

log = logging.getLogger("watchfloor.server")
# The server log: incidents, wall-display enrolments, who evaluates the alerts (dashboard/loaders.py).
log_to_stderr(log_level(logging.INFO))

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>watchfloor: wall display</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="no-referrer">
<style>body{{background:#0b1220;color:#e8eef8;font:18px/1.5 system-ui,sans-serif;display:grid;place-items:center;
min-height:100vh;margin:0}}main{{max-width:36rem;padding:2rem;border:1px solid #3a4a66;border-radius:6px}}
button{{font-size:1.1rem;padding:.7rem 1.4rem;background:#ffb020;border:0;border-radius:4px;cursor:pointer}}</style>
</head><body><main>{body}</main></body></html>"""


def incident_id() -> str:
    return secrets.token_hex(4)


def on_script_error(exc: Exception) -> bool:
    """Log the details with an incident id; show the user the id, never the traceback."""
    incident = incident_id()
    log.error("incident %s: %s: %s", incident, type(exc).__name__, exc, exc_info=exc)
    try:
        st.error(f"This part of the dashboard hit a problem and stopped (incident **{incident}**). "
                 "The rest keeps working; tell the duty administrator the incident id, the details are "
                 "in the server log.", icon=":material/error:")
    except Exception:  # noqa: BLE001  (no page to write to: Streamlit shows its own message)
        return False
    return True


def _page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(body=body), status_code=status,
                        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})


async def kiosk_enrol(request: Request) -> Response:
    if request.method == "GET":
        code = request.query_params.get("code", "")
        return _page(
            "<h1>Enrol this browser as a wall display</h1>"
            "<p>This browser will stay signed in as the display an administrator created, until the display "
            "is revoked or expires. Use it only on the wall screen's own computer.</p>"
            '<form method="post"><input type="hidden" name="code" value="'
            f'{html.escape(code, quote=True)}"><button type="submit">Enrol this display</button></form>')
    form = await request.form()
    try:
        kiosk, token = await run_in_threadpool(enrol, str(form.get("code", "")))
    except KioskRefused as exc:
        log.warning("kiosk enrolment refused: %s", exc)
        return _page(f"<h1>Not enrolled</h1><p>{html.escape(exc.reason)}.</p>"
                     "<p>Ask an administrator for a new enrolment link "
                     "(<code>watchfloor users kiosk code NAME</code>).</p>", status=403)
    log.info("kiosk %s enrolled from %s", kiosk.name, request.client.host if request.client else "?")
    response = RedirectResponse("/", status_code=303)
    max_age = max(0, int((kiosk.expires_at - datetime.now(UTC)).total_seconds()))
    response.set_cookie(COOKIE_NAME, token, max_age=max_age, path="/", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    response.headers["Cache-Control"] = "no-store"
    return response


async def kiosk_forget(request: Request) -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response


app = st.App(
    str(ROOT / "dashboard" / "app.py"),
    routes=[Route("/kiosk/enrol", kiosk_enrol, methods=["GET", "POST"]),
            Route("/kiosk/forget", kiosk_forget, methods=["POST"])],
    on_script_error=on_script_error,
)
