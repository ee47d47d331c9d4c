import hashlib

from fastapi import FastAPI, Request

app = FastAPI()


@app.put("/uploads/{upload_id}")
async def upload(upload_id: str, request: Request) -> dict[str, int | str]:
    body = await request.body()  # every byte of the upload, in memory at once
    return {"id": upload_id, "size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
