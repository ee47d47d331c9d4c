from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException


async def verify_key(x_api_key: Annotated[str | None, Header()] = None) -> None:
    if x_api_key != "secret":
        raise HTTPException(status_code=401, detail="missing or wrong API key")


async def require_admin(x_role: Annotated[str | None, Header()] = None) -> None:
    if x_role != "admin":
        raise HTTPException(status_code=403, detail="admins only")


app = FastAPI(dependencies=[Depends(verify_key)])  # every route of the app
admin = APIRouter(prefix="/admin", dependencies=[Depends(require_admin)])  # this router's


@admin.get("/users")
async def list_users() -> list[str]:
    return ["ada", "bob"]


app.include_router(admin)


@admin.post("/users/{name}/ban")  # added after include_router: still served, still guarded
async def ban(name: str) -> dict[str, str]:
    return {"banned": name}


@app.get("/orders")
async def orders() -> list[int]:
    return [1, 2]
