"""Log a user in without telling an attacker which usernames exist, and upgrade old hashes."""

from dataclasses import dataclass

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

# new hashes are Argon2; bcrypt hashes from the old system still verify, and get upgraded
password_hash = PasswordHash((Argon2Hasher(), BcryptHasher()))
DUMMY_HASH = password_hash.hash("not anybody's password")


@dataclass
class User:
    username: str
    hashed_password: str


def authenticate(users: dict[str, User], username: str, password: str) -> User | None:
    user = users.get(username)
    if user is None:
        # an unknown name costs one verification, exactly what a known name costs
        password_hash.verify(password, DUMMY_HASH)
        return None
    valid, updated = password_hash.verify_and_update(password, user.hashed_password)
    if not valid or not password:
        return None
    if updated is not None:
        user.hashed_password = updated
    return user
