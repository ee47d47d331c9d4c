import threading
from typing import Annotated

from fastapi import Depends, FastAPI


def sync_dependency() -> str:
    return threading.current_thread().name


async def async_dependency() -> str:
    return threading.current_thread().name


app = FastAPI()


@app.get("/async")
async def async_endpoint(
    sync_dep: Annotated[str, Depends(sync_dependency)],
    async_dep: Annotated[str, Depends(async_dependency)],
) -> dict[str, str]:
    return {
        "endpoint": threading.current_thread().name,
        "sync dependency": sync_dep,
        "async dependency": async_dep,
    }


@app.get("/sync")
def sync_endpoint() -> dict[str, str]:
    return {"endpoint": threading.current_thread().name}
