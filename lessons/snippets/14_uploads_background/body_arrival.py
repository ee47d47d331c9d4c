from fastapi import FastAPI, Request

app = FastAPI()


@app.post("/chunks")
async def chunks(request: Request) -> dict[str, list[int] | str]:
    sizes = [len(chunk) async for chunk in request.stream()]
    try:
        await request.body()
    except RuntimeError as error:
        return {"sizes": sizes, "second_read": str(error)}
    return {"sizes": sizes, "second_read": "allowed"}


@app.post("/buffered")
async def buffered(request: Request) -> dict[str, list[int]]:
    body = await request.body()
    return {"body": [len(body)], "stream": [len(chunk) async for chunk in request.stream()]}
