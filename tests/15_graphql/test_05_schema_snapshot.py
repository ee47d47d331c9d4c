"""Hidden checks for 15_graphql/05_schema_snapshot.

The learner writes two tests of a given Strawberry schema: `test_schema_matches_snapshot`,
which compares the schema's SDL with a snapshot pasted into the file and fails with a diff
on any change, and `test_no_breaking_changes`, which fails only on a change that breaks
clients of the published schema (PUBLISHED_SDL), naming each one.  The tests are graded as
in 09/05: the checks run them themselves, in a copy of the learner's file whose app under
test (the lines between the marker comments) is the reference's, where every test must
pass, or a bug-seeded one (a diff of the reference, in seeded/).  Against every seeded app
the snapshot test must fail and show the lines that changed.  Whether a seeded app breaks
clients is not kept in a list here: the checks ask graphql-core's find_breaking_changes,
between the reference's PUBLISHED_SDL and the seeded app's schema, so the same checks also
judge the mutants of the app under test that verify makes.
"""

import difflib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from graphql import build_schema, find_breaking_changes

from workbook import learner_tests
from workbook.learner_tests import Copies, Copy, Outcome
from workbook.testing import Failure, expect

SEEDED = sorted((Path(__file__).parent / "seeded").glob("*.diff"))
SNAPSHOT_TEST = "test_schema_matches_snapshot"
BREAKING_TEST = "test_no_breaking_changes"
SAFE = (  # seeded apps that break no client: the stub's breaking-change test passes there
    "adds_enum_value",
    "adds_optional_argument",
    "adds_optional_field",
    "drops_unpublished_field",
    "limit_accepts_null",
)
STUB_PASSES_SAFE = dict.fromkeys(SAFE, "the stub's breaking-change test passes, as it must here")
MESSAGE_EXCERPT = 600

MISSING_HELP = "Did you rename or remove it? The checks look for these two tests by name."
NOT_TRUSTED_HELP = (
    "Run your tests with pytest: against the app as given, both must pass before they can "
    "tell a change from no change."
)
SNAPSHOT_PASSED_HELP = (
    "Does SNAPSHOT hold the SDL as text, pasted into your file? A snapshot computed from "
    "`schema` when the file loads changes along with the schema, so it can never fail."
)
DIFF_HELP = (
    "The checks run your tests without pytest's assertion rewriting, so a bare `assert a == "
    "b` says nothing. Put a difflib.unified_diff of SNAPSHOT's lines and the schema's lines "
    "in the assertion's message, SNAPSHOT first, so that lost lines read - and new ones +."
)
SAFE_HELP = (
    "Does the test compare with SNAPSHOT, or count find_dangerous_changes too? Only what "
    "find_breaking_changes reports between PUBLISHED_SDL and the schema breaks a client: a "
    "new field, an optional argument, a new enum value, or the removal of a field that was "
    "never published are safe."
)
BREAKING_PASSED_HELP = (
    "Does the test compare the schema with PUBLISHED_SDL through find_breaking_changes "
    "(build_schema on both SDLs) and fail when the list it returns is not empty?"
)
NAMES_HELP = (
    "Put every change's `description` in the assertion's message, one per line, so that the "
    "failure says what broke."
)


@dataclass
class Graded:
    copies: Copies[None]
    correct: Outcome[None] | None = None


@pytest.fixture(scope="module")
def graded(
    exercise: ModuleType, reference: ModuleType, tmp_path_factory: pytest.TempPathFactory
) -> Graded:
    """The learner's tests, run in copies of their file."""
    return Graded(Copies(exercise, reference, tmp_path_factory.mktemp("copies")))


@pytest.fixture
async def correct(graded: Graded) -> Outcome[None]:
    """The learner's tests against the correct app."""
    if graded.correct is None:
        graded.correct = await graded.copies.outcome(graded.copies.of("correct"))
    return graded.correct


def named(graded: Graded) -> None:
    for name in (SNAPSHOT_TEST, BREAKING_TEST):
        expect(name in graded.copies.tests, f"expected a test named {name}", help=MISSING_HELP)


def trusted(graded: Graded, correct: Outcome[None], name: str) -> None:
    """The learner's test ``name`` exists and passes against the correct app."""
    named(graded)
    error = correct.errors[name]
    if error is not None:
        said = graded.copies.of("correct").describe(name, error)
        raise Failure(
            f"{name} fails against the correct app, so it cannot tell a change: {said}",
            help=NOT_TRUSTED_HELP,
        )


def excerpt(text: str) -> str:
    return text if len(text) <= MESSAGE_EXCERPT else text[:MESSAGE_EXCERPT] + " …"


def changed_lines(before: str, after: str) -> list[str]:
    """The lines of ``after`` that differ from ``before``, as `-old` and `+new`."""
    old, new = before.splitlines(), after.splitlines()
    changed = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new).get_opcodes():
        if tag != "equal":
            changed += [f"-{line}" for line in old[i1:i2] if line.strip()]
            changed += [f"+{line}" for line in new[j1:j2] if line.strip()]
    return changed


def shown(message: str, change: str) -> bool:
    """The message has the line ``change`` with its sign first; spaces after it do not matter."""
    sign, line = change[0], change[1:].strip()
    return any(said.startswith(sign) and said[1:].strip() == line for said in message.splitlines())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.function.__name__ == "test_breaking_changes_judged":
        learner_tests.parametrize_seeded(metafunc, SEEDED, stub_catches=STUB_PASSES_SAFE)
    else:
        learner_tests.parametrize_seeded(metafunc, SEEDED)


@pytest.mark.stub_may_pass("the stub has both tests, with bodies to complete")
def test_tests_are_named(graded: Graded) -> None:
    """you kept test_schema_matches_snapshot and test_no_breaking_changes, each an
    `async def test_…` taking fixtures of your file"""
    named(graded)


@pytest.mark.stub_may_pass("the stub's tests check nothing yet, so they pass on the correct app")
async def test_pass_on_correct_app(graded: Graded, correct: Outcome[None]) -> None:
    """your tests pass against the correct app"""
    copy = graded.copies.of("correct")
    learner_tests.expect_all_pass(graded.copies.tests, correct.errors, copy.describe)


def seeded_copy(graded: Graded, seeded: Path) -> Copy | None:
    """The copy with the seeded app, or None if it cannot load: then every test fails."""
    try:
        return graded.copies.seeded(seeded)
    except learner_tests.DoesNotLoad:
        return None


async def test_snapshot_catches(
    graded: Graded, correct: Outcome[None], seeded: Path, bug: str
) -> None:
    """test_schema_matches_snapshot fails against an app that {bug}, and its message shows
    the lines that changed"""
    trusted(graded, correct, SNAPSHOT_TEST)
    copy = seeded_copy(graded, seeded)
    if copy is None:
        return
    error = (await graded.copies.outcome(copy)).errors[SNAPSHOT_TEST]
    expect(
        error is not None,
        f"expected {SNAPSHOT_TEST} to fail against an app that {bug}, but it passed",
        help=SNAPSHOT_PASSED_HELP,
    )
    message = str(error)
    before = graded.copies.of("correct").module.schema.as_str()
    missing = [
        c for c in changed_lines(before, copy.module.schema.as_str()) if not shown(message, c)
    ]
    expect(
        not missing,
        f"expected the message of {SNAPSHOT_TEST} to show every line that changed, each "
        f"after - (the snapshot's) or + (the schema's), as a unified diff does; it lacks "
        f"{', '.join(repr(line) for line in missing)}. It said: {excerpt(message) or '(nothing)'}",
        help=DIFF_HELP,
    )


async def test_breaking_changes_judged(
    graded: Graded, correct: Outcome[None], reference: ModuleType, seeded: Path, bug: str
) -> None:
    """test_no_breaking_changes fails against an app that {bug} exactly when that breaks
    clients of PUBLISHED_SDL, and its message names each breaking change"""
    trusted(graded, correct, BREAKING_TEST)
    copy = seeded_copy(graded, seeded)
    if copy is None:
        return
    published = build_schema(reference.PUBLISHED_SDL)
    changes = find_breaking_changes(published, build_schema(copy.module.schema.as_str()))
    breaking = [change.description for change in changes]
    error = (await graded.copies.outcome(copy)).errors[BREAKING_TEST]
    if not breaking:
        if error is not None:
            raise Failure(
                f"expected {BREAKING_TEST} to pass against an app that {bug}: "
                "find_breaking_changes finds nothing there that breaks a client of "
                f"PUBLISHED_SDL, but {copy.describe(BREAKING_TEST, error)}",
                help=SAFE_HELP,
            )
        return
    expect(
        error is not None,
        f"expected {BREAKING_TEST} to fail against an app that {bug}, which breaks clients "
        f"({' '.join(breaking)}), but it passed",
        help=BREAKING_PASSED_HELP,
    )
    message = str(error)
    missing = [description for description in breaking if description not in message]
    expect(
        not missing,
        f"expected the message of {BREAKING_TEST} to name each breaking change as "
        f"find_breaking_changes describes it; it lacks {' '.join(missing)} It said: "
        f"{excerpt(message) or '(nothing)'}",
        help=NAMES_HELP,
    )
