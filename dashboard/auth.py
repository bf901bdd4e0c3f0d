"""Sign-in gate: nothing of the picture is read or drawn before a valid session exists.

`require_viewer` runs first on every script run (dashboard/app.py), and `current_viewer`
at the start of every page and of every fragment refresh: both go through `validate`,
which re-reads the account (the users file, re-parsed only when it changes), so a
disabled account, a lowered clearance, an expired session or a revoked wall display
takes effect on the next refresh of every open tab; otherwise the sign-in form is the
only thing on the page.

Two kinds of sign-in:
- a person: per browser tab (Streamlit's session), so a reload asks again; no token
  is kept in the browser to be stolen;
- an enrolled wall display (layers/access/kiosk.py): a device token in an HttpOnly,
  SameSite=Strict cookie set by dashboard/server.py, so the wall survives reloads and
  browser restarts; view-only, and refused from the next refresh once revoked.
The URL's query parameters survive sign-in, so a shared link opens the view it names,
as the person who opens it sees it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

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
)
from layers.access.directory import directory
from layers.access.kiosk import COOKIE_NAME, Kiosk, check_token, load_kiosks
from layers.access.sessions import DEFAULT_SESSION_LIFETIME

log = logging.getLogger(__name__)
SESSION_KEY = "wf_session"
NOTICE_KEY = "wf_signin_notice"


@st.cache_resource(max_entries=4)
def _users(stamp: object) -> dict[str, UserRecord]:
    return load_users()


def users() -> dict[str, UserRecord]:
    """The accounts, read again whenever they change (an edit by `watchfloor users` on any machine):
    the directory's stamp is the users file's mtime, or the PostGIS store's change counter."""
    stamp = directory().stamp("users")
    return {} if stamp is None else _users(stamp)


@st.cache_resource(max_entries=4)
def _kiosks(stamp: object) -> dict[str, Kiosk]:
    return load_kiosks()


def kiosks() -> dict[str, Kiosk]:
    """The enrolled wall displays, read again whenever they change (enrolment, revocation)."""
    stamp = directory().stamp("kiosks")
    return {} if stamp is None else _kiosks(stamp)


@st.cache_resource
def throttle() -> SignInThrottle:
    """One per dashboard process: guessing from many tabs counts together."""
    return SignInThrottle()


def session_lifetime() -> timedelta:
    from ingest.config import settings

    hours = settings().get("auth", {}).get("session_hours")
    return timedelta(hours=float(hours)) if hours else DEFAULT_SESSION_LIFETIME


def current_viewer() -> Viewer:
    """The signed-in viewer, checked again now: pages call it first, and so does every fragment
    refresh (a wall left open for a shift must lose a disabled account within one refresh).
    When the sign-in is no longer valid the whole app reruns, which shows the sign-in form."""
    viewer, _ = validate()
    if viewer is None:
        st.session_state.pop("wf_viewer", None)
        st.rerun()
    st.session_state["wf_viewer"] = viewer
    return viewer


def watch(viewer: Viewer) -> None:
    """On every page: check the sign-in again every refresh interval, even where nothing else
    refreshes (Commander, Analyst, Data health). A sign-in that is no longer valid, or an account
    whose nation, clearance or role changed, reruns the whole app: the sign-in form, or the page
    drawn again for what the account may now see."""
    from ingest.config import refresh_seconds

    @st.fragment(run_every=refresh_seconds())
    def _watchdog(shown: tuple) -> None:
        now_valid, _ = validate()
        if now_valid is None or _identity(now_valid) != shown:
            st.rerun(scope="app")

    _watchdog(_identity(viewer))


def _identity(viewer: Viewer) -> tuple:
    return (viewer.username, viewer.nation, viewer.clearance, viewer.role)


def _client_address() -> str | None:
    """The browser's network address as the server saw it (the throttle counts failures per client)."""
    try:
        return st.context.ip_address
    except Exception:
        return None


def _kiosk_token() -> str | None:
    try:
        return st.context.cookies.get(COOKIE_NAME)
    except Exception:
        return None


def validate() -> tuple[Viewer | None, str | None]:
    """The viewer of this browser's valid sign-in, else (None, what to tell them).

    Cheap enough for every refresh: a stat of the users and kiosks files (or one indexed row of
    the PostGIS store each), the rest from memory. Order: a wall display's device token, then the identity provider, then a
    local account's session."""
    notice = None
    token = _kiosk_token()
    if token:
        try:
            return check_token(token, kiosks()).viewer(), None
        except AuthenticationError as exc:
            log.info("wall display refused: %s", exc)
            notice = exc.public_message
    viewer, oidc_notice = _oidc_viewer()
    if viewer is not None or oidc_notice is not None:
        return viewer, oidc_notice
    session = st.session_state.get(SESSION_KEY)
    if session is not None:
        try:
            return check_session(session, users=users()), None
        except AuthenticationError as exc:
            log.info("session ended: %s", exc)
            st.session_state.pop(SESSION_KEY, None)
            notice = exc.public_message
            # the app reruns to show the form: say why there too
            st.session_state[NOTICE_KEY] = notice
    return None, notice


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
    """The viewer of a valid sign-in, or None after drawing the sign-in form."""
    viewer, notice = validate()
    if viewer is not None:
        st.session_state.pop(NOTICE_KEY, None)
        st.session_state["wf_viewer"] = viewer
        return viewer
    st.session_state.pop("wf_viewer", None)
    notice = notice or st.session_state.pop(NOTICE_KEY, None)
    provider_refused = notice is not None and auth_method() == "oidc" and st.user.is_logged_in
    sign_in_form(notice, provider_signed_in=provider_refused)
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
    client = _client_address()
    wait = gate.wait_seconds(username, client=client)
    if wait > 0:
        return f"Too many failed sign-ins for this name. Try again in {int(wait) + 1} s."
    try:
        viewer = authenticate(users(), username, password)
    except AuthenticationError as exc:
        gate.failed(username, client=client)
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


def is_kiosk(viewer: Viewer) -> bool:
    return viewer.username.startswith("kiosk:")


def account_box(viewer: Viewer) -> None:
    """Who is signed in and what decides what they see; sign out. In the sidebar."""
    with st.sidebar:
        st.caption(f"Signed in as **{viewer.display_name or viewer.username}** · {viewer.nation} · "
                   f"{viewer.clearance} · {viewer.role}")
        if is_kiosk(viewer):
            st.caption("This browser is an enrolled wall display; an administrator revokes it with "
                       "`watchfloor users kiosk revoke`.")
            return
        if st.button("Sign out", key="sign_out"):
            sign_out()
            st.rerun()


__all__ = ["SESSION_KEY", "account_box", "current_viewer", "require_viewer", "users"]
