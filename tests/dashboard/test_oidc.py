"""Signing in through an OpenID Connect provider, in a real browser, against a real provider.

The provider is oidc-provider-mock (a complete OpenID provider built on Authlib, serving its
discovery document, keys, authorization form and token endpoint on loopback); the dashboard
uses Streamlit's own `st.login` code flow. The claims the provider vouches for decide what the
person sees, exactly as a local account's nation, clearance and role do.
"""

from __future__ import annotations

import pytest

from tests.conftest import free_port, start_dashboard

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def idp():
    from oidc_provider_mock import User, run_server_in_thread

    users = [
        User(sub="amartin", claims={"preferred_username": "amartin", "name": "Cne A. Martin", "nationality": "FRA",
                         "clearance": "RESTRICTED", "groups": ["wf-analysts"]}),
        User(sub="nobody", claims={"preferred_username": "nobody", "name": "No Nation"}),  # no nation, no clearance
    ]
    with run_server_in_thread(user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def oidc_url(tmp_path_factory, demo_home, idp):
    home = tmp_path_factory.mktemp("oidc-home")
    (home / "store").symlink_to(demo_home / "store")
    (home / "watchfloor.toml").write_text(
        '[auth]\nmethod = "oidc"\n\n[auth.oidc]\n'
        f'issuer = "{idp}"\nrole_claim = "groups"\ndefault_role = "viewer"\n\n'
        '[auth.oidc.roles]\n"wf-analysts" = "analyst"\n')
    port = free_port()
    secrets = home / "secrets.toml"
    secrets.write_text(
        f'[auth]\nredirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        'cookie_secret = "a test cookie secret that is long enough"\n'
        'client_id = "watchfloor"\nclient_secret = "test client secret"\n'
        f'server_metadata_url = "{idp}/.well-known/openid-configuration"\n')
    url, proc = start_dashboard(home, "--secrets.files", str(secrets), port=port)
    yield url
    proc.terminate()
    proc.wait(10)


def _sign_in_with_provider(browser, url: str, subject: str):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(url)
    page.get_by_role("button", name="Sign in with the mission identity provider").click(timeout=90_000)
    page.locator("input[name='sub']").fill(subject, timeout=30_000)  # the provider's own form
    page.get_by_role("button", name="Authorize").click()
    return page


def test_the_providers_claims_decide_nation_clearance_and_role(browser, oidc_url):
    page = _sign_in_with_provider(browser, oidc_url, "amartin")
    page.wait_for_selector("text=Partner units", timeout=90_000)
    banner = page.locator(".wf-banner").first.inner_text()
    page.goto(oidc_url + "/analyst")  # the analyst role came from the provider's group claim
    page.wait_for_selector("text=Signed in as", timeout=90_000)
    who = page.locator("[data-testid='stSidebar']").inner_text()
    page.close()
    assert "Cne A. Martin" in who and "FRA" in who and "RESTRICTED" in who and "analyst" in who
    assert "SECRET" not in banner and "UNMARKED" not in banner


def test_claims_without_a_nation_or_clearance_are_refused(browser, oidc_url):
    page = _sign_in_with_provider(browser, oidc_url, "nobody")
    page.wait_for_selector("text=lacks a nation", timeout=90_000)
    assert page.locator("text=Partner units").count() == 0
    page.close()
