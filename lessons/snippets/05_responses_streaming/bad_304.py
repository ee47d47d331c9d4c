from fastapi import FastAPI, Response

app = FastAPI()


@app.get("/report")
async def report() -> Response:
    body = b'{"status": "unchanged"}'
    return Response(body, status_code=304, media_type="application/json")  # wrong: a body
