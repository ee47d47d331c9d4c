from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import PlainTextResponse


class DomainError(Exception): ...


class NotFound(DomainError): ...


class Conflict(DomainError): ...


class InsufficientFunds(Conflict): ...


app = FastAPI()


@app.exception_handler(Conflict)  # registered first: the order does not matter
async def conflict(request: Request, exc: Conflict) -> PlainTextResponse:
    return PlainTextResponse(f"conflict handler: {type(exc).__name__}", status_code=409)


@app.exception_handler(DomainError)
async def domain_error(request: Request, exc: DomainError) -> PlainTextResponse:
    return PlainTextResponse(f"domain handler: {type(exc).__name__}", status_code=400)


@app.exception_handler(404)  # a status code: only for HTTPExceptions with that status
async def not_found(request: Request, exc: HTTPException) -> PlainTextResponse:
    return PlainTextResponse(f"404 handler: {exc.detail}", status_code=404)


ERRORS: dict[str, type[Exception]] = {
    "not-found": NotFound,
    "conflict": Conflict,
    "insufficient-funds": InsufficientFunds,
    "key-error": KeyError,
}


@app.get("/raise/{name}")
async def raise_error(name: str) -> None:
    raise ERRORS[name]()


@app.get("/http-404")
async def http_404() -> None:
    raise HTTPException(404, detail="no such order")
