"""Hidden suite for 02_pydantic_contracts/04_migrate_v1: v1 behaviour kept, v1 APIs gone."""

import ast
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic.warnings import PydanticDeprecationWarning

from workbook.testing import (
    Failure,
    client_for,
    expect_equal,
    expect_json,
    expect_status,
    response_json,
)

# behaviour checks run the learner's code as it is; the deprecation checks record warnings
pytestmark = pytest.mark.filterwarnings(
    "ignore::pydantic.warnings.PydanticDeprecationWarning",
    "ignore:Valid config keys have changed in V2:UserWarning",
)

RENAMED_KEYS = "Valid config keys have changed in V2"
ADA = {
    "username": "ada",
    "password": "correcthorse",
    "password_confirm": "correcthorse",
    "nickname": "countess",
    "tags": ["Math", "Poetry"],
}
ADA_OUT = {"id": 1, "username": "ada", "nickname": "countess", "tags": ["math", "poetry"]}

OPTIONAL_REQUIRED = (
    "Does nickname have a default? In v2 an `Optional[...]` or `... | None` annotation only "
    "allows null: without a default the field must still be sent."
)
NOT_STRIPPED = (
    "Is stripping configured under its v2 key name? v2 only warns about a v1 key, then "
    "ignores it. And does the username check run after stripping, not before?"
)
LENGTH_AS_VALUE_ERROR = (
    "Is the username's length checked in the validator? Its bounds belong on the type "
    "(StringConstraints), which reports them with Pydantic's own string_too_short/long."
)
ASCII_ONLY = (
    "Does the username check accept only ASCII? Letters and digits of any script count, "
    "as `str.isalnum()` says."
)
COMPARED_RAW = (
    "Are the passwords compared before stripping, in a mode='before' validator? Compare "
    "the validated fields, in mode='after'."
)
RETURNS_NONE = (
    "Does the model validator end with `return self`? In after mode, what it returns "
    "replaces the model."
)


@pytest.fixture(scope="module", autouse=True)
def import_warnings(request: pytest.FixtureRequest) -> list[warnings.WarningMessage]:
    """The warnings the module under test emits while it is imported, here, before any test."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        request.getfixturevalue("exercise")
    return caught


def deprecations(caught: list[warnings.WarningMessage], source: Path) -> list[str]:
    """Pydantic's deprecation warnings, each with the learner's line where it names one."""
    found = []
    for warning in caught:
        text = str(warning.message)
        if not issubclass(warning.category, PydanticDeprecationWarning) and not (
            issubclass(warning.category, UserWarning) and text.startswith(RENAMED_KEYS)
        ):
            continue
        text = " ".join(text.split(" Deprecated in Pydantic V2.0")[0].split())
        where = f"line {warning.lineno}: " if Path(warning.filename) == source else ""
        if where + text not in found:
            found.append(where + text)
    return found


def expect_no_deprecations(caught: list[warnings.WarningMessage], source: Path, when: str) -> None:
    found = deprecations(caught, source)
    if found:
        listed = "\n".join(f"- {text}" for text in found)
        raise Failure(f"expected no Pydantic deprecation warning {when}, not:\n{listed}")


def source_of(module: Any) -> Path:
    return Path(module.__file__).resolve()


async def post(client: Any, body: Any) -> Any:
    try:
        return await client.post("/users", json=body)
    except AttributeError as exc:
        if "'NoneType'" not in str(exc):
            raise
        message = "expected the route to receive the validated user, not None"
        raise Failure(message, help=RETURNS_NONE) from None


async def create(app: Any, body: Any) -> Any:
    async with client_for(app) as client:
        return await post(client, body)


def error_locs(response: Any) -> list[Any]:
    body = response_json(response)
    errors = body.get("detail") if isinstance(body, dict) else None
    return [error.get("loc") for error in errors or [] if isinstance(error, dict)]


async def test_user_is_created(exercise):
    """a user is created: 201 with id, username, nickname and tags, never the password"""
    response = await create(exercise.app, ADA)
    expect_status(response, 201)
    expect_json(response, ADA_OUT)


async def test_nickname_is_optional(exercise):
    """nickname may be left out, and is then null"""
    body = {key: value for key, value in ADA.items() if key not in ("nickname", "tags")}
    response = await create(exercise.app, body)
    missing = ["body", "nickname"] in error_locs(response)
    expect_status(response, 201, help=OPTIONAL_REQUIRED if missing else None)
    expect_json(response, {"id": 1, "username": "ada", "nickname": None, "tags": []})


async def test_whitespace_is_stripped(exercise):
    """surrounding whitespace is stripped from every string before validation"""
    body = {**ADA, "username": "  ada  ", "nickname": " countess ", "tags": ["  Math "]}
    response = await create(exercise.app, body)
    expect_status(response, 201, help=NOT_STRIPPED)
    expect_json(response, {**ADA_OUT, "tags": ["math"]}, help=NOT_STRIPPED)


async def test_tags_may_be_one_string(exercise):
    """tags may be one comma-separated string, split and lower-cased"""
    response = await create(exercise.app, {**ADA, "tags": "Math, Poetry"})
    expect_status(response, 201)
    expect_json(response, ADA_OUT)


async def test_user_can_be_read_back(exercise):
    """a created user can be read back by its id"""
    async with client_for(exercise.app) as client:
        expect_status(await post(client, ADA), 201)
        response = await client.get("/users/1")
    expect_status(response, 200)
    expect_json(response, ADA_OUT)


def value_error(loc: list[str], message: str, given: Any) -> dict[str, Any]:
    return {
        "type": "value_error",
        "loc": loc,
        "msg": f"Value error, {message}",
        "input": given,
        "ctx": {"error": {}},
    }


MISMATCH = {**ADA, "password_confirm": "correcthorsf"}


@pytest.mark.stub_may_pass("the v1 code already rejects this input: the migration must too")
@pytest.mark.parametrize(
    ("case", "body", "error"),
    [
        (
            "a username with a space",
            {**ADA, "username": "ada lovelace"},
            value_error(
                ["body", "username"],
                "username must contain only letters and digits",
                "ada lovelace",
            ),
        ),
        (
            "a password_confirm that differs",
            MISMATCH,
            value_error(["body"], "passwords do not match", MISMATCH),
        ),
        (
            "an undeclared field",
            {**ADA, "admin": True},
            {
                "type": "extra_forbidden",
                "loc": ["body", "admin"],
                "msg": "Extra inputs are not permitted",
                "input": True,
            },
        ),
    ],
    ids=["username", "passwords", "extra"],
)
async def test_invalid_input_keeps_its_422(exercise, case, body, error):
    """{case} still gets exactly the same 422 error"""
    response = await create(exercise.app, body)
    expect_status(response, 422)
    expect_json(response, {"detail": [error]})


def length_error(field: str, given: str, bound: str, limit: int) -> dict[str, Any]:
    least = bound == "min_length"
    return {
        "type": "string_too_short" if least else "string_too_long",
        "loc": ["body", field],
        "msg": f"String should have {'at least' if least else 'at most'} {limit} characters",
        "input": given,
        "ctx": {bound: limit},
    }


def without_input(errors: Any) -> Any:
    """The errors without `input`: Pydantic may show the value before or after stripping."""
    if not isinstance(errors, list):
        return errors
    return [
        {key: value for key, value in error.items() if key != "input"}
        if isinstance(error, dict)
        else error
        for error in errors
    ]


TWENTY = "abcdefghij0123456789"


@pytest.mark.stub_may_pass("the v1 code already keeps these usernames: the migration must too")
@pytest.mark.parametrize(
    ("username", "stored"),
    [
        ("ada", "ada"),
        (TWENTY, TWENTY),
        (f"  {TWENTY} ", TWENTY),
        ("José", "José"),
        ("Zoë2", "Zoë2"),
    ],
    ids=["3-chars", "20-chars", "20-after-stripping", "accented", "accented-digit"],
)
async def test_username_is_accepted(exercise, username, stored):
    """the username {username!r} is accepted and stored as {stored!r}"""
    response = await create(exercise.app, {**ADA, "username": username})
    refused = response.status_code == 422
    if refused and not username.isascii():
        help = ASCII_ONLY
    elif refused and username != stored:
        help = NOT_STRIPPED
    else:
        help = None
    expect_status(response, 201, help=help)
    expect_json(response, {**ADA_OUT, "username": stored})


@pytest.mark.stub_may_pass("the v1 code already checks the length: the migration must too")
@pytest.mark.parametrize(
    ("username", "error"),
    [
        ("ad", length_error("username", "ad", "min_length", 3)),
        (TWENTY + "x", length_error("username", TWENTY + "x", "max_length", 20)),
        ("a!", length_error("username", "a!", "min_length", 3)),
    ],
    ids=["2-chars", "21-chars", "short-and-not-alphanumeric"],
)
async def test_username_length_is_pydantics_error(exercise, username, error):
    """the username {username!r} gets only Pydantic's {error[type]} error"""
    response = await create(exercise.app, {**ADA, "username": username})
    expect_status(response, 422)
    body = response_json(response)
    errors = body.get("detail") if isinstance(body, dict) else None
    value_errors = [
        e for e in errors or [] if isinstance(e, dict) and e.get("type") == "value_error"
    ]
    expect_json(response, {"detail": [error]}, help=LENGTH_AS_VALUE_ERROR if value_errors else None)


async def test_username_length_counts_after_stripping(exercise):
    """a username that is 2 characters once stripped is too short"""
    response = await create(exercise.app, {**ADA, "username": "  ad  "})
    expect_status(response, 422)
    body = response_json(response)
    errors = body.get("detail") if isinstance(body, dict) else None
    expected = [length_error("username", "ad", "min_length", 3)]
    expect_equal("errors (input aside)", without_input(expected), without_input(errors))


@pytest.mark.stub_may_pass("the v1 code already rejects these usernames: the migration must too")
@pytest.mark.parametrize(
    "username", ["ada_l", "ada-1", "ada.l", "ada!"], ids=["underscore", "hyphen", "dot", "bang"]
)
async def test_username_other_characters_are_rejected(exercise, username):
    """the username {username!r} gets the value_error for letters and digits"""
    response = await create(exercise.app, {**ADA, "username": username})
    expect_status(response, 422)
    message = "username must contain only letters and digits"
    expect_json(response, {"detail": [value_error(["body", "username"], message, username)]})


@pytest.mark.stub_may_pass("the v1 code already checks the length: the migration must too")
@pytest.mark.parametrize(
    ("password", "status"),
    [("12345678", 201), ("1234567", 422)],
    ids=["8-chars", "7-chars"],
)
async def test_password_length(exercise, password, status):
    """a password of {password!r} gets {status}"""
    body = {**ADA, "password": password, "password_confirm": password}
    response = await create(exercise.app, body)
    expect_status(response, status)
    if status == 201:
        expect_json(response, ADA_OUT)
    else:
        expect_json(response, {"detail": [length_error("password", password, "min_length", 8)]})


async def test_password_length_counts_after_stripping(exercise):
    """a password that is 7 characters once stripped is too short"""
    body = {**ADA, "password": " 1234567 ", "password_confirm": " 1234567 "}
    response = await create(exercise.app, body)
    expect_status(response, 422, help=NOT_STRIPPED)
    body = response_json(response)
    errors = body.get("detail") if isinstance(body, dict) else None
    expected = [length_error("password", "1234567", "min_length", 8)]
    expect_equal("errors (input aside)", without_input(expected), without_input(errors))


async def test_passwords_compared_after_stripping(exercise):
    """passwords that differ only by surrounding whitespace match"""
    response = await create(exercise.app, {**ADA, "password_confirm": "  correcthorse "})
    mismatch = any(loc == ["body"] for loc in error_locs(response))
    expect_status(response, 201, help=COMPARED_RAW if mismatch else NOT_STRIPPED)
    expect_json(response, ADA_OUT)


@pytest.mark.stub_may_pass("the v1 code already skips the comparison: the migration must too")
@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            {**ADA, "password": "short", "password_confirm": "other"},
            length_error("password", "short", "min_length", 8),
        ),
        (
            {**ADA, "username": "ad", "password_confirm": "different"},
            length_error("username", "ad", "min_length", 3),
        ),
    ],
    ids=["short-password", "short-username"],
)
async def test_passwords_compared_only_when_fields_are_valid(exercise, body, error):
    """the passwords are compared only once every field is valid"""
    response = await create(exercise.app, body)
    expect_status(response, 422)
    expect_json(response, {"detail": [error]})


async def test_ids_count_up(exercise):
    """the second user gets id 2, and each can be read back"""
    second = {**ADA, "username": "grace", "nickname": None, "tags": "Navy"}
    async with client_for(exercise.app) as client:
        expect_status(await post(client, ADA), 201)
        created = await post(client, second)
        expect_status(created, 201)
        read = [await client.get(f"/users/{user_id}") for user_id in (1, 2)]
    grace = {"id": 2, "username": "grace", "nickname": None, "tags": ["navy"]}
    expect_json(created, grace)
    expect_status(read[0], 200)
    expect_json(read[0], ADA_OUT)
    expect_status(read[1], 200)
    expect_json(read[1], grace)


@pytest.mark.parametrize(
    "created",
    [
        pytest.param(0, marks=pytest.mark.stub_may_pass("the stub already answers 404 here")),
        1,
    ],
    ids=["empty-store", "after-one-user"],
)
async def test_unknown_user_is_404(exercise, created):
    """reading an id that no user has answers 404"""
    async with client_for(exercise.app) as client:
        for _ in range(created):
            expect_status(await post(client, ADA), 201)
        response = await client.get(f"/users/{created + 1}")
    expect_status(response, 404)


def test_import_emits_no_deprecation(exercise, import_warnings):
    """importing the module emits no Pydantic deprecation warning"""
    expect_no_deprecations(import_warnings, source_of(exercise), "while importing the module")


async def test_serving_emits_no_deprecation(exercise):
    """serving requests calls no deprecated Pydantic API"""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with client_for(exercise.app) as client:
            await post(client, ADA)
            await client.get("/users/1")
    expect_no_deprecations(caught, source_of(exercise), "while serving requests")


# -- the source, read as a syntax tree: every v1 API the stub uses, with its v2 replacement --


def called_name(node: ast.expr) -> str | None:
    """`validator` for `@validator(...)`, `@pydantic.validator(...)` or `x.validator`."""
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    return None


def decorators(name: str) -> Callable[[ast.Module], list[int]]:
    def find(tree: ast.Module) -> list[int]:
        return [
            decorator.lineno
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            for decorator in node.decorator_list
            if called_name(decorator) == name
        ]

    return find


def method_calls(name: str) -> Callable[[ast.Module], list[int]]:
    def find(tree: ast.Module) -> list[int]:
        return [
            node.lineno
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == name
        ]

    return find


def config_classes(tree: ast.Module) -> list[int]:
    return [
        inner.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        for inner in node.body
        if isinstance(inner, ast.ClassDef) and inner.name == "Config"
    ]


def extra_enum(tree: ast.Module) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if (isinstance(node, ast.Name) and node.id == "Extra")
        or (isinstance(node, ast.Attribute) and node.attr == "Extra")
    ]


V1_APIS = [
    (
        "@validator",
        "a @field_validator classmethod (pre=True becomes mode='before'; for each_item, "
        "give the list an item type that does the work)",
        decorators("validator"),
    ),
    (
        "@root_validator",
        "@model_validator(mode='after'), a method that checks self and returns it",
        decorators("root_validator"),
    ),
    (
        "class Config",
        "model_config = ConfigDict(...), with the v2 key names",
        config_classes,
    ),
    ("Extra", "a plain string such as extra='forbid'", extra_enum),
    (".dict()", ".model_dump()", method_calls("dict")),
    (
        ".from_orm()",
        ".model_validate() on a model whose config sets from_attributes=True",
        method_calls("from_orm"),
    ),
]


@pytest.mark.parametrize(
    ("api", "replacement", "find"),
    V1_APIS,
    ids=["validator", "root_validator", "config_class", "extra", "dict", "from_orm"],
)
def test_source_has_no_v1_api(exercise, api, replacement, find):
    """the source no longer uses {api}"""
    source = source_of(exercise)
    tree = ast.parse(source.read_text(encoding="utf-8"))
    lines = sorted(set(find(tree)))
    if lines:
        where = ", ".join(str(line) for line in lines)
        raise Failure(f"{api} is still used (line {where}): replace it with {replacement}")
