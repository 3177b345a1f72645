"""Bearer-token access: closed by default; scopes ``read`` and ``admin``; tokens never logged."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from auditor.store import tokens as store_tokens
from auditor.store.tokens import hash_token

SCOPE_RANK = {"read": 0, "admin": 1}
_TOUCH_EVERY = 60.0  # seconds between last_used_at writes per token


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's name and scope (never the token)."""

    token_id: int
    name: str
    scope: str

    def allows(self, scope: str) -> bool:
        return SCOPE_RANK[self.scope] >= SCOPE_RANK[scope]


class TokenVerifier:
    """Checks tokens against the database, remembering good ones for a few seconds (one query saved per request)."""

    def __init__(self, factory: sessionmaker[Session], cache_seconds: float) -> None:
        self._factory = factory
        self._ttl = cache_seconds
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[Principal, float]] = {}
        self._touched: dict[int, float] = {}

    def cached(self, token: str) -> Principal | None:
        """A recently verified principal for ``token`` without touching the database, else None."""
        key = hash_token(token)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[1] > time.monotonic():
            return hit[0]
        return None

    def verify(self, token: str) -> Principal | None:
        """The principal of a live token, or None (unknown or revoked)."""
        hit = self.cached(token)
        if hit is not None:
            return hit
        now = time.monotonic()
        with self._factory() as session:
            row = store_tokens.verify_token(session, token)
            if row is None:
                return None
            principal = Principal(token_id=row.id, name=row.name, scope=row.scope)
            if now - self._touched.get(row.id, 0.0) > _TOUCH_EVERY:
                store_tokens.touch(session, row.id)
                session.commit()
                self._touched[row.id] = now
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[hash_token(token)] = (principal, now + self._ttl)
        return principal

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()
