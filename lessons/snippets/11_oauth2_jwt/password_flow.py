import time
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from hashing import USERS, User, authenticate
from pydantic import BaseModel
from tokens import ACCESS_TTL, InvalidToken, issue_token, verify_token


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


def now() -> float:
    """The clock every time rule reads; tests override this dependency."""
    return time.time()


Now = Annotated[float, Depends(now)]
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token")
app = FastAPI()


@app.post("/token")
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], now: Now) -> Token:
    user = authenticate(form.username, form.password)  # `def`: hashing runs in a thread
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="Incorrect username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = issue_token(user.username, typ="access", now=now, ttl=ACCESS_TTL)
    return Token(access_token=token, expires_in=ACCESS_TTL)


async def current_user(token: Annotated[str, Depends(oauth2_scheme)], now: Now) -> User:
    try:
        claims = verify_token(token, typ="access", now=now)
    except InvalidToken:
        claims = None
    user = USERS.get(claims["sub"]) if claims else None
    if user is None:  # a bad token and a deleted user answer the same
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="Invalid token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return user


CurrentUser = Annotated[User, Depends(current_user)]


@app.get("/users/me")
async def read_me(user: CurrentUser) -> dict[str, str]:
    return {"username": user.username}
