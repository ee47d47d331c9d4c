import csv
import io

from fastapi import FastAPI, Request

app = FastAPI()

CSV_BODY = {
    "required": True,
    "content": {"text/csv": {"schema": {"type": "string"}, "example": "isbn,title\n1,Dune\n"}},
}


@app.post(
    "/books/import",
    openapi_extra={
        "requestBody": CSV_BODY,
        "responses": {"200": {"description": "How many rows were read"}},
        "x-rate-limit": {"per-minute": 10},
    },
)
async def import_books(request: Request) -> dict[str, int]:
    rows = list(csv.DictReader(io.StringIO((await request.body()).decode())))
    return {"rows": len(rows)}
