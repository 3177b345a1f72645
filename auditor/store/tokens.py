"""API access tokens: random, shown once, stored as sha256 only; scopes ``read`` and ``admin``."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from auditor.config import check_name
from auditor.errors import ConfigError, Conflict, NotFound
from auditor.store.models import TokenRow, utcnow
from auditor.store.queries import row_id

SCOPES = ("read", "admin")
TOKEN_PREFIX = "aud_"


def hash_token(token: str) -> str:
    # A 256-bit random token needs no slow KDF: sha256 cannot be brute-forced at that entropy.
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, name: str, scope: str) -> tuple[TokenRow, str]:
    """A new token; the plain token is returned once and never stored."""
    if scope not in SCOPES:
        raise ConfigError(f"unknown scope {scope!r}; one of {', '.join(SCOPES)}")
    try:
        check_name(name, "token")  # the targets' rule: a newline or 5,000 characters break `token list` and logs
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = TokenRow(name=name, scope=scope, token_hash=hash_token(token), prefix=token[:10], created_at=utcnow())
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(f"a token named {name!r} exists already") from exc
    return row, token


def verify_token(session: Session, token: str) -> TokenRow | None:
    """The live token row for ``token``, or None (unknown or revoked)."""
    digest = hash_token(token)
    row = session.scalar(select(TokenRow).where(TokenRow.token_hash == digest))
    if row is None or row.revoked_at is not None:
        return None
    # The lookup was by hash already; compare again in constant time so no branch depends on the secret.
    return row if hmac.compare_digest(row.token_hash, digest) else None


def touch(session: Session, token_id: int) -> None:
    row = session.get(TokenRow, token_id)
    if row is not None:
        row.last_used_at = utcnow()


def list_tokens(session: Session) -> list[TokenRow]:
    return list(session.scalars(select(TokenRow).order_by(TokenRow.id)))


def revoke_token(session: Session, name_or_id: str) -> TokenRow:
    query = select(TokenRow).where(TokenRow.name == name_or_id)
    row = session.scalar(query)
    # an id no row can have (past the 4-byte column: PostgreSQL refuses it, SQLite overflows) is no token either
    if row is None and (token_id := row_id(name_or_id)) is not None:
        row = session.get(TokenRow, token_id)
    if row is None:
        raise NotFound(f"no token named {name_or_id!r}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    session.flush()
    return row
