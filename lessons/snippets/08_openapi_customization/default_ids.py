from typing import Any

from fastapi import APIRouter, FastAPI

app = FastAPI()
v1 = APIRouter(prefix="/v1", tags=["books"])


@v1.get("/books/{isbn}")
async def read_book(isbn: str) -> dict[str, str]:
    return {"isbn": isbn}


@v1.get("/books/{isbn}/reviews")
async def list_reviews(isbn: str) -> list[str]:
    return []


app.include_router(v1)


@app.api_route("/stock", methods=["GET", "POST"])
async def stock() -> dict[str, int]:
    return {"count": 3}


def operation_ids(document: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {
        (method.upper(), path): operation["operationId"]
        for path, path_item in document["paths"].items()
        for method, operation in path_item.items()
    }


if __name__ == "__main__":  # run with two PYTHONHASHSEED values and compare
    import json
    import warnings

    warnings.simplefilter("ignore")
    print(json.dumps(operation_ids(app.openapi())[("GET", "/stock")]))
