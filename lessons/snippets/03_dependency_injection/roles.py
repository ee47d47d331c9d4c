from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException


async def get_roles(x_roles: Annotated[str, Header()] = "") -> set[str]:
    return {role for role in x_roles.split(",") if role}


Roles = Annotated[set[str], Depends(get_roles)]


class RequireRole:
    def __init__(self, role: str) -> None:
        self.role = role  # configuration: fixed when the app is built

    async def __call__(self, roles: Roles) -> None:  # the request's part
        if self.role not in roles:
            raise HTTPException(status_code=403, detail=f"requires the {self.role} role")


require_admin = RequireRole("admin")
require_auditor = RequireRole("auditor")


def require_role(role: str) -> Callable[[set[str]], Awaitable[None]]:
    async def check(roles: Roles) -> None:  # a new function at every call
        if role not in roles:
            raise HTTPException(status_code=403, detail=f"requires the {role} role")

    return check


app = FastAPI()


@app.delete("/users/{name}", status_code=204, dependencies=[Depends(require_admin)])
async def delete_user(name: str) -> None:
    return None


@app.get("/audit-log", dependencies=[Depends(require_auditor)])
async def audit_log() -> list[str]:
    return ["ada deleted bob"]


@app.get("/reports", dependencies=[Depends(require_role("auditor"))])
async def reports() -> list[str]:
    return ["q3.pdf"]
