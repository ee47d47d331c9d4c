from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse


async def problem(request: Request, exc: HTTPException) -> JSONResponse:
    body = {"status": exc.status_code, "detail": exc.detail}
    return JSONResponse(body, status_code=exc.status_code, media_type="application/problem+json")


app = FastAPI()
app.add_exception_handler(HTTPException, problem)  # fastapi.HTTPException: too narrow


@app.get("/orders/{order_id}")
async def read_order(order_id: int) -> None:
    raise HTTPException(404, detail=f"There is no order {order_id}.")
