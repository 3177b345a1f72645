"""Typed dependencies of the routes: database session, service, caller (by scope), settings, row ids."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from auditor.api.auth import Principal, TokenVerifier
from auditor.config import Settings
from auditor.errors import NotFound
from auditor.service import AuditService
from auditor.store.queries import row_id

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


# Row ids in paths. Any integer is accepted and one that no row can have (zero, negative, beyond the 4-byte
# `integer` column) is a 404 like any other unknown id: asking PostgreSQL for it would be an error, asking
# SQLite a miss, and a client cannot tell an id "out of range" from one that was deleted.


def _row_id(value: int, noun: str) -> int:
    if (found := row_id(value)) is not None:
        return found
    raise NotFound(f"no {noun} {value}")


def _run_id(run_id: Annotated[int, Path(description="a run's id")]) -> int:
    return _row_id(run_id, "run")


def _finding_id(finding_id: Annotated[int, Path(description="a finding's id")]) -> int:
    return _row_id(finding_id, "finding")


def _suppression_id(suppression_id: Annotated[int, Path(description="a suppression's id")]) -> int:
    return _row_id(suppression_id, "suppression")


RunId = Annotated[int, Depends(_run_id)]
FindingId = Annotated[int, Depends(_finding_id)]
SuppressionId = Annotated[int, Depends(_suppression_id)]
