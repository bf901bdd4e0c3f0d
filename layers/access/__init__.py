"""Who may see what, and who is signed in.

- `policy`: the releasability rule (`Viewer`, `may_see`, `restrict`): every frame a viewer
  gets has been through `restrict`;
- `errors`: why a sign-in or a session was refused;
- `passwords` (argon2id hashes, `authenticate`), `sessions`, `throttle` (slowing password
  guessing), `accounts` (the accounts: the local users file, or the PostGIS store's table),
  `oidc` (a site identity provider's claims), `kiosk` (wall displays that stay signed in with
  revocable device tokens), `directory` (where accounts and displays live: files or the database).

The `watchfloor users` command is in `layers/cli/users.py`.
"""

from __future__ import annotations

from layers.access.accounts import (
    UserRecord,
    add_user,
    load_users,
    set_disabled,
    set_password,
    users_path,
    write_users,
)
from layers.access.errors import (
    GENERIC_REFUSAL,
    AuthenticationError,
    ClaimsRefused,
    DisabledUser,
    KioskRefused,
    NotPermitted,
    PasswordPolicyError,
    SessionExpired,
    UnknownUser,
    WrongPassword,
)
from layers.access.oidc import OidcMapping, oidc_mapping, oidc_viewer
from layers.access.passwords import authenticate, hash_password
from layers.access.policy import (
    ADMIN,
    PERMISSIONS,
    ROLES,
    Viewer,
    may,
    may_see,
    record_keys,
    releasable_mask,
    require,
    restrict,
    restrict_alerts,
    signature,
    subject_items,
    visible_keys,
)
from layers.access.sessions import Session, check_session, start_session
from layers.access.throttle import SignInThrottle

__all__ = [
    "ADMIN",
    "GENERIC_REFUSAL",
    "PERMISSIONS",
    "ROLES",
    "AuthenticationError",
    "ClaimsRefused",
    "DisabledUser",
    "KioskRefused",
    "NotPermitted",
    "OidcMapping",
    "PasswordPolicyError",
    "Session",
    "SessionExpired",
    "SignInThrottle",
    "UnknownUser",
    "UserRecord",
    "Viewer",
    "WrongPassword",
    "add_user",
    "authenticate",
    "check_session",
    "hash_password",
    "load_users",
    "may",
    "may_see",
    "oidc_mapping",
    "oidc_viewer",
    "record_keys",
    "releasable_mask",
    "require",
    "restrict",
    "restrict_alerts",
    "set_disabled",
    "set_password",
    "signature",
    "start_session",
    "subject_items",
    "users_path",
    "visible_keys",
    "write_users",
]
