"""FastAPI Pro Workbook: the grader, its pytest plugin and the CLI."""

import os

# openapi-spec-validator validates with jsonschema-rs whenever that package is installed
# (schemathesis brings it in), and its messages then read differently from the ones the
# lessons quote and the checks print. Every process of the workbook, and the notebook kernels
# it starts, keeps the pure-Python backend.
os.environ.setdefault("OPENAPI_SPEC_VALIDATOR_SCHEMA_VALIDATOR_BACKEND", "jsonschema")
