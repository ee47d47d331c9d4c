"""Fuzzing the capstone service through its own OpenAPI, with schemathesis: the steps share it.

`fuzz(client, openapi)` draws requests for every operation the schema documents
(schemathesis on Hypothesis, derandomized, a few examples per operation, so a run is the same
every time and takes seconds), sends each through the suite's in-process client (the app's
lifespan already running), and checks every answer: never a 5xx, and a status, headers and
body the schema documents. The first broken answer fails the check with the request and the
answer in plain words, ready to replay.

A suite loads this file by path, under the one name "capstone_fuzzing" (the grader imports
each test file on its own, with --import-mode=importlib, so a plain `import fuzzing` fails);
see `_load_fuzzing` in test_01_tasks_service.py, then:

    async with running(exercise.app, raise_app_exceptions=False) as (client, _):
        await fuzzing.fuzz(client, exercise.app.openapi(), headers={"Authorization": ...})
"""

import json
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import HypothesisSideeffectWarning
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

MAX_EXAMPLES = 12  # per operation
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def draw_cases(
    openapi: Mapping[str, Any], *, max_examples: int = MAX_EXAMPLES, skip: Iterable[str] = ()
) -> list[Any]:
    """The same requests every time: ``max_examples`` per documented operation."""
    schema = schemathesis.openapi.from_dict(dict(openapi))
    skipped = set(skip)
    cases: list[Any] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in skipped:
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=max_examples,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def collect(case: Any) -> None:
            cases.append(case)

        # A grader that imported Hypothesis before pytest (a warm, forked process) makes
        # Hypothesis believe plugins are still loading: its warning about that is noise here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", HypothesisSideeffectWarning)
            collect()
    return cases


def _failures(exc: BaseException) -> list[str]:
    """The titles and messages of schemathesis' failures, without its replay boilerplate."""
    found = exc.exceptions if isinstance(exc, BaseExceptionGroup) else [exc]
    lines: list[str] = []
    for failure in found:
        title = getattr(failure, "title", type(failure).__name__)
        message = getattr(failure, "message", str(failure))
        lines.append(f"{title}: {' '.join(str(message).split())[:300]}")
    return lines


def describe(case: Any, response: httpx.Response | None) -> str:
    """One request and its answer, in words a learner can replay with curl or httpx."""
    lines = [f"request: {case.method.upper()} {case.formatted_path}"]
    if case.query:
        lines.append(f"  query: {json.dumps(case.query, default=str)}")
    if case.body is not None and not _is_unset(case.body):
        lines.append(f"  body: {json.dumps(case.body, default=str)[:500]}")
    if response is not None:
        lines.append(f"answer: {response.status_code} {response.text[:500]}")
    return "\n".join(lines)


def _is_unset(value: Any) -> bool:
    return type(value).__name__ == "NotSet"


async def fuzz(
    client: httpx.AsyncClient,
    openapi: Mapping[str, Any],
    *,
    headers: Mapping[str, str] | None = None,
    max_examples: int = MAX_EXAMPLES,
    skip: Iterable[str] = (),
) -> int:
    """Send the drawn requests; fail on the first 5xx or answer the schema does not document.

    Returns how many requests were sent.
    """
    cases = draw_cases(openapi, max_examples=max_examples, skip=skip)
    for case in cases:
        kwargs = case.as_transport_kwargs(base_url=str(client.base_url).rstrip("/"))
        request_headers = {**(kwargs.get("headers") or {}), **(headers or {})}
        body = kwargs.get("content") or kwargs.get("data")
        form = isinstance(body, dict)  # a form body (POST /token) comes as a dict of fields
        try:
            response = await client.request(
                kwargs["method"],
                kwargs["url"],
                params=kwargs.get("params"),
                headers=request_headers,
                json=kwargs.get("json"),
                data=body if form else None,
                content=None if form else body,
            )
        except Exception as exc:  # the app raised: what a server answers with a 500
            raise AssertionError(
                "The fuzzer made the app crash.\n"
                + describe(case, None)
                + f"\nwhat broke: {type(exc).__name__}: {exc}"
            ) from None
        try:
            case.validate_response(response, checks=CHECKS, headers=request_headers)
        except (AssertionError, BaseExceptionGroup) as exc:
            what = _failures(exc)
            raise AssertionError(
                "The fuzzer found an answer the OpenAPI does not allow.\n"
                + describe(case, response)
                + "\nwhat broke: "
                + "\n  ".join(what[:12])
            ) from None
    return len(cases)
