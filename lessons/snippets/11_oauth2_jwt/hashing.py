from dataclasses import dataclass

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

# The first hasher hashes every new password; the others only verify old hashes.
password_hash = PasswordHash((Argon2Hasher(), BcryptHasher()))

# A real Argon2 hash of a password nobody has: unknown users are checked against it.
DUMMY_HASH = password_hash.hash("dummy password, never used")


@dataclass
class User:
    username: str
    hashed_password: str


USERS: dict[str, User] = {}


def authenticate(username: str, password: str) -> User | None:
    user = USERS.get(username)
    if user is None:
        password_hash.verify(password, DUMMY_HASH)  # the same work as a real check
        return None
    valid, new_hash = password_hash.verify_and_update(password, user.hashed_password)
    if not (valid and password):  # an old account may hold the hash of ""
        return None
    if new_hash is not None:  # a legacy or weaker hash: store the Argon2 one now
        user.hashed_password = new_hash
    return user
