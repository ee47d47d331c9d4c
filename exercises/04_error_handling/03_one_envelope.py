"""One envelope for every HTTP error: routing errors and HTTPExceptions as problem details.

Task: a 401, a 404 for a path no route matches and a 405 come back as FastAPI's
`{"detail": ...}`, another shape than the problem details the rest of the service sends.
Write `install_problem_handlers` so that every HTTP error is a problem too, without
losing the headers that HTTP needs.

The contract (the checks rely on it):
- `app`, `require_token` and the route `GET /reports/{report_id}` are given; keep them as
  they are. The route needs the header `Authorization: Bearer s3cr3t` (a 401
  `HTTPException` with `WWW-Authenticate: Bearer` otherwise, raised in the dependency)
  and raises a 404 `HTTPException` for an unknown report.
- `install_problem_handlers(app)` (keep this name) installs the handler on the app it is
  given and returns None; the module calls it on its own `app`. The checks also call it on
  apps of their own, whose endpoints and dependencies raise `HTTPException`s, FastAPI's
  and Starlette's.
- Every `HTTPException` is answered with its status, its headers (all of them, whatever
  their names: `Allow` on a 405, `WWW-Authenticate` on a 401, `Retry-After` on a 429 or
  503, a rate limiter's own, ...) and a body
  sent with `Content-Type: application/problem+json` holding exactly these members:
  `"type": "about:blank"`; `"title"`: the status's reason phrase,
  `http.HTTPStatus(status).phrase` ("Not Found", "Method Not Allowed"); `"status"`: the
  status (a number); `"detail"`; `"instance"`: the request's path (`request.url.path`),
  without the query string.
- That covers the errors routing raises: a path no route matches (404) and a method the
  route does not serve (405, with `Allow`). Both are Starlette's `HTTPException`, of
  which FastAPI's is a subclass.
- `detail` is the exception's detail when it is a string, kept as it is (the empty string
  too; an exception raised without a detail has the reason phrase as its detail). A detail
  that is not a string (an object, a list, a number, a boolean) is not a sentence: then
  `detail` is the title, and the value, as it is, is the extension member `context`.
  No other problem has extension members.
- A 204, 205 or 304 may not have a body: it is answered with its status, its headers and no
  body at all.
- The checks only use statuses `http.HTTPStatus` knows.
"""

from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException

TOKEN = "Bearer s3cr3t"
REPORTS = {"r-1": {"id": "r-1", "title": "Q3 revenue"}}

# TODO: Write a handler that answers an HTTPException with the problem the contract
#       describes (and with no body for a 204, 205 or 304).


def install_problem_handlers(app: FastAPI) -> None:
    # TODO: Register the handler for the HTTPException class that routing errors raise too.
    pass


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
