from fastapi import FastAPI, Response
from fastapi.responses import PlainTextResponse

app = FastAPI()


@app.get("/greeting")
async def greeting(response: Response) -> Response:
    response.headers["Vary"] = "Accept"  # lost: FastAPI sends the response returned below
    return PlainTextResponse("hello")


@app.get("/greeting.json")
async def greeting_json(response: Response) -> dict[str, str]:
    response.headers["Vary"] = "Accept"  # kept: FastAPI builds the response and adds it
    return {"text": "hello"}
