"""Hidden suite for 02_pydantic_contracts/01_payments: a discriminated union of payment methods."""

import json
from typing import Any

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from workbook.testing import (
    Failure,
    Mismatch,
    client_for,
    expect,
    expect_equal,
    expect_json,
    expect_status,
    json_diff,
    response_json,
)

CARD = {"kind": "card", "number": "4242424242424242", "expiry": "12/30"}
SEPA = {"kind": "sepa", "iban": "DE89370400440532013000"}
CRYPTO = {
    "kind": "crypto",
    "network": "ethereum",
    "wallet": "0x52908400098527886E0F7030069857D2E4169EE7",
}
EXPECTED_TAGS = "'card', 'sepa', 'crypto'"
MODEL_NAMES = {"Card", "Sepa", "Crypto"}

PLAIN_UNION = (
    "Is `method` a plain union? Without a discriminator Pydantic tries every branch and "
    "reports the errors of each one, under the model's name."
)
CARD_ONLY = "Is `method` still only a `Card`? Then `kind` is checked like any other field."
UNMASKED = "Does `Card` serialize `number` through a serializer that masks it?"


def payment(method: Any) -> dict[str, Any]:
    return {"amount_cents": 1250, "currency": "EUR", "method": method}


async def post(app: Any, body: Any) -> Any:
    async with client_for(app) as client:
        return await client.post("/payments", json=body)


def union_help(body: Any) -> str | None:
    """The question that fits a 422 body produced by a union that is not discriminated."""
    errors = body.get("detail") if isinstance(body, dict) else None
    locs = [error.get("loc", []) for error in errors or [] if isinstance(error, dict)]
    if any(MODEL_NAMES & {str(part) for part in loc} for loc in locs):
        return PLAIN_UNION
    if ["body", "method", "kind"] in locs:
        return CARD_ONLY
    return None


async def test_card_is_echoed_masked(exercise):
    """a card payment is answered 201 and echoed with its number masked"""
    response = await post(exercise.app, payment(CARD))
    expect_status(response, 201, help=union_help(response_json(response)))
    body = response_json(response)
    echoed = body.get("method") if isinstance(body, dict) else None
    unmasked = isinstance(echoed, dict) and echoed.get("number") == CARD["number"]
    masked = {**CARD, "number": "************4242"}
    expect_json(response, payment(masked), help=UNMASKED if unmasked else None)


@pytest.mark.parametrize(
    ("kind", "method"), [("sepa", SEPA), ("crypto", CRYPTO)], ids=["sepa", "crypto"]
)
async def test_other_methods_are_echoed(exercise, kind, method):
    """a {kind} payment is answered 201 and echoed unchanged"""
    response = await post(exercise.app, payment(method))
    expect_status(response, 201, help=union_help(response_json(response)))
    expect_json(response, payment(method))


async def test_unknown_kind_is_union_tag_invalid(exercise):
    """an unknown kind is one union_tag_invalid error at the method"""
    method = {"kind": "paypal", "email": "ada@example.com"}
    response = await post(exercise.app, payment(method))
    expect_status(response, 422)
    error = {
        "type": "union_tag_invalid",
        "loc": ["body", "method"],
        "msg": (
            "Input tag 'paypal' found using 'kind' does not match any of the expected tags: "
            f"{EXPECTED_TAGS}"
        ),
        "input": method,
        "ctx": {"discriminator": "'kind'", "tag": "paypal", "expected_tags": EXPECTED_TAGS},
    }
    expect_json(response, {"detail": [error]}, help=union_help(response_json(response)))


async def test_missing_kind_is_union_tag_not_found(exercise):
    """a method without kind is one union_tag_not_found error at the method"""
    method = {"number": "4242424242424242", "expiry": "12/30"}
    response = await post(exercise.app, payment(method))
    expect_status(response, 422)
    error = {
        "type": "union_tag_not_found",
        "loc": ["body", "method"],
        "msg": "Unable to extract tag using discriminator 'kind'",
        "input": method,
        "ctx": {"discriminator": "'kind'"},
    }
    expect_json(response, {"detail": [error]}, help=union_help(response_json(response)))


@pytest.mark.parametrize(
    ("kind", "method", "field", "error_type"),
    [
        ("card", {**CARD, "number": "4242"}, "number", "string_pattern_mismatch"),
        ("sepa", {"kind": "sepa"}, "iban", "missing"),
        ("crypto", {**CRYPTO, "network": "dogecoin"}, "network", "literal_error"),
    ],
    ids=["card", "sepa", "crypto"],
)
async def test_field_error_is_under_its_tag(exercise, kind, method, field, error_type):
    """a {kind} method with a bad {field} is reported under its tag: one {error_type} error"""
    response = await post(exercise.app, payment(method))
    expect_status(response, 422)
    body = response_json(response)
    errors = body.get("detail") if isinstance(body, dict) else None
    found = [
        {"loc": error.get("loc"), "type": error.get("type")}
        for error in errors or []
        if isinstance(error, dict)
    ]
    expected = [{"loc": ["body", "method", kind, field], "type": error_type}]
    expect_equal("errors (loc and type)", expected, found, help=union_help(body))


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` of the OpenAPI document, if the schema is one."""
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return schema
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        if not isinstance(node, dict) or part not in node:
            raise Failure(f"the OpenAPI document has no {ref}")
        node = node[part]
    return node


def method_schema(document: dict[str, Any]) -> dict[str, Any]:
    try:
        operation = document["paths"]["/payments"]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        return resolve(document, resolve(document, body)["properties"]["method"])
    except (KeyError, TypeError):
        raise Failure(
            "expected the OpenAPI document to describe the JSON body of POST /payments "
            "with a `method` property"
        ) from None


async def test_openapi_documents_the_discriminator(exercise):
    """the OpenAPI schema shows method as oneOf the three models with a discriminator mapping"""
    async with client_for(exercise.app) as client:
        response = await client.get("/openapi.json")
    expect_status(response, 200)
    document = response_json(response)
    method = method_schema(document)
    expect(
        isinstance(method.get("oneOf"), list),
        f"expected the schema of method to have oneOf, not only {sorted(method)}",
        help=PLAIN_UNION if "anyOf" in method else None,
    )
    discriminator = method.get("discriminator") or {}
    expect_equal("discriminator propertyName", "kind", discriminator.get("propertyName"))
    mapping = discriminator.get("mapping") or {}
    expect_equal("tags in the discriminator mapping", ["card", "crypto", "sepa"], sorted(mapping))
    branches = sorted(str(item.get("$ref")) for item in method["oneOf"])
    expect_equal("models in oneOf", sorted(mapping.values()), branches)
    for tag, ref in mapping.items():
        model = resolve(document, {"$ref": ref})
        kind = model.get("properties", {}).get("kind", {})
        expect_equal(f"`kind` const of the model mapped from {tag!r}", tag, kind.get("const"))


# -- differential check: generated payloads, valid and broken, against the reference ------

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.text(max_size=6),
    st.lists(st.integers(0, 9), max_size=2),
)
TAGS = st.sampled_from(["card", "sepa", "crypto", "paypal", "CARD", ""])
DIGITS = "0123456789"
CARDS = st.fixed_dictionaries(
    {
        "kind": st.just("card"),
        "number": st.text(DIGITS, min_size=16, max_size=16) | st.text(DIGITS, max_size=18),
        "expiry": st.sampled_from(["01/27", "12/30", "13/30", "1/30"]),
    }
)
SEPAS = st.fixed_dictionaries(
    {
        "kind": st.just("sepa"),
        "iban": st.sampled_from([SEPA["iban"], "GB33BUKB20201555555555", "de89370400440532013000"])
        | st.text("DE0123456789", max_size=34),
    }
)
CRYPTOS = st.fixed_dictionaries(
    {
        "kind": st.just("crypto"),
        "network": st.sampled_from(["bitcoin", "ethereum", "dogecoin"]),
        "wallet": st.text("0123456789abcdef", min_size=20, max_size=48),
    }
)
METHOD_KEYS = st.sampled_from(["kind", "number", "expiry", "iban", "network", "wallet", "note"])
PAYMENT_KEYS = st.sampled_from(["amount_cents", "currency", "method", "note"])


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[dict[str, Any]], keys: Any) -> Any:
    """A valid-looking object, sometimes missing a key and sometimes with one set to junk."""
    value = dict(draw(base))
    if value and draw(st.booleans()):
        del value[draw(st.sampled_from(sorted(value)))]
    if draw(st.booleans()):
        value[draw(keys)] = draw(JUNK | TAGS)
    return value


METHODS = mutated(st.one_of(CARDS, SEPAS, CRYPTOS), METHOD_KEYS) | JUNK
PAYMENTS = mutated(
    st.fixed_dictionaries(
        {
            "amount_cents": st.integers(-1, 10**6) | JUNK,
            "currency": st.sampled_from(["EUR", "USD", "GBP", "JPY"]),
            "method": METHODS,
        }
    ),
    PAYMENT_KEYS,
)


def answer(response: Any) -> dict[str, Any]:
    """Status and body, with validation errors in a stable order."""
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict) and isinstance(body.get("detail"), list):
        ordered = sorted(body["detail"], key=lambda error: json.dumps(error, sort_keys=True))
        body = {**body, "detail": ordered}
    return {"status": response.status_code, "body": body}


@settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=150,
    report_multiple_bugs=False,
    phases=[Phase.generate, Phase.shrink],
)
@given(PAYMENTS)
async def test_answers_like_the_reference(exercise, reference, body):
    """any payment, valid or broken, gets the reference's status and body"""
    expected = answer(await post(reference.app, body))
    actual = answer(await post(exercise.app, body))
    if actual != expected:
        raise Mismatch(
            "answer",
            expected,
            actual,
            help=union_help(actual["body"]),
            request=f"POST /payments {json.dumps(body)}",
            diff=json_diff(expected, actual),
        )
