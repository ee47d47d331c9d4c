import os
from typing import Any

# With jsonschema-rs installed, the validator uses it and words its messages differently.
os.environ.setdefault("OPENAPI_SPEC_VALIDATOR_SCHEMA_VALIDATOR_BACKEND", "jsonschema")

from openapi_spec_validator import OpenAPIV31SpecValidator


def openapi_errors(document: dict[str, Any]) -> list[str]:
    """Every reason `document` is not valid OpenAPI 3.1, where it is (empty: it is valid)."""
    validator = OpenAPIV31SpecValidator(document)
    return [f"{error.json_path}: {error.message}" for error in validator.iter_errors()]
