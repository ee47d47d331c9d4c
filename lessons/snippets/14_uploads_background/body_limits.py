from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Request, UploadFile

KIB = 1024
calls: list[str] = []  # which endpoints ran, for the tests

app = FastAPI(max_body_size=16 * KIB, form_limits={"max_fields": 5})
uploads = APIRouter(prefix="/uploads", max_body_size=10 * 1024 * KIB)


@app.post("/notes")
async def add_note(note: dict[str, Any]) -> dict[str, int]:
    calls.append("notes")
    return {"keys": len(note)}


@app.post("/pings", max_body_size=64)
async def ping(request: Request) -> dict[str, int]:
    calls.append("pings")
    return {"size": len(await request.body())}


@uploads.put("/{name}")
async def upload(name: str, request: Request) -> dict[str, int]:
    calls.append("uploads")
    return {"size": sum([len(chunk) async for chunk in request.stream()])}


@uploads.post("/forms", form_limits={"max_files": 2, "max_part_size": 256})
async def upload_form(
    files: list[UploadFile], caption: Annotated[str, Form()] = ""
) -> dict[str, Any]:
    calls.append("forms")
    return {"files": [file.filename for file in files], "caption": caption}


app.include_router(uploads)
