"""Greet the world. Contract: `app` (keep this name); GET / answers {"hello": "world"}."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def greet() -> dict[str, str]:
    # TODO: greet the world instead of nobody.
    return {"hello": "nobody"}
