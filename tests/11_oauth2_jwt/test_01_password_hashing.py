"""Hidden suite for 11_oauth2_jwt/01_password_hashing: logins that give nothing away.

The cost of a login is proved by counting, never by timing: each check replaces the module's
`password_hash` with a `PasswordHash` of cheap hashers (Argon2 first, then bcrypt) that log
every hash and verification they are asked to make. The users of a check are made here, with
those cheap hashers; only the two checks of the module's own configuration pay Argon2's
default cost.
"""

from types import ModuleType
from typing import Any

import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from workbook.testing import expect, expect_equal

PASSWORD = "correct horse battery staple"
CURRENT = Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1)
WEAKER = Argon2Hasher(time_cost=1, memory_cost=512, parallelism=1)
LEGACY = BcryptHasher(rounds=4)
ONE_VERIFY = [("verify", "argon2")]

NOT_ARGON2 = (
    "Is Argon2 the first hasher of password_hash? PasswordHash hashes with its first hasher "
    "and only verifies with the others."
)
NO_BCRYPT = "Does password_hash still list a BcryptHasher, so that old hashes verify?"
EARLY_RETURN = (
    "Does authenticate return at once for an unknown username? Verify the password against "
    "a dummy hash first: the attempt must cost what a known username costs."
)
DUMMY_PER_CALL = (
    "Is the dummy hash made inside authenticate? Make it once, at import, and only verify "
    "against it: hashing on every unknown name costs differently, and shows."
)
DUMMY_NOT_CURRENT = (
    "Is the dummy hash made by the current hasher (password_hash.hash)? A bcrypt dummy "
    "costs bcrypt's time, not Argon2's."
)
NOT_UPGRADED = (
    "Does a successful login upgrade an old hash? password_hash.verify_and_update tells you "
    "whether the hash is valid, and gives a new hash when it should be replaced."
)
EMPTY_ACCEPTED = (
    "Does authenticate refuse an empty password even when it verifies? An old account may "
    "hold the hash of an empty string."
)
EMPTY = (
    "Is the empty password refused after the verification? Refused before it, the attempt "
    "costs nothing, unlike any other."
)


class Counted:
    """A hasher that logs what it is asked to do, under a short name."""

    def __init__(self, name: str, inner: Any, log: list[tuple[str, str]]) -> None:
        self.name, self.inner, self.log = name, inner, log

    def identify(self, hash: str | bytes) -> bool:
        return bool(self.inner.identify(hash))

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.log.append(("hash", self.name))
        return str(self.inner.hash(password, salt=salt))

    def verify(self, password: str | bytes, hash: str | bytes) -> bool:
        self.log.append(("verify", self.name))
        return bool(self.inner.verify(password, hash))

    def check_needs_rehash(self, hash: str | bytes) -> bool:
        return bool(self.inner.check_needs_rehash(hash))


@pytest.fixture
def log(exercise: ModuleType, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """What the module's password_hash is asked to do during one check."""
    entries: list[tuple[str, str]] = []
    hashers = (Counted("argon2", CURRENT, entries), Counted("bcrypt", LEGACY, entries))
    monkeypatch.setattr(exercise, "password_hash", PasswordHash(hashers))
    return entries


def store(exercise: ModuleType, **hashes: str) -> dict[str, Any]:
    return {name: exercise.User(name, hashed) for name, hashed in hashes.items()}


def test_new_hashes_are_argon2(exercise: ModuleType) -> None:
    """new passwords are hashed with argon2"""
    hashed = exercise.password_hash.hash(PASSWORD)
    expect(
        hashed.startswith("$argon2id$"),
        f"expected a hash starting with $argon2id$, not {hashed[:7]!r}",
        help=NOT_ARGON2,
    )


@pytest.mark.stub_may_pass("the old system already verifies bcrypt hashes")
def test_bcrypt_hashes_still_verify(exercise: ModuleType) -> None:
    """a bcrypt hash from the old system still verifies"""
    legacy = LEGACY.hash(PASSWORD)
    expect_equal("verify(right password)", True, exercise.password_hash.verify(PASSWORD, legacy))
    expect_equal("verify(wrong password)", False, exercise.password_hash.verify("x", legacy))


@pytest.mark.stub_may_pass("the old login already accepts a right password")
def test_right_password_returns_the_user(exercise: ModuleType, log: list[Any]) -> None:
    """the right password returns the stored user"""
    users = store(exercise, ada=CURRENT.hash(PASSWORD))
    user = exercise.authenticate(users, "ada", PASSWORD)
    expect(user is users["ada"], f"expected the stored User of ada, not {user!r}")
    expect_equal("hashes and verifications", ONE_VERIFY, log)


@pytest.mark.stub_may_pass("the old login already refuses a wrong password")
def test_wrong_password_returns_none(exercise: ModuleType, log: list[Any]) -> None:
    """a wrong password returns None after one verification"""
    users = store(exercise, ada=CURRENT.hash(PASSWORD))
    expect_equal("authenticate(wrong password)", None, exercise.authenticate(users, "ada", "x"))
    expect_equal("hashes and verifications", ONE_VERIFY, log)


@pytest.mark.parametrize("password", [PASSWORD, ""], ids=["a password", "empty"])
def test_unknown_user_costs_one_verification(
    exercise: ModuleType, log: list[Any], password: str
) -> None:
    """an unknown username costs one argon2 verification, like a known one"""
    users = store(exercise, ada=CURRENT.hash(PASSWORD))
    expect_equal("authenticate(unknown user)", None, exercise.authenticate(users, "bob", password))
    help = EARLY_RETURN
    if ("hash", "argon2") in log:
        help = DUMMY_PER_CALL
    elif ("verify", "bcrypt") in log:
        help = DUMMY_NOT_CURRENT
    expect_equal("hashes and verifications", ONE_VERIFY, log, help=help)


def test_enumeration_probe(exercise: ModuleType, log: list[Any]) -> None:
    """an unknown name and a wrong password cost the same"""
    users = store(exercise, ada=CURRENT.hash(PASSWORD))
    exercise.authenticate(users, "ada", "guess")
    known = list(log)
    log.clear()
    exercise.authenticate(users, "nobody", "guess")
    expect_equal(
        "hashes and verifications for an unknown name (those of a wrong password)",
        known,
        log,
        help=EARLY_RETURN,
    )


@pytest.mark.parametrize("old", [LEGACY, WEAKER], ids=["bcrypt", "argon2 with weaker parameters"])
def test_old_hash_upgraded_on_login(exercise: ModuleType, log: list[Any], old: Any) -> None:
    """a successful login replaces an old hash with a current argon2 one"""
    users = store(exercise, ada=old.hash(PASSWORD))
    user = exercise.authenticate(users, "ada", PASSWORD)
    expect(user is users["ada"], f"expected the stored User of ada, not {user!r}")
    stored = users["ada"].hashed_password
    expect(
        CURRENT.identify(stored), f"expected an argon2 hash, not {stored[:7]!r}", help=NOT_UPGRADED
    )
    expect(
        not CURRENT.check_needs_rehash(stored),
        f"expected a hash with the current parameters, not {stored[:30]!r}",
        help=NOT_UPGRADED,
    )
    expect_equal("new hash verifies the password", True, CURRENT.verify(PASSWORD, stored))
    verified_by = "bcrypt" if old is LEGACY else "argon2"
    expect_equal("hashes and verifications", [("verify", verified_by), ("hash", "argon2")], log)


@pytest.mark.stub_may_pass("the old login never changes a hash")
@pytest.mark.parametrize("old", [LEGACY, WEAKER], ids=["bcrypt", "weaker argon2"])
def test_failed_login_keeps_old_hash(exercise: ModuleType, log: list[Any], old: Any) -> None:
    """a failed login leaves the old hash as it is"""
    legacy = old.hash(PASSWORD)
    users = store(exercise, ada=legacy)
    expect_equal("authenticate(wrong password)", None, exercise.authenticate(users, "ada", "x"))
    expect_equal("stored hash", legacy, users["ada"].hashed_password)
    expect_equal("hashes made", 0, log.count(("hash", "argon2")))


@pytest.mark.stub_may_pass("the old login never changes a hash")
def test_current_hash_kept(exercise: ModuleType, log: list[Any]) -> None:
    """a current argon2 hash is not re-hashed"""
    current = CURRENT.hash(PASSWORD)
    users = store(exercise, ada=current)
    exercise.authenticate(users, "ada", PASSWORD)
    expect_equal("stored hash", current, users["ada"].hashed_password)
    expect_equal("hashes and verifications", ONE_VERIFY, log)


def test_empty_password_refused(exercise: ModuleType, log: list[Any]) -> None:
    """an empty password is refused, even against a hash of the empty string"""
    users = store(exercise, ada=CURRENT.hash(""))
    user = exercise.authenticate(users, "ada", "")
    expect_equal("authenticate(empty password)", None, user, help=EMPTY_ACCEPTED)
    expect_equal("hashes and verifications", ONE_VERIFY, log, help=EMPTY)
