"""Sign-in gate: nothing of the picture is read or drawn before a valid session exists.

`require_viewer` runs first on every script run (dashboard/app.py). A valid session in
``st.session_state`` gives the `Viewer`, re-read from the users file each run so a
disabled account or a lowered clearance takes effect at once; otherwise the sign-in
form is the only thing on the page. The session is per browser tab (Streamlit's
session), so a reload asks again: no token is kept in the browser to be stolen.
The URL's query parameters survive sign-in, so a shared link opens the view it names,
as the person who opens it sees it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import streamlit as st

from layers.access import (
    AuthenticationError,
    Session,
    SignInThrottle,
    UserRecord,
    Viewer,
    authenticate,
    check_session,
    load_users,
    start_session,
    users_path,
)
from layers.access.sessions import DEFAULT_SESSION_LIFETIME

log = logging.getLogger(__name__)
SESSION_KEY = "wf_session"


@st.cache_resource(max_entries=4)
def _users(path: str, stamp: tuple[int, int]) -> dict[str, UserRecord]:
    return load_users(Path(path))


def users() -> dict[str, UserRecord]:
    """The accounts, read again whenever the file changes (an edit by `watchfloor users`)."""
    path = users_path()
    try:
        st_ = path.stat()
    except FileNotFoundError:
        return {}
    return _users(str(path), (st_.st_mtime_ns, st_.st_size))


@st.cache_resource
def throttle() -> SignInThrottle:
    """One per dashboard process: guessing from many tabs counts together."""
    return SignInThrottle()


def session_lifetime() -> timedelta:
    from ingest.config import settings

    hours = settings().get("auth", {}).get("session_hours")
    return timedelta(hours=float(hours)) if hours else DEFAULT_SESSION_LIFETIME


def current_viewer() -> Viewer:
    """The signed-in viewer of this run. Pages call it; app.py has already checked the session,
    so a page run without one is a programming error and shows nothing."""
    viewer = st.session_state.get("wf_viewer")
    if not isinstance(viewer, Viewer):
        st.stop()
    return viewer


def auth_method() -> str:
    """'local' (the users file) or 'oidc' (a site identity provider, plus the users file for
    break-glass accounts): `[auth] method` in watchfloor.toml."""
    from ingest.config import settings

    return str(settings().get("auth", {}).get("method", "local")).lower()


def _oidc_viewer() -> tuple[Viewer | None, str | None]:
    """The viewer for the identity provider's sign-in, if there is one in this browser.

    Streamlit's `st.login` runs the OIDC code flow (Authlib) and keeps the verified ID-token
    claims in a signed cookie; `layers.access.oidc_viewer` maps them ([auth.oidc]). The
    session lifetime applies from the first page this tab showed for that sign-in."""
    from layers.access import oidc_mapping, oidc_viewer

    if auth_method() != "oidc" or not st.user.is_logged_in:
        return None, None
    try:
        viewer = oidc_viewer(st.user.to_dict(), oidc_mapping())
    except AuthenticationError as exc:
        log.info("identity provider sign-in refused: %s", exc)
        return None, exc.public_message
    session = st.session_state.get(SESSION_KEY)
    if not isinstance(session, Session) or session.viewer.username != viewer.username:
        session = start_session(viewer, lifetime=session_lifetime())
        st.session_state[SESSION_KEY] = session
        log.info("signed in through the identity provider: %s (%s, %s, %s)", viewer.username, viewer.nation,
                 viewer.clearance, viewer.role)
    try:
        check_session(session)
    except AuthenticationError as exc:
        return None, exc.public_message
    return viewer, None


def require_viewer() -> Viewer | None:
    """The viewer of a valid session, or None after drawing the sign-in form."""
    viewer, notice = _oidc_viewer()
    if viewer is not None:
        st.session_state["wf_viewer"] = viewer
        return viewer
    if notice is not None:
        st.session_state.pop(SESSION_KEY, None)
        st.session_state.pop("wf_viewer", None)
        sign_in_form(notice, provider_signed_in=True)
        return None
    session = st.session_state.get(SESSION_KEY)
    if session is not None:
        try:
            viewer = check_session(session, users=users())
        except AuthenticationError as exc:
            log.info("session ended: %s", exc)
            st.session_state.pop(SESSION_KEY, None)
            notice = exc.public_message
        else:
            st.session_state["wf_viewer"] = viewer
            return viewer
    st.session_state.pop("wf_viewer", None)
    sign_in_form(notice)
    return None


def sign_in_form(notice: str | None = None, *, provider_signed_in: bool = False) -> None:
    _, middle, _ = st.columns([1, 1.2, 1])
    with middle:
        st.title("watchfloor")
        st.caption("Sign in to see the common operational picture. What you see depends on your nation and "
                   "clearance.")
        if notice:
            st.warning(notice)
        if auth_method() == "oidc":
            if provider_signed_in:
                st.button("Sign out of the identity provider", key="oidc_logout", on_click=st.logout)
            else:
                st.button("Sign in with the mission identity provider", key="oidc_login", type="primary",
                          width="stretch", on_click=st.login)
            st.caption("Or with a local account:")
        if not users():
            st.info("No accounts yet. On the server, run `watchfloor users bootstrap` (done by `make run`) or "
                    "`watchfloor users add NAME --nation XXX --clearance LEVEL`.")
        with st.form("sign-in", border=True, clear_on_submit=True):
            username = st.text_input("Username", key="signin_user", autocomplete="username")
            password = st.text_input("Password", type="password", key="signin_password",
                                     autocomplete="current-password")
            submitted = st.form_submit_button("Sign in", type="primary", width="stretch")
        if submitted:
            error = attempt(username, password)
            if error is None:
                st.rerun()
            st.error(error)


def attempt(username: str, password: str) -> str | None:
    """Try a sign-in; None on success (the session is stored), else the message to show."""
    gate = throttle()
    wait = gate.wait_seconds(username)
    if wait > 0:
        return f"Too many failed sign-ins for this name. Try again in {int(wait) + 1} s."
    try:
        viewer = authenticate(users(), username, password)
    except AuthenticationError as exc:
        gate.failed(username)
        return exc.public_message
    gate.succeeded(username)
    st.session_state[SESSION_KEY] = start_session(viewer, lifetime=session_lifetime())
    st.session_state["wf_viewer"] = viewer
    return None


def sign_out() -> None:
    st.session_state.pop(SESSION_KEY, None)
    st.session_state.pop("wf_viewer", None)
    if auth_method() == "oidc" and st.user.is_logged_in:
        st.logout()


def account_box(viewer: Viewer) -> None:
    """Who is signed in and what decides what they see; sign out. In the sidebar."""
    with st.sidebar:
        st.caption(f"Signed in as **{viewer.display_name or viewer.username}** · {viewer.nation} · "
                   f"{viewer.clearance} · {viewer.role}")
        if st.button("Sign out", key="sign_out"):
            sign_out()
            st.rerun()


__all__ = ["SESSION_KEY", "account_box", "current_viewer", "require_viewer", "users"]
