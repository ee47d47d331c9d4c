"""One envelope for every HTTP error: routing errors and HTTPExceptions as problem details."""

from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
NO_BODY = {204, 205, 304}
TOKEN = "Bearer s3cr3t"
REPORTS = {"r-1": {"id": "r-1", "title": "Q3 revenue"}}


async def http_problem(request: Request, exc: StarletteHTTPException) -> Response:
    if exc.status_code in NO_BODY:
        # these statuses forbid a body, problem or not
        return Response(status_code=exc.status_code, headers=exc.headers)
    title = HTTPStatus(exc.status_code).phrase
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": exc.status_code,
        "detail": title,
        "instance": request.url.path,
    }
    if isinstance(exc.detail, str):
        body["detail"] = exc.detail
    else:
        body["context"] = exc.detail
    # the exception's headers carry the protocol: Allow, WWW-Authenticate, Retry-After
    return JSONResponse(body, exc.status_code, headers=exc.headers, media_type=PROBLEM_JSON)


def install_problem_handlers(app: FastAPI) -> None:
    # Starlette's class: routing raises it for unknown paths and methods; FastAPI's subclasses it
    app.add_exception_handler(StarletteHTTPException, http_problem)


async def require_token(authorization: Annotated[str | None, Header()] = None) -> None:
    if authorization != TOKEN:
        detail = "A valid bearer token is required."
        raise HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


app = FastAPI()
install_problem_handlers(app)


@app.get("/reports/{report_id}", dependencies=[Depends(require_token)])
async def read_report(report_id: str) -> dict[str, str]:
    if report_id not in REPORTS:
        raise HTTPException(404, f"Report {report_id} does not exist.")
    return REPORTS[report_id]
