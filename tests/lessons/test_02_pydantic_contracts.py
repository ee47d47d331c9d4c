"""Every snippet of lessons/02-pydantic-contracts.md runs and does what the page says."""

import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, PydanticUserError, TypeAdapter, ValidationError
from pydantic.warnings import (
    PydanticDeprecatedSince20,
    PydanticDeprecatedSince26,
    PydanticDeprecatedSince211,
    PydanticDeprecatedSince214,
    PydanticDeprecationWarning,
)
from pydantic_core import PydanticCustomError, SchemaError

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
    assert "pattern" in schemas["Sms-Input"]["properties"]["phone"]
    assert "pattern" not in schemas["Sms-Output"]["properties"]["phone"]


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


# -- signup.py: errors about the body as a whole ------------------------------------------

SIGNUP_TEXT = '{"email": "a@b.c", "age": 30}'


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"content": b'{"email": ', "headers": {"Content-Type": "application/json"}},
            {
                "type": "json_invalid",
                "loc": ["body", 10],
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": "Expecting value"},
            },
        ),
        (
            {"content": SIGNUP_TEXT.encode(), "headers": {"Content-Type": "text/plain"}},
            {
                "type": "model_attributes_type",
                "loc": ["body"],
                "msg": "Input should be a valid dictionary or object to extract fields from",
                "input": SIGNUP_TEXT,
            },
        ),
        (
            {"content": SIGNUP_TEXT.encode()},
            {
                "type": "model_attributes_type",
                "loc": ["body"],
                "msg": "Input should be a valid dictionary or object to extract fields from",
                "input": SIGNUP_TEXT,
            },
        ),
        ({}, {"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}),
    ],
    ids=["broken-json", "text-plain", "no-content-type", "no-body"],
)
async def test_signup_body_level_errors(kwargs, expected):
    app = snippet("signup.py").app
    status, body = await request(app, "POST", "/signups", **kwargs)
    assert status == 422
    assert body == {"detail": [expected]}


# -- leaky_errors.py: what a 422 echoes -----------------------------------------------------


async def test_a_short_password_is_echoed():
    app = snippet("leaky_errors.py").app
    status, body = await request(
        app, "POST", "/login", json={"username": "ada", "password": "hunter2"}
    )
    assert status == 422
    assert [(e["loc"], e["input"]) for e in body["detail"]] == [(["body", "password"], "hunter2")]


async def test_a_missing_field_echoes_the_object_around_it():
    app = snippet("leaky_errors.py").app
    sent = {"password": "correct-horse-battery"}
    status, body = await request(app, "POST", "/login", json=sent)
    assert status == 422
    assert [(e["loc"], e["input"]) for e in body["detail"]] == [(["body", "username"], sent)]


async def test_a_header_model_error_echoes_every_header():
    app = snippet("leaky_errors.py").app
    headers = {"Authorization": "Bearer s3cr3t", "Cookie": "session=abc"}
    status, body = await request(app, "GET", "/me", headers=headers)
    assert status == 422
    [error] = body["detail"]
    assert error["loc"] == ["header", "x-client-id"]
    assert error["input"]["authorization"] == "Bearer s3cr3t"
    assert error["input"]["cookie"] == "session=abc"
    assert {"host", "user-agent"} <= set(error["input"])


# -- validator_order.py: who runs when -------------------------------------------------------


def test_validators_run_in_this_order():
    module = snippet("validator_order.py")
    module.trace.clear()
    module.Order(sku="A-1")
    assert module.trace == [
        "model wrap, before handler",
        "model before",
        "decorator before",
        "Annotated before #2",
        "Annotated before #1",
        "Annotated after #1",
        "Annotated after #2",
        "decorator after",
        "model wrap, after handler",
        "model after",
    ]


def test_a_failed_field_stops_before_after_validators_and_the_model_after():
    module = snippet("validator_order.py")
    module.trace.clear()
    with pytest.raises(ValidationError):
        module.Order(sku=7)
    assert module.trace == [
        "model wrap, before handler",
        "model before",
        "decorator before",
        "Annotated before #2",
        "Annotated before #1",
    ]


# -- error_kinds.py: a PydanticCustomError is a ValueError too -----------------------------


def test_a_value_errors_ctx_holds_the_exception_that_json_cannot_encode():
    with pytest.raises(ValidationError) as caught:
        snippet("error_kinds.py").WithValueError.model_validate(WINDOW)
    errors = caught.value.errors()
    assert isinstance(errors[0]["ctx"]["error"], ValueError)
    with pytest.raises(TypeError):
        JSONResponse(content={"detail": errors})
    assert jsonable_encoder(errors)[0]["ctx"] == {"error": {}}


def test_pydantic_custom_error_is_a_value_error_with_its_own_type():
    window = snippet("error_kinds.py").WithCustomError
    assert issubclass(PydanticCustomError, ValueError)
    with pytest.raises(ValidationError) as caught:
        window.model_validate(WINDOW)
    assert [e["type"] for e in caught.value.errors()] == ["window_order"]


# -- notifications.py: the mask applies to JSON only ---------------------------------------


def test_the_phone_mask_applies_to_json_dumps_only():
    message = snippet("notifications.py").Message(text="hi", to=SMS)
    assert message.model_dump()["to"]["phone"] == "+447700900123"
    assert message.model_dump(mode="json")["to"]["phone"] == "+44********23"
    assert '"+44********23"' in message.model_dump_json()


# -- by_name.py: validate_by_name widens the wire contract ----------------------------------


async def test_validate_by_name_lets_clients_send_snake_case():
    app = snippet("by_name.py").app
    status, body = await request(app, "POST", "/open-parcels", json={"weight_grams": 1200})
    assert (status, body) == (200, {"weightGrams": 1200})


async def test_without_validate_by_name_the_wire_is_camel_case_only():
    module = snippet("by_name.py")
    status, body = await request(module.app, "POST", "/parcels", json={"weight_grams": 1200})
    assert status == 422
    assert [(e["type"], e["loc"]) for e in body["detail"]] == [("missing", ["body", "weightGrams"])]
    assert module.parcel_from_row({"weight_grams": 1200}).weight_grams == 1200
    with pytest.raises(ValidationError):
        module.Parcel(weight_grams=1200)  # the constructor reads aliases only


# -- deprecations.py: one warning class for every deprecation ------------------------------


def test_the_since20_filter_misses_later_deprecations():
    module = snippet("deprecations.py")
    tag = module.Tag(name="news")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.filterwarnings("error", category=PydanticDeprecatedSince20)
        with pytest.raises(PydanticDeprecatedSince20):
            module.as_dict(tag)
        assert module.field_names(tag) == ["name"]  # PydanticDeprecatedSince211 passes
    for later in (
        PydanticDeprecatedSince26,
        PydanticDeprecatedSince211,
        PydanticDeprecatedSince214,
    ):
        assert issubclass(later, PydanticDeprecationWarning)
        assert not issubclass(later, PydanticDeprecatedSince20)


def test_pydantic_deprecation_warning_catches_them_all():
    module = snippet("deprecations.py")
    tag = module.Tag(name="news")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", category=PydanticDeprecationWarning)
        with pytest.raises(PydanticDeprecatedSince20):
            module.as_dict(tag)
        with pytest.raises(PydanticDeprecatedSince211):
            module.field_names(tag)


CALLS_FIELD_NAMES = f"""
import runpy

def test_field_names():
    module = runpy.run_path({str(SNIPPETS / "deprecations.py")!r})
    module["field_names"](module["Tag"](name="news"))
"""


@pytest.mark.parametrize(
    ("category", "returncode"),
    [("PydanticDeprecationWarning", 1), ("PydanticDeprecatedSince20", 0)],
)
def test_pytest_w_option_with_each_class(tmp_path, category, returncode):
    (tmp_path / "test_tag.py").write_text(CALLS_FIELD_NAMES)
    option = f"error::pydantic.warnings.{category}"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", option]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == returncode, done.stdout


def test_pyproject_filterwarnings_takes_the_same_string(tmp_path):
    (tmp_path / "test_tag.py").write_text(CALLS_FIELD_NAMES)
    (tmp_path / "pyproject.toml").write_text(
        "[tool.pytest.ini_options]\n"
        'filterwarnings = ["error::pydantic.warnings.PydanticDeprecationWarning"]\n'
    )
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1, done.stdout
    assert "PydanticDeprecatedSince211" in done.stdout


def test_python_w_option_cannot_name_a_pydantic_class():
    option = "error::pydantic.warnings.PydanticDeprecationWarning"
    done = subprocess.run(
        [sys.executable, "-W", option, "-c", "pass"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert "Invalid -W option ignored: invalid module name: 'pydantic.warnings'" in done.stderr


# -- unique_tags.py: what replaces unique_items -----------------------------------------------


def test_unique_items_is_refused_at_import():
    with pytest.raises(PydanticUserError, match="`unique_items` is removed"):
        TypeAdapter(Annotated[list[str], Field(unique_items=True)])


def test_a_checked_list_keeps_order_and_refuses_repeats():
    post = snippet("unique_tags.py").Post
    assert post(tags=["zebra", "apple"]).tags == ["zebra", "apple"]
    with pytest.raises(ValidationError) as caught:
        post(tags=["zebra", "zebra"])
    assert [e["type"] for e in caught.value.errors()] == ["unique_items"]


def test_a_set_drops_repeats_silently():
    post = snippet("unique_tags.py").PostWithSet
    assert post(tags=["zebra", "apple", "zebra"]).tags == {"zebra", "apple"}


# -- legacy_v1.py and v2_changes.py: what changed without a word ----------------------------


def test_legacy_v1_allow_mutation_is_dropped(legacy):
    module, caught = legacy
    assert any("'allow_mutation' has been removed" in str(w.message) for w in caught)
    article = module.Article(title="Dune", subtitle=None)
    article.title = "Dune Messiah"  # v1 raised TypeError here
    assert article.title == "Dune Messiah"


def test_v2_no_longer_turns_numbers_into_strings_or_truncates_floats():
    reading = snippet("v2_changes.py").Reading
    with pytest.raises(ValidationError) as caught:
        reading(sensor=7, count=2.5, value=1)
    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [
        (("sensor",), "string_type"),
        (("count",), "int_from_float"),
    ]
    assert reading(sensor="s", count=2.0, value=1).count == 2


def test_v2_coerces_numbers_to_strings_only_when_asked():
    lenient = TypeAdapter(Annotated[str, Field(coerce_numbers_to_str=True)])
    assert lenient.validate_python(7) == "7"


def test_v2_unions_prefer_the_exact_type():
    reading = snippet("v2_changes.py").Reading
    assert reading(sensor="s", count=1, value="1").value == "1"  # v1 gave the int 1
    assert reading(sensor="s", count=1, value=1).value == 1
    first_match = TypeAdapter(Annotated[int | str, Field(union_mode="left_to_right")])
    assert first_match.validate_python("1") == 1


def test_v2_frozen_replaces_allow_mutation():
    class Frozen(BaseModel):
        model_config = ConfigDict(frozen=True)

        title: str

    article = Frozen(title="Dune")
    with pytest.raises(ValidationError) as caught:
        article.title = "Dune Messiah"
    assert [e["type"] for e in caught.value.errors()] == ["frozen_instance"]


async def test_v2_dumps_a_subclass_as_the_declared_class():
    module = snippet("v2_changes.py")
    kennel = module.Kennel(resident=module.Dog(name="Rex", barks=True))
    assert isinstance(kennel.resident, module.Dog)
    assert kennel.model_dump() == {"resident": {"name": "Rex"}}
    assert kennel.model_dump(serialize_as_any=True) == {"resident": {"name": "Rex", "barks": True}}
    status, body = await request(module.app, "GET", "/kennel")
    assert (status, body) == (200, {"resident": {"name": "Rex"}})


def test_the_rust_regex_engine_refuses_look_ahead_at_import():
    pattern = snippet("v2_changes.py").Voucher.model_fields["code"].metadata[0].pattern
    with pytest.raises(SchemaError, match="look-around"):
        TypeAdapter(Annotated[str, Field(pattern=pattern)])


def test_the_python_engine_accepts_look_ahead():
    voucher = snippet("v2_changes.py").Voucher
    assert voucher(code="abcdefg1").code == "abcdefg1"
    with pytest.raises(ValidationError) as caught:
        voucher(code="abcdefgh")
    assert [e["type"] for e in caught.value.errors()] == ["string_pattern_mismatch"]


# -- invoices.py: money, time zones, lax booleans and PATCH ---------------------------------

INVOICE = {"amount": "120.50", "due_at": "2026-06-01T12:00:00Z"}


async def put(app: Any, invoice_id: int, invoice: Any) -> tuple[int, Any]:
    return await request(app, "PUT", f"/invoices/{invoice_id}", json=invoice)


async def test_decimal_money_is_exact_and_comes_back_as_a_string():
    app = snippet("invoices.py").app
    status, body = await put(app, 1, {**INVOICE, "amount": 19.99})
    assert status == 200
    assert body["amount"] == "19.99"
    status, body = await put(app, 2, {**INVOICE, "amount": "19.999"})
    assert status == 422
    assert [(e["type"], e["ctx"]) for e in body["detail"]] == [
        ("decimal_max_places", {"decimal_places": 2})
    ]


async def test_aware_datetime_refuses_a_naive_time_and_keeps_the_offset():
    app = snippet("invoices.py").app
    status, body = await put(app, 3, {**INVOICE, "due_at": "2026-06-01T12:00:00"})
    assert status == 422
    assert [(e["type"], e["loc"]) for e in body["detail"]] == [
        ("timezone_aware", ["body", "due_at"])
    ]
    status, body = await put(app, 4, {**INVOICE, "due_at": "2026-06-01T12:00:00+02:00"})
    assert (status, body["due_at"]) == (200, "2026-06-01T12:00:00+02:00")
    status, body = await put(app, 5, INVOICE)
    assert (status, body["due_at"]) == (200, "2026-06-01T12:00:00Z")


def test_a_plain_datetime_accepts_naive_and_aware_alike():
    naive, aware = TypeAdapter(list[datetime]).validate_python(
        ["2026-06-01T12:00:00", "2026-06-01T12:00:00Z"]
    )
    assert naive.tzinfo is None
    assert aware.tzinfo is not None
    with pytest.raises(TypeError):
        assert naive < aware


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("yes", True),
        ("on", True),
        ("1", True),
        ("TRUE", True),
        (1, True),
        ("off", False),
        ("No", False),
        ("false", False),
        (0, False),
    ],
)
async def test_a_lax_bool_converts_words_and_numbers(sent, stored):
    app = snippet("invoices.py").app
    status, body = await put(app, 6, {**INVOICE, "reminders": sent})
    assert (status, body["reminders"]) == (200, stored)


@pytest.mark.parametrize("sent", [2, "2", "maybe", ""])
async def test_a_lax_bool_refuses_anything_else(sent):
    app = snippet("invoices.py").app
    status, body = await put(app, 7, {**INVOICE, "reminders": sent})
    assert status == 422
    assert [e["type"] for e in body["detail"]] == ["bool_parsing"]


async def test_patch_changes_only_the_keys_sent():
    app = snippet("invoices.py").app
    await put(app, 8, {**INVOICE, "note": "first reminder sent"})
    status, body = await request(app, "PATCH", "/invoices/8", json={"paid_on": "2026-06-03"})
    assert status == 200
    assert (body["paid_on"], body["note"]) == ("2026-06-03", "first reminder sent")
    status, body = await request(app, "PATCH", "/invoices/8", json={"note": None})
    assert (body["paid_on"], body["note"]) == ("2026-06-03", None)
    status, body = await request(app, "PATCH", "/invoices/8", json={})
    assert body == {
        "amount": "120.50",
        "due_at": "2026-06-01T12:00:00Z",
        "reminders": True,
        "paid_on": "2026-06-03",
        "note": None,
    }


def test_model_copy_does_not_validate_the_update():
    invoice = snippet("invoices.py").Invoice.model_validate(INVOICE)
    assert invoice.model_copy(update={"paid_on": "soon"}).paid_on == "soon"


def test_exclude_none_would_lose_an_explicit_null():
    patch = snippet("invoices.py").InvoicePatch.model_validate({"note": None})
    assert patch.model_dump(exclude_unset=True) == {"note": None}
    assert patch.model_dump(exclude_none=True) == {}
