from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException


async def verify_key(x_api_key: Annotated[str, Header()]) -> None:  # required: 422 if missing
    if x_api_key != "secret":
        raise HTTPException(status_code=401, detail="wrong API key")


async def require_admin(x_role: Annotated[str | None, Header()] = None) -> None:
    if x_role != "admin":
        raise HTTPException(status_code=403, detail="admins only")


app = FastAPI(dependencies=[Depends(verify_key)])
admin = APIRouter(prefix="/admin", dependencies=[Depends(require_admin)])


@admin.get("/users")
async def list_users() -> list[str]:
    return ["ada", "bob"]


app.include_router(admin)
