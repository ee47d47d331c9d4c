"""Fuzz an app through its own OpenAPI with schemathesis: same requests every run, in-process."""

from collections.abc import Mapping
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# --8<-- [start:draw]
def draw(openapi: Mapping[str, Any], examples: int) -> list[Any]:
    """`examples` generated cases per operation; derandomized, so the same ones every run."""
    schema = schemathesis.openapi.from_dict(dict(openapi))
    cases: list[Any] = []
    for result in schema.get_all_operations():

        @given(case=result.ok().as_strategy())
        @settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def collect(case: Any) -> None:
            cases.append(case)

        collect()
    return cases


# --8<-- [end:draw]


# --8<-- [start:send]
async def fuzz(
    client: httpx.AsyncClient, openapi: Mapping[str, Any], examples: int = 10
) -> list[str]:
    """Send every case; return one plain line per broken answer (empty: nothing found)."""
    found: list[str] = []
    for case in draw(openapi, examples):
        sent = case.as_transport_kwargs(base_url=str(client.base_url).rstrip("/"))
        response = await client.request(
            sent["method"],
            sent["url"],
            params=sent.get("params"),
            headers=sent.get("headers"),
            json=sent.get("json"),
        )
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, BaseExceptionGroup) as error:
            failures = error.exceptions if isinstance(error, BaseExceptionGroup) else [error]
            titles = ", ".join(getattr(f, "title", type(f).__name__) for f in failures)
            body = sent.get("json")
            found.append(
                f"{case.method} {case.formatted_path} {body=} -> {response.status_code}: {titles}"
            )
    return found


# --8<-- [end:send]
