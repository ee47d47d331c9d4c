from fastapi import FastAPI

app = FastAPI()


@app.get("/square/{n}")
async def square(n: int) -> dict[str, int]:
    return {"result": n * n}
