"""FastAPI dependencies: the database session, the current user from the bearer token, role checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from samx_core.auth import Role, TokenGrant
from sqlalchemy.orm import Session

from samx_labeling.api.context import AppContext
from samx_labeling.api.schemas import INT32, RUN_ID_PATTERN

_bearer = HTTPBearer(auto_error=False, description="Token from SAMX_LABELING_TOKENS")


def get_context(request: Request) -> AppContext:
    return request.app.state.context


ContextDep = Annotated[AppContext, Depends(get_context)]


def get_session(context: ContextDep) -> Iterator[Session]:
    with context.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_current_user(
    context: ContextDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> TokenGrant:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
    grant = context.grants.lookup(credentials.credentials)
    if grant is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown token", headers={"WWW-Authenticate": "Bearer"})
    return grant


CurrentUser = Annotated[TokenGrant, Depends(get_current_user)]


def require(role: Role):
    def check(user: CurrentUser) -> TokenGrant:
        if not user.allows(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the {role.name} role")
        return user

    return check


Viewer = Annotated[TokenGrant, Depends(require(Role.viewer))]
Labeler = Annotated[TokenGrant, Depends(require(Role.labeler))]
Admin = Annotated[TokenGrant, Depends(require(Role.admin))]

RunId = Annotated[str, Path(pattern=RUN_ID_PATTERN, description="Phase-1 run id")]
ClusterPath = Annotated[int, Path(ge=0, le=INT32, description="Cluster number")]
