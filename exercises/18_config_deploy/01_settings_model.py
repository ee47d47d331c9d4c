"""Settings from the environment: one model that reads, checks and hides the shop's settings.

The shop service reads its settings in many places, each with its own `os.environ.get` and its
own idea of a default. Gather them in one pydantic-settings model that reads the environment
once, refuses what is unsafe before the service starts, and never lets a secret into a log.

Contract (the checks rely on every line):
- `Settings` (keep this name) is a pydantic-settings `BaseSettings`. It reads when it is made,
  `Settings()`, never at import: the module imports with no SHOP_ variable set, so build no
  `Settings` at module level.
- It reads the variable named `SHOP_` followed by the field name, in any case (`SHOP_DEBUG`,
  `shop_debug`, `Shop_Debug`); a variable without the prefix (`DEBUG`, `DATABASE__URL`) is never
  read. A nested field joins its names with "__": `SHOP_DATABASE__URL`,
  `SHOP_DATABASE__POOL_SIZE`.
- It also reads a file `.env` in the current directory, when there is one, with the same names.
  The file's other lines (another program's variables, names without `SHOP_`) are ignored, never
  an error. Keyword arguments given to `Settings(...)` beat the environment, which beats `.env`,
  which beats the defaults; each field comes from the first of these that has it.
- The fields:

  | field                | type                                           | default        |
  |----------------------|------------------------------------------------|----------------|
  | `environment`        | "development", "staging" or "production"       | "development"  |
  | `database`           | a nested model: `url`, `pool_size`             | none: required |
  | `database.url`       | `str`, at least one character                  | none: required |
  | `database.pool_size` | `int`, from 1 to 50, both included             | 5              |
  | `jwt_secret`         | pydantic `SecretStr`                           | `DEV_SECRET`   |
  | `allowed_origins`    | `list[str]`, read as a JSON array              | `[]`           |
  | `debug`              | `bool`, as pydantic reads one ("1", "true"...) | `False`        |

  `environment` is one of the three words exactly: "Production" and "prod" are refused.
  `allowed_origins` is a JSON array in the variable (`'["https://shop.example"]'`); a value
  that is not JSON (`a,b`) makes `Settings()` raise pydantic-settings' `SettingsError`.
  A value outside its type or range raises pydantic's `ValidationError`, and so does a missing
  or empty url (fail fast: no url, no service): with no `SHOP_DATABASE__` variable at all, one
  of its errors has the loc `("database",)`; with some but no url, `("database", "url")`.
- The secret rules, checked once the fields are valid; a refusal is a `ValidationError` whose
  text (`str(error)`) mentions `jwt_secret`:
  - development accepts any secret, `DEV_SECRET` (keep this name: "dev-only-secret") included;
  - staging accepts any secret but `DEV_SECRET`, whether it came from the default or was set
    to that same value;
  - production refuses `DEV_SECRET` and any secret shorter than `MIN_PRODUCTION_SECRET` (keep
    this name: 32) characters: 31 is refused, 32 accepted.
- The text of every `ValidationError` that `Settings()` raises (`str(error)`) shows no value
  that was read: a service that fails to start logs that text, secrets and all.
- A secret never shows: `repr(settings)`, `str(settings)`, `settings.model_dump_json()` and a
  log line that formats the settings show it as "**********".
- `public_view(settings)` (keep this name) returns what the service logs at start: a plain dict
  that `json.dumps` accepts, with exactly the keys `environment`, `database` (a dict with `url`
  and `pool_size`), `jwt_secret`, `allowed_origins` and `debug`, holding the settings' values,
  and "**********" (a string) in place of the secret; the settings themselves are unchanged.
Valid settings are made without a warning (a warning fails the check that catches it). The
checks look for the error they test among those a `ValidationError` reports; pydantic-settings
also reads `SHOP_DATABASE` as a JSON object, which is not checked.
"""

from typing import Any

from pydantic import BaseModel
from pydantic_settings import BaseSettings

DEV_SECRET = "dev-only-secret"
MIN_PRODUCTION_SECRET = 32


# TODO: make url required (one character at least) and keep pool_size from 1 to 50.
class DatabaseSettings(BaseModel):
    url: str = "sqlite:///shop.db"
    pool_size: int = 5


class Settings(BaseSettings):
    # TODO: configure the model: the SHOP_ prefix, "__" between nested names, the .env file
    # with its other lines ignored, and errors whose text shows no input.

    # TODO: give each field the type and default of the contract's table.
    environment: str = "development"
    database: DatabaseSettings = DatabaseSettings()
    jwt_secret: str = DEV_SECRET
    allowed_origins: list[str] = []
    debug: bool = False

    # TODO: refuse DEV_SECRET outside development, and a short secret in production.


def public_view(settings: Settings) -> dict[str, Any]:
    # TODO: return the settings as plain JSON values, the secret as "**********".
    return settings.model_dump()
