"""Dashboard sign-in: an API token exchanged for a signed session cookie, and the CSRF token of every form.

The cookie holds ``v1.<token id>.<expiry>.<nonce>.<mac>``: never the token. The MAC is HMAC-SHA256
(https://www.rfc-editor.org/rfc/rfc2104) keyed per API token — from the token's stored hash and, when set,
``api.session_secret`` — so every worker and replica verifies it without shared state, and revoking the
token ends its sessions at once. The cookie is HttpOnly and SameSite=Strict (a cross-site request carries
no cookie: https://httpwg.org/http-extensions/draft-ietf-httpbis-rfc6265bis.html#name-the-samesite-attribute);
every form also carries a CSRF token derived from the session (OWASP's synchronizer token pattern,
https://cheatsheetseries.owasp.org/cheatsheets/Cross-Site_Request_Forgery_Prevention_Cheat_Sheet.html).
Signing out deletes the cookie; a copy taken before stays valid until it expires or the token is revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from sqlalchemy.orm import Session

from auditor.api.auth import Principal
from auditor.store.models import TokenRow
from auditor.store.queries import ROW_ID_MAX
from auditor.store.tokens import verify_token

SESSION_COOKIE = "auditor_session"
SIGNIN_COOKIE = "auditor_signin"  # the sign-in form's CSRF value (double submit: no session exists yet)
SESSION_SECONDS = 8 * 3600  # a working day; then sign in again
_COOKIE = re.compile(r"^v1\.(\d{1,10})\.(\d{1,12})\.([A-Za-z0-9_-]{16,64})\.([0-9a-f]{64})$")


@dataclass(frozen=True)
class DashboardSession:
    """A signed-in browser: who (the token's name and scope) and the CSRF token its forms carry."""

    principal: Principal
    csrf: str
    expires_at: int


def _key(token_hash: str, secret: str | None) -> bytes:
    return hmac.new((secret or "").encode(), f"auditor-session:{token_hash}".encode(), hashlib.sha256).digest()


def _mac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def sign_in(session: Session, token: str, secret: str | None, now: float | None = None) -> tuple[str, Principal] | None:
    """The cookie value for a live API token, and who it is; None for an unknown or revoked token."""
    row = verify_token(session, token.strip())
    if row is None:
        return None
    expires = int((now or time.time()) + SESSION_SECONDS)
    payload = f"v1.{row.id}.{expires}.{secrets.token_urlsafe(18)}"
    cookie = f"{payload}.{_mac(_key(row.token_hash, secret), payload)}"
    return cookie, Principal(token_id=row.id, name=row.name, scope=row.scope)


def read_session(
    session: Session, cookie: str | None, secret: str | None, now: float | None = None
) -> DashboardSession | None:
    """The session a cookie proves, or None: malformed, forged, expired, or its token revoked or deleted."""
    match = _COOKIE.fullmatch(cookie or "")
    if match is None:
        return None
    token_id, expires = int(match.group(1)), int(match.group(2))
    if token_id > ROW_ID_MAX or expires <= (now or time.time()):
        return None
    row = session.get(TokenRow, token_id)
    if row is None or row.revoked_at is not None:
        return None
    key = _key(row.token_hash, secret)
    payload = cookie.rsplit(".", 1)[0]  # type: ignore[union-attr]
    if not hmac.compare_digest(_mac(key, payload), match.group(4)):
        return None
    csrf = _mac(key, f"csrf:{payload}")
    return DashboardSession(Principal(token_id=row.id, name=row.name, scope=row.scope), csrf, expires)


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


def new_signin_nonce() -> str:
    return secrets.token_urlsafe(24)
