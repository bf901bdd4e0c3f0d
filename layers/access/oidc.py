"""Optional OIDC (a site identity provider), configuration only, no network code
here: the site's authenticating proxy or Streamlit's OIDC login verifies the ID
token; `oidc_viewer` maps the verified claims to a `Viewer`. In
``$WATCHFLOOR_HOME/watchfloor.toml``::

    [auth]
    method = "oidc"                       # default "local" (this users file)
    session_hours = 12

    [auth.oidc]
    issuer = "https://idp.mission.example/realms/watchfloor"
    client_id = "watchfloor"
    # the client secret comes from the environment (WATCHFLOOR_OIDC_CLIENT_SECRET), never this file
    username_claim = "preferred_username"
    display_name_claim = "name"
    nation_claim = "nationality"         # must hold an alpha-3 code
    clearance_claim = "clearance"        # a level name or abbreviation
    role_claim = "roles"                 # text or a list; highest mapped role wins
    default_role = "viewer"              # when no role is mapped; "" to refuse instead

    [auth.oidc.roles]                    # claim value -> watchfloor role
    "wf-admins" = "administrator"
    "wf-analysts" = "analyst"

Claims without a readable nation or clearance are refused (ClaimsRefused): we
cannot decide what such a person may see.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ingest.config import settings
from ingest.errors import ConfigError
from ingest.markings import is_nation, level_of
from layers.access.errors import ClaimsRefused
from layers.access.policy import ROLES, Viewer


@dataclass(frozen=True)
class OidcMapping:
    """Which ID-token claims hold what (see the module doc for the TOML)."""

    username_claim: str = "preferred_username"
    display_name_claim: str = "name"
    nation_claim: str = "nationality"
    clearance_claim: str = "clearance"
    role_claim: str = "roles"
    roles: Mapping[str, str] = field(default_factory=dict)  # claim value -> role; empty: values are role names
    default_role: str | None = "viewer"
    issuer: str = ""
    client_id: str = ""

    def __post_init__(self) -> None:
        bad = {k: v for k, v in self.roles.items() if v not in ROLES}
        if bad:
            raise ConfigError("auth.oidc.roles", f"roles among {', '.join(ROLES)}", bad)
        if self.default_role not in (None, *ROLES):
            raise ConfigError("auth.oidc.default_role", f"one of {', '.join(ROLES)} or empty", self.default_role)


def oidc_mapping(site_settings: Mapping[str, Any] | None = None) -> OidcMapping:
    """The [auth.oidc] table of watchfloor.toml as an OidcMapping (defaults for what it omits)."""
    conf = dict((site_settings if site_settings is not None else settings()).get("auth", {}).get("oidc", {}))
    allowed = {f for f in OidcMapping.__dataclass_fields__}
    unknown = set(conf) - allowed
    if unknown:
        raise ConfigError("auth.oidc", f"only the keys {', '.join(sorted(allowed))}", sorted(unknown))
    if "default_role" in conf and conf["default_role"] == "":
        conf["default_role"] = None
    return OidcMapping(**conf)


def oidc_viewer(claims: Mapping[str, Any], mapping: OidcMapping | Mapping[str, Any] | None = None) -> Viewer:
    """The Viewer for an identity provider's VERIFIED ID-token claims.

    Refuses (ClaimsRefused) claims without a username, an alpha-3 nation or a readable
    clearance, and without a role when no default role is configured. A role claim may be
    text or a list; the highest role it maps to wins."""
    m = mapping if isinstance(mapping, OidcMapping) else oidc_mapping({"auth": {"oidc": dict(mapping or {})}})
    if m.issuer and str(claims.get("iss", "")).rstrip("/") != m.issuer.rstrip("/"):
        raise ClaimsRefused(None, f"issuer {str(claims.get('iss'))[:200]!r} is not the configured {m.issuer!r}")
    username = claims.get(m.username_claim)
    if not isinstance(username, str) or not username.strip():
        raise ClaimsRefused(None, f"no {m.username_claim!r} claim")
    username = username.strip()
    nation = claims.get(m.nation_claim)
    if not is_nation(nation):
        raise ClaimsRefused(username, f"claim {m.nation_claim!r} is not an ISO 3166-1 alpha-3 code")
    clearance = claims.get(m.clearance_claim)
    if level_of(clearance) is None:
        raise ClaimsRefused(username, f"claim {m.clearance_claim!r} is not a clearance level")
    raw_roles = claims.get(m.role_claim)
    values = [raw_roles] if isinstance(raw_roles, str) else list(raw_roles) if isinstance(raw_roles, list) else []
    mapped = [m.roles.get(v) if m.roles else (v if v in ROLES else None) for v in values if isinstance(v, str)]
    found = [r for r in mapped if r is not None]
    role = max(found, key=ROLES.index) if found else m.default_role
    if role is None:
        raise ClaimsRefused(username, f"claim {m.role_claim!r} maps to no watchfloor role")
    display = claims.get(m.display_name_claim)
    return Viewer(username, nation, clearance, role, display if isinstance(display, str) else username)
