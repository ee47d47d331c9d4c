"""Log a user in without telling an attacker which usernames exist, and upgrade old hashes.

The login code below comes from an older system: it hashes with bcrypt only, and it returns
at once for an unknown username, so an attacker who times it learns which names exist.

Contract (the checks rely on every line):
- `password_hash` (keep this name) is a pwdlib `PasswordHash` whose first hasher is Argon2 with
  its default parameters, so every new hash starts with "$argon2id$"; bcrypt hashes from the
  old system still verify. `authenticate` makes every hash and verification through this
  module-level name, looked up when it runs: the checks replace it with a counting
  `PasswordHash` of cheap hashers (Argon2 first, then bcrypt) and count what it is asked to do.
- `authenticate(users, username, password)` (keep this name) returns the `User` (keep this
  name), the very object stored in `users` under `username`, when the password is right, and
  None otherwise. It never raises for a wrong password or an unknown name.
- Every call costs exactly one password verification, and no hashing unless it upgrades a
  hash (below). For an unknown username that one verification is of the password against a
  dummy hash made once (at import) by the current hasher, Argon2: so an unknown name costs
  what a known one does, and an attacker cannot tell them apart.
- An empty password never logs anyone in, even when the stored hash is the hash of an empty
  string (an old account may hold one); it also costs exactly one verification.
- After a successful login, when the stored hash is not what the current hasher would make
  today (a bcrypt hash, or Argon2 with other parameters), `user.hashed_password` is replaced
  by a new hash of the password made by the current hasher: one extra hash, no extra
  verification. A failed login never changes the stored hash; a current hash is kept as it is.
"""

from dataclasses import dataclass

from pwdlib import PasswordHash
from pwdlib.hashers.bcrypt import BcryptHasher

# TODO: make Argon2 the current hasher, and keep bcrypt so that old hashes still verify.
password_hash = PasswordHash((BcryptHasher(),))

# TODO: make a dummy hash once, with the current hasher, for unknown usernames.


@dataclass
class User:
    username: str
    hashed_password: str


def authenticate(users: dict[str, User], username: str, password: str) -> User | None:
    user = users.get(username)
    # TODO: spend one verification on the dummy hash when the user is unknown.
    if user is None:
        return None
    # TODO: refuse an empty password, and upgrade an old hash after a successful login.
    if not password_hash.verify(password, user.hashed_password):
        return None
    return user
