"""Answers every method, not only GET."""

from fastapi import FastAPI

app = FastAPI()


@app.api_route("/", methods=["GET", "POST"])
async def greet() -> dict[str, str]:
    return {"hello": "world"}
