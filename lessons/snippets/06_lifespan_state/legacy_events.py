from fastapi import FastAPI

log: list[str] = []
connections: dict[str, str] = {}  # events share resources through globals

app = FastAPI()


@app.on_event("startup")
async def open_db() -> None:
    log.append("open db")
    connections["db"] = "a connection"


@app.on_event("startup")
async def open_cache() -> None:
    log.append("open cache")


@app.on_event("shutdown")
async def close_db() -> None:
    log.append("close db")


@app.on_event("shutdown")
async def close_cache() -> None:
    log.append("close cache")


@app.get("/db")
async def read_db() -> str:
    return connections["db"]
