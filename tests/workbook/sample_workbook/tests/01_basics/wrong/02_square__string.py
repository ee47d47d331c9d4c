"""Answers the square as a string."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/square/{n}")
async def square(n: int) -> dict[str, str]:
    return {"result": str(n * n)}
