import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Security, status
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm, SecurityScopes
from hashing import authenticate
from tokens import ACCESS_TTL, InvalidToken, issue_token, verify_token


def now() -> float:
    return time.time()


oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="token",
    auto_error=False,  # a missing token is answered below, with the scope it needs
    scopes={
        "items:read": "Read items.",
        "items:write": "Create and change items.",
        "items:delete": "Delete items.",
    },
)


async def claims_for(
    security_scopes: SecurityScopes,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    now: Annotated[float, Depends(now)],
) -> dict[str, Any]:
    challenge = f'Bearer scope="{security_scopes.scope_str}"'
    if token is None:  # no credentials: a challenge without an error code (RFC 6750)
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="Not authenticated",
            headers={"WWW-Authenticate": challenge},
        )
    try:
        claims = verify_token(token, typ="access", now=now)
    except InvalidToken:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="Invalid token",
            headers={"WWW-Authenticate": f'{challenge}, error="invalid_token"'},
        ) from None
    granted = set(claims["scope"].split())
    if missing := [scope for scope in security_scopes.scopes if scope not in granted]:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"Missing scope: {' '.join(missing)}",
            headers={"WWW-Authenticate": f'{challenge}, error="insufficient_scope"'},
        )
    return claims


items = APIRouter(prefix="/items", dependencies=[Security(claims_for, scopes=["items:read"])])


@items.get("")
async def list_items() -> list[str]:
    return ["lamp"]


@items.post("", status_code=status.HTTP_201_CREATED)
async def add_item(
    claims: Annotated[dict[str, Any], Security(claims_for, scopes=["items:write"])],
) -> dict[str, str]:
    return {"added_by": claims["sub"]}


async def editor(
    claims: Annotated[dict[str, Any], Security(claims_for, scopes=["items:write"])],
) -> str:
    return claims["sub"]


@items.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_item(
    name: str, by: Annotated[str, Security(editor, scopes=["items:delete"])]
) -> None:
    """Needs items:read (router), items:delete (here) and items:write (editor's)."""


ALLOWED_SCOPES = {"alice": {"items:read", "items:write"}}  # what each user may hold
app = FastAPI()
app.include_router(items)


@app.post("/token")
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], now: Annotated[float, Depends(now)]
) -> dict[str, str]:
    user = authenticate(form.username, form.password)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="Incorrect username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    allowed = ALLOWED_SCOPES.get(user.username, set())
    scopes = [scope for scope in form.scopes if scope in allowed]  # asked for AND allowed
    token = issue_token(user.username, typ="access", now=now, ttl=ACCESS_TTL, scopes=scopes)
    return {"access_token": token, "token_type": "bearer", "scope": " ".join(scopes)}
