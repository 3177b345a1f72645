"""Typed dependencies of the routes: database session, service, caller (by scope), settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from auditor.api.auth import Principal, TokenVerifier
from auditor.config import Settings
from auditor.service import AuditService

bearer = HTTPBearer(
    auto_error=False,
    description="An API token from `auditor token create --scope read|admin`, sent as `Authorization: Bearer <token>`.",
)

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="auditor"'}


async def get_settings(request: Request) -> Settings:  # async: no threadpool hop
    settings: Settings = request.app.state.settings
    return settings


async def get_service(request: Request) -> AuditService:
    service: AuditService = request.app.state.service
    return service


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.factory() as session:
        yield session


def get_read_session(request: Request) -> Iterator[Session]:
    """A session for GET routes: autocommit on PostgreSQL (no BEGIN/ROLLBACK round trips)."""
    with request.app.state.read_factory() as session:
        yield session


async def _principal(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="authentication required: send 'Authorization: Bearer <token>' "
            "(create a token with `auditor token create`)",
            headers=_CHALLENGE,
        )
    verifier: TokenVerifier = request.app.state.verifier
    token = credentials.credentials
    principal = verifier.cached(token) or await run_in_threadpool(verifier.verify, token)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="invalid token: unknown or revoked",
            headers={"WWW-Authenticate": 'Bearer realm="auditor", error="invalid_token"'},
        )
    request.state.principal = principal
    return principal


async def require_read(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    return await _principal(request, credentials)


async def require_admin(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    principal = await _principal(request, credentials)
    if not principal.allows("admin"):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"this needs a token with the 'admin' scope; token {principal.name!r} has '{principal.scope}'",
        )
    return principal


SessionDep = Annotated[Session, Depends(get_session)]
ReadSessionDep = Annotated[Session, Depends(get_read_session)]
ServiceDep = Annotated[AuditService, Depends(get_service)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
Reader = Annotated[Principal, Depends(require_read)]
Admin = Annotated[Principal, Depends(require_admin)]
