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

# four different groups of digits: a mask that keeps the wrong four shows
CARD = {"kind": "card", "number": "4012888888881881", "expiry": "12/30"}
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


def locs_and_types(body: Any) -> list[dict[str, Any]]:
    """The loc and type of each validation error in a 422 body."""
    errors = body.get("detail") if isinstance(body, dict) else None
    return [
        {"loc": error.get("loc"), "type": error.get("type")}
        for error in errors or []
        if isinstance(error, dict)
    ]


async def test_card_is_echoed_masked(exercise):
    """a card payment is answered 201 and echoed with its number masked"""
    response = await post(exercise.app, payment(CARD))
    expect_status(response, 201, help=union_help(response_json(response)))
    body = response_json(response)
    echoed = body.get("method") if isinstance(body, dict) else None
    unmasked = isinstance(echoed, dict) and echoed.get("number") == CARD["number"]
    masked = {**CARD, "number": "************1881"}
    expect_json(response, payment(masked), help=UNMASKED if unmasked else None)


@pytest.mark.parametrize(
    ("kind", "method"), [("sepa", SEPA), ("crypto", CRYPTO)], ids=["sepa", "crypto"]
)
async def test_other_methods_are_echoed(exercise, kind, method):
    """a {kind} payment is answered 201 and echoed unchanged"""
    response = await post(exercise.app, payment(method))
    expect_status(response, 201, help=union_help(response_json(response)))
    expect_json(response, payment(method))


@pytest.mark.parametrize(
    ("case", "kind", "tag"),
    [("an unknown kind", "paypal", "paypal"), ("a kind of null", None, "None")],
    ids=["unknown", "null"],
)
async def test_unknown_kind_is_union_tag_invalid(exercise, case, kind, tag):
    """{case} is one union_tag_invalid error at the method"""
    method = {"kind": kind, "email": "ada@example.com"}
    response = await post(exercise.app, payment(method))
    expect_status(response, 422)
    error = {
        "type": "union_tag_invalid",
        "loc": ["body", "method"],
        "msg": (
            f"Input tag '{tag}' found using 'kind' does not match any of the expected tags: "
            f"{EXPECTED_TAGS}"
        ),
        "input": method,
        "ctx": {"discriminator": "'kind'", "tag": tag, "expected_tags": EXPECTED_TAGS},
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
    found = locs_and_types(body)
    expected = [{"loc": ["body", "method", kind, field], "type": error_type}]
    expect_equal("errors (loc and type)", expected, found, help=union_help(body))


def sepa(iban: str) -> dict[str, Any]:
    return {"kind": "sepa", "iban": iban}


def crypto(wallet: str, network: str = "ethereum") -> dict[str, Any]:
    return {"kind": "crypto", "network": network, "wallet": wallet}


def card(number: str = CARD["number"], expiry: str = CARD["expiry"]) -> dict[str, Any]:
    return {"kind": "card", "number": number, "expiry": expiry}


IBAN_15 = "NO9386011117947"
IBAN_34 = "GB33BUKB20201555555555ABCDEFGHIJKL"
WALLET = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


@pytest.mark.parametrize(
    ("case", "body", "echoed"),
    [
        ("an amount_cents of 1", {**payment(SEPA), "amount_cents": 1}, None),
        ("currency USD", {**payment(SEPA), "currency": "USD"}, None),
        ("currency GBP", {**payment(SEPA), "currency": "GBP"}, None),
        (
            "a card expiring 01/27",
            payment(card(expiry="01/27")),
            payment({**card(expiry="01/27"), "number": "************1881"}),
        ),
        ("an iban of 15 characters", payment(sepa(IBAN_15)), None),
        ("an iban of 34 characters", payment(sepa(IBAN_34)), None),
        ("a wallet of 26 characters", payment(crypto(WALLET[:26], "bitcoin")), None),
        ("a wallet of 42 characters", payment(crypto(WALLET)), None),
    ],
    ids=[
        "amount-1",
        "usd",
        "gbp",
        "expiry-01",
        "iban-15",
        "iban-34",
        "wallet-26",
        "wallet-42",
    ],
)
async def test_limits_are_accepted(exercise, case, body, echoed):
    """a payment with {case} is answered 201 and echoed"""
    response = await post(exercise.app, body)
    expect_status(response, 201, help=union_help(response_json(response)))
    expect_json(response, echoed or body)


@pytest.mark.parametrize(
    ("case", "body", "loc", "error_type"),
    [
        (
            "an amount_cents of 0",
            {**payment(SEPA), "amount_cents": 0},
            ["amount_cents"],
            "greater_than",
        ),
        ("currency JPY", {**payment(SEPA), "currency": "JPY"}, ["currency"], "literal_error"),
        (
            "a card number of 15 digits",
            payment(card(number=CARD["number"][:15])),
            ["method", "card", "number"],
            "string_pattern_mismatch",
        ),
        (
            "a card number of 17 digits",
            payment(card(number=CARD["number"] + "0")),
            ["method", "card", "number"],
            "string_pattern_mismatch",
        ),
        (
            "a card expiring 00/30",
            payment(card(expiry="00/30")),
            ["method", "card", "expiry"],
            "string_pattern_mismatch",
        ),
        (
            "a card expiring 13/30",
            payment(card(expiry="13/30")),
            ["method", "card", "expiry"],
            "string_pattern_mismatch",
        ),
        (
            "an iban of 14 characters",
            payment(sepa(IBAN_15[:14])),
            ["method", "sepa", "iban"],
            "string_pattern_mismatch",
        ),
        (
            "an iban of 35 characters",
            payment(sepa(IBAN_34 + "A")),
            ["method", "sepa", "iban"],
            "string_pattern_mismatch",
        ),
        (
            "a wallet of 25 characters",
            payment(crypto(WALLET[:25])),
            ["method", "crypto", "wallet"],
            "string_too_short",
        ),
        (
            "a wallet of 43 characters",
            payment(crypto(WALLET + "q")),
            ["method", "crypto", "wallet"],
            "string_too_long",
        ),
    ],
    ids=[
        "amount-0",
        "jpy",
        "number-15",
        "number-17",
        "expiry-00",
        "expiry-13",
        "iban-14",
        "iban-35",
        "wallet-25",
        "wallet-43",
    ],
)
async def test_past_the_limits_is_refused(exercise, case, body, loc, error_type):
    """a payment with {case} is refused: one {error_type} error"""
    response = await post(exercise.app, body)
    expect_status(response, 422)
    body = response_json(response)
    found = locs_and_types(body)
    expected = [{"loc": ["body", *loc], "type": error_type}]
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
