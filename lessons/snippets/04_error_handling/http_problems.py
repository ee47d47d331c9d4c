from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException


class ProblemResponse(JSONResponse):
    media_type = "application/problem+json"


async def http_problem(request: Request, exc: StarletteHTTPException) -> Response:
    if exc.status_code in {204, 205, 304}:  # statuses that may not have a body
        return Response(status_code=exc.status_code, headers=exc.headers)
    phrase = HTTPStatus(exc.status_code).phrase
    sentence = isinstance(exc.detail, str)
    problem: dict[str, Any] = {
        "type": "about:blank",
        "title": phrase,
        "status": exc.status_code,
        "detail": exc.detail if sentence else phrase,
        "instance": request.url.path,
    }
    if not sentence:  # a dict or a list from fastapi.HTTPException: not a sentence
        problem["context"] = exc.detail
    return ProblemResponse(problem, status_code=exc.status_code, headers=exc.headers)


app = FastAPI()
app.add_exception_handler(StarletteHTTPException, http_problem)
bearer = HTTPBearer()
ORDERS = {7: {"id": 7, "total": 40}}


@app.get("/orders/{order_id}")
async def read_order(order_id: int) -> dict[str, int]:
    if order_id not in ORDERS:
        raise HTTPException(404, detail=f"There is no order {order_id}.")
    return ORDERS[order_id]


@app.post("/orders", status_code=201)
async def create_order() -> dict[str, int]:
    return ORDERS[7]


@app.get("/me")
async def me(token: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]) -> dict[str, str]:
    return {"scheme": token.scheme}


@app.get("/reports")
async def reports() -> None:
    raise HTTPException(503, detail="Reports are being rebuilt.", headers={"Retry-After": "120"})


@app.delete("/orders/{order_id}")
async def cancel(order_id: int) -> None:
    raise HTTPException(409, detail={"reason": "shipped", "order": order_id})
