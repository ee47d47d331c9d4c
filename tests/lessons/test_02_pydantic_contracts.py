"""Every snippet of lessons/02-pydantic-contracts.md runs and does what the page says."""

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import PydanticUserError, TypeAdapter, ValidationError
from pydantic.warnings import PydanticDeprecatedSince20

from workbook.loader import load
from workbook.testing import client_for

SNIPPETS = Path(__file__).resolve().parents[2] / "lessons" / "snippets" / "02_pydantic_contracts"


def snippet(name: str) -> Any:
    return load(SNIPPETS / name)


async def request(app: Any, method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    async with client_for(app) as client:
        response = await client.request(method, url, **kwargs)
    return response.status_code, response.json()


# -- signup.py: the anatomy of a 422 ------------------------------------------------------


async def test_signup_reports_each_error_with_type_loc_msg_input_ctx():
    app = snippet("signup.py").app
    status, body = await request(app, "POST", "/signups", json={"email": "a@b.c", "age": 16})
    assert status == 422
    assert body == {
        "detail": [
            {
                "type": "greater_than_equal",
                "loc": ["body", "age"],
                "msg": "Input should be greater than or equal to 18",
                "input": 16,
                "ctx": {"ge": 18},
            }
        ]
    }


async def test_signup_reports_every_error_at_once():
    app = snippet("signup.py").app
    status, body = await request(app, "POST", "/signups", json={"age": "sixteen"})
    assert status == 422
    assert [(e["type"], e["loc"]) for e in body["detail"]] == [
        ("missing", ["body", "email"]),
        ("int_parsing", ["body", "age"]),
    ]


# -- notifications.py: a discriminated union ----------------------------------------------

SMS = {"channel": "sms", "phone": "+447700900123"}


async def test_notifications_accept_a_branch_and_mask_the_phone_on_the_way_out():
    app = snippet("notifications.py").app
    status, body = await request(app, "POST", "/messages", json={"text": "hi", "to": SMS})
    assert status == 201
    assert body == {"text": "hi", "to": {"channel": "sms", "phone": "+44********23"}}


async def test_notifications_report_a_field_error_under_its_tag():
    app = snippet("notifications.py").app
    message = {"text": "hi", "to": {"channel": "sms", "phone": "12"}}
    status, body = await request(app, "POST", "/messages", json=message)
    assert status == 422
    assert [(e["type"], e["loc"]) for e in body["detail"]] == [
        ("string_pattern_mismatch", ["body", "to", "sms", "phone"])
    ]


async def test_notifications_reject_an_unknown_tag_with_one_error():
    app = snippet("notifications.py").app
    message = {"text": "hi", "to": {"channel": "fax"}}
    status, body = await request(app, "POST", "/messages", json=message)
    assert status == 422
    assert body == {
        "detail": [
            {
                "type": "union_tag_invalid",
                "loc": ["body", "to"],
                "msg": "Input tag 'fax' found using 'channel' does not match any of the "
                "expected tags: 'email', 'sms', 'push'",
                "input": {"channel": "fax"},
                "ctx": {
                    "discriminator": "'channel'",
                    "tag": "fax",
                    "expected_tags": "'email', 'sms', 'push'",
                },
            }
        ]
    }


def test_a_plain_union_reports_every_branch_under_the_model_names():
    plain = TypeAdapter(snippet("notifications.py").PlainRecipient)
    with pytest.raises(ValidationError) as caught:
        plain.validate_python({"channel": "sms", "phone": "12"})
    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [
        (("Email", "channel"), "literal_error"),
        (("Email", "address"), "missing"),
        (("Sms", "phone"), "string_pattern_mismatch"),
        (("Push", "channel"), "literal_error"),
        (("Push", "device_id"), "missing"),
    ]


def test_notifications_openapi_has_one_of_and_a_discriminator_mapping():
    document = snippet("notifications.py").app.openapi()
    schemas = document["components"]["schemas"]
    to = schemas["Message-Input"]["properties"]["to"]
    assert [branch["$ref"].rsplit("/", 1)[1] for branch in to["oneOf"]] == [
        "Email",
        "Sms-Input",
        "Push",
    ]
    assert to["discriminator"] == {
        "propertyName": "channel",
        "mapping": {
            "email": "#/components/schemas/Email",
            "push": "#/components/schemas/Push",
            "sms": "#/components/schemas/Sms-Input",
        },
    }
    assert "Sms-Output" in schemas  # the serializer makes the output schema differ


# -- coupons.py: before, after and model validators, computed field ---------------------

COUPON = {"percent_off": 25, "valid_from": "2026-03-20", "valid_until": "2026-04-19"}


async def test_coupon_code_is_normalized_before_validation_and_days_are_computed():
    app = snippet("coupons.py").app
    status, body = await request(app, "POST", "/coupons", json={**COUPON, "code": " spring25 "})
    assert status == 201
    assert body == {**COUPON, "code": "SPRING25", "days": 31}


async def test_coupon_before_validator_leaves_non_strings_to_pydantic():
    app = snippet("coupons.py").app
    status, body = await request(app, "POST", "/coupons", json={**COUPON, "code": 25})
    assert status == 422
    assert [(e["type"], e["loc"]) for e in body["detail"]] == [("string_type", ["body", "code"])]


async def test_coupon_window_rule_is_one_custom_error_at_the_model():
    app = snippet("coupons.py").app
    coupon = {**COUPON, "code": "SPRING25", "valid_from": "2026-04-20"}
    status, body = await request(app, "POST", "/coupons", json=coupon)
    assert status == 422
    assert body == {
        "detail": [
            {
                "type": "window_order",
                "loc": ["body"],
                "msg": "valid_until must not be before valid_from",
                "input": coupon,
            }
        ]
    }


async def test_coupon_model_rule_does_not_run_when_a_field_failed():
    app = snippet("coupons.py").app
    coupon = {**COUPON, "code": "SPRING25", "valid_from": "soon"}
    status, body = await request(app, "POST", "/coupons", json=coupon)
    assert status == 422
    assert [e["loc"] for e in body["detail"]] == [["body", "valid_from"]]


def test_coupon_days_is_read_only_in_the_response_schema():
    schemas = snippet("coupons.py").app.openapi()["components"]["schemas"]
    assert schemas["Coupon-Output"]["properties"]["days"] == {
        "type": "integer",
        "title": "Days",
        "readOnly": True,
    }
    assert "days" not in schemas["Coupon-Input"]["properties"]


# -- error_kinds.py: ValueError against PydanticCustomError ------------------------------

WINDOW = {"start": "2026-05-10", "end": "2026-05-07"}


async def test_value_error_gets_a_generic_type_a_prefix_and_an_empty_ctx():
    app = snippet("error_kinds.py").app
    status, body = await request(app, "POST", "/value-error", json=WINDOW)
    assert status == 422
    assert body == {
        "detail": [
            {
                "type": "value_error",
                "loc": ["body"],
                "msg": "Value error, end must not be before start",
                "input": WINDOW,
                "ctx": {"error": {}},
            }
        ]
    }


async def test_custom_error_sets_type_message_and_ctx():
    app = snippet("error_kinds.py").app
    status, body = await request(app, "POST", "/custom-error", json=WINDOW)
    assert status == 422
    assert body == {
        "detail": [
            {
                "type": "window_order",
                "loc": ["body"],
                "msg": "end must not be before start by 3 days",
                "input": WINDOW,
                "ctx": {"days": 3},
            }
        ]
    }


# -- event_search.py: a query-parameter model --------------------------------------------


async def test_event_filters_fill_defaults():
    app = snippet("event_search.py").app
    status, body = await request(app, "GET", "/events?city=Lyon&kind=talk&page=2")
    assert status == 200
    assert body == {"city": "Lyon", "kind": "talk", "free": False, "page": 2, "size": 20}


async def test_event_filters_refuse_a_misspelled_parameter():
    app = snippet("event_search.py").app
    status, body = await request(app, "GET", "/events?city=Lyon&sizes=10")
    assert status == 422
    assert body == {
        "detail": [
            {
                "type": "extra_forbidden",
                "loc": ["query", "sizes"],
                "msg": "Extra inputs are not permitted",
                "input": "10",
            }
        ]
    }


async def test_event_filters_enforce_bounds():
    app = snippet("event_search.py").app
    status, body = await request(app, "GET", "/events?size=500")
    assert status == 422
    assert [(e["type"], e["loc"], e["ctx"]) for e in body["detail"]] == [
        ("less_than_equal", ["query", "size"], {"le": 100})
    ]


def test_event_filters_are_documented_one_query_parameter_each():
    operation = snippet("event_search.py").app.openapi()["paths"]["/events"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert list(parameters) == ["city", "kind", "free", "page", "size"]
    assert {p["in"] for p in parameters.values()} == {"query"}
    assert parameters["size"]["schema"] == {
        "type": "integer",
        "maximum": 100,
        "minimum": 1,
        "default": 20,
        "title": "Size",
    }


# -- carrier_scans.py: aliases, strict fields and a header model -------------------------

CARRIER = {"X-Carrier-Id": "ups"}


async def test_scan_speaks_camel_case_both_ways():
    app = snippet("carrier_scans.py").app
    scan = {"trackingNumber": "1Z999", "weightGrams": 1200, "scannedOn": "2026-05-04"}
    status, body = await request(app, "POST", "/scans", json=scan, headers=CARRIER)
    assert status == 201
    assert body == {**scan, "carrierId": "ups"}


async def test_scan_accepts_the_legacy_key_and_keeps_weight_strict():
    app = snippet("carrier_scans.py").app
    scan = {"tracking_no": "1Z999", "weightGrams": "1200", "scannedOn": "2026-05-04"}
    status, body = await request(app, "POST", "/scans", json=scan, headers=CARRIER)
    assert status == 422
    assert body == {
        "detail": [
            {
                "type": "int_type",
                "loc": ["body", "weightGrams"],
                "msg": "Input should be a valid integer",
                "input": "1200",
            }
        ]
    }


async def test_scan_needs_the_carrier_header():
    app = snippet("carrier_scans.py").app
    scan = {"trackingNumber": "1Z999", "weightGrams": 1200, "scannedOn": "2026-05-04"}
    status, body = await request(app, "POST", "/scans", json=scan)
    assert status == 422
    assert [(e["type"], e["loc"]) for e in body["detail"]] == [
        ("missing", ["header", "x-carrier-id"])
    ]


# -- legacy_v1.py and migrated_v2.py: the migration --------------------------------------


@dataclass
class ArticleRow:
    title: str
    subtitle: str | None = None
    tags: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def legacy() -> tuple[Any, list[warnings.WarningMessage]]:
    """The v1 snippet, imported once, with the warnings its import emitted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = snippet("legacy_v1.py")
    return module, caught


def test_legacy_v1_imports_with_deprecation_warnings(legacy):
    _, caught = legacy
    messages = " ".join(str(w.message) for w in caught)
    assert {w.category for w in caught} >= {PydanticDeprecatedSince20, UserWarning}
    for text in ("@validator", "@root_validator", "class-based `config`", "'orm_mode'"):
        assert text in messages


def test_legacy_v1_quietly_changed_meaning_under_v2(legacy):
    article = legacy[0].Article
    with pytest.raises(ValidationError) as caught:
        article(title="Dune")  # v1: subtitle defaulted to None; v2: it is required
    assert [e["type"] for e in caught.value.errors()] == ["missing"]
    assert article(title="  Dune  ", subtitle=None).title == "  Dune  "  # no stripping
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PydanticDeprecatedSince20)
        with pytest.raises(PydanticUserError, match="from_attributes"):
            article.from_orm(ArticleRow("Dune"))  # orm_mode is ignored


def test_migrated_v2_keeps_the_v1_contract_without_warnings():
    article = snippet("migrated_v2.py").Article
    stored = article.model_validate(ArticleRow("  Dune  ", tags=["SciFi"]))
    assert stored.model_dump() == {"title": "Dune", "subtitle": None, "tags": ["scifi"]}
    with pytest.raises(ValidationError, match="the subtitle repeats the title"):
        article(title="Dune", subtitle="Dune")
