"""Checks for suites about an app's OpenAPI document: fetch it, validate it, list it.

openapi-spec-validator takes seconds to import, so this module imports it only in the
check that validates: a process that imports this module without validating never pays
for it.  A suite that validates imports the validator itself, at collection, so that the
cost falls outside the time limit of every check.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import TYPE_CHECKING, Any

from workbook.testing import Failure, client_for, expect_status, response_json

if TYPE_CHECKING:
    from referencing.exceptions import Unresolvable

DOCUMENT_URL = "/openapi.json"


async def fetch_document(app: Any, *, help: str, quiet: bool = False) -> dict[str, Any]:
    """The document as a client sees it: GET /openapi.json, a fresh copy each time.

    ``help`` is the question for a GET that fails (FastAPI builds the document then);
    ``quiet`` silences the warnings FastAPI gives while building it (an operation id used
    twice), for suites whose checks say more than the warning does.
    """
    with _silenced(quiet):
        async with client_for(app, raise_app_exceptions=False) as client:
            response = await client.get(DOCUMENT_URL)
    expect_status(response, 200, help=help)
    document: dict[str, Any] = response_json(response)
    return document


def _silenced(quiet: bool) -> contextlib.AbstractContextManager[Any]:
    return warnings.catch_warnings(action="ignore") if quiet else contextlib.nullcontext()


def expect_valid_openapi(
    document: dict[str, Any], *, help: str, dangling: str | None = None
) -> None:
    """openapi-spec-validator accepts the document as OpenAPI 3.1.

    A refusal names the member refused.  With ``dangling``, a $ref that points to nothing
    fails on its own with that question; without it, the validator's error goes on as raised.
    """
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
    from referencing.exceptions import Unresolvable

    try:
        validate(document)
    except OpenAPIValidationError as exc:
        where = "/".join(str(part) for part in exc.absolute_path) or "the top level"
        raise Failure(
            f"expected a valid OpenAPI 3.1 document; at {where}: {exc.message}", help=help
        ) from None
    except Unresolvable as exc:
        if dangling is None:
            raise
        raise dangling_ref(exc, help=dangling) from None


def dangling_ref(exc: Unresolvable, *, help: str) -> Failure:
    """The failure for a $ref that points to nothing in the document."""
    ref = str(exc.ref)
    ref = f"#{ref}" if ref.startswith("/") else ref
    return Failure(f"expected the $ref {ref!r} to point to a schema, not to nothing", help=help)


def operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every operation of the document, keyed "METHOD /path"."""
    return {
        f"{method.upper()} {path}": operation
        for path, path_item in document.get("paths", {}).items()
        for method, operation in path_item.items()
    }
