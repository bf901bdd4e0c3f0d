"""Claims of a site identity provider to a viewer (layers/access/oidc.py)."""

from __future__ import annotations

import pytest

from ingest.errors import ConfigError
from layers.access import (
    Viewer,
)
from layers.access.errors import (
    ClaimsRefused,
)


def test_oidc_claims_to_viewer():
    from layers.access import OidcMapping, oidc_mapping, oidc_viewer

    m = oidc_mapping({"auth": {"oidc": {"issuer": "https://idp.example", "client_id": "watchfloor",
                                        "roles": {"wf-admins": "administrator", "wf-analysts": "analyst"}}}})
    claims = {"preferred_username": "g.rossi", "name": "G. Rossi", "nationality": "ITA", "clearance": "SECRET",
              "roles": ["offline_access", "wf-analysts", "wf-admins"], "iss": "https://idp.example/"}
    assert oidc_viewer(claims, m) == Viewer("g.rossi", "ITA", "SECRET", "administrator", "G. Rossi")
    for issuer in ("https://evil.example", None):  # a token from another provider proves nothing here
        with pytest.raises(ClaimsRefused):
            oidc_viewer({**claims, "iss": issuer}, m)
    assert oidc_viewer({**claims, "roles": "other"}, m).role == "viewer"  # default role
    strict = OidcMapping(roles={"wf-admins": "administrator"}, default_role=None)
    with pytest.raises(ClaimsRefused):
        oidc_viewer({**claims, "roles": ["other"]}, strict)
    for broken in ({"nationality": "IT"}, {"nationality": None}, {"clearance": "VERY SECRET"},
                   {"preferred_username": ""}):
        with pytest.raises(ClaimsRefused):
            oidc_viewer({**claims, **broken}, m)
    with pytest.raises(ConfigError):
        oidc_mapping({"auth": {"oidc": {"roles": {"x": "superuser"}}}})
    with pytest.raises(ConfigError):
        oidc_mapping({"auth": {"oidc": {"client_secret": "s3cr3t"}}})
