"""Greets the wrong word."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def greet() -> dict[str, str]:
    return {"hello": "word"}
