"""Square a number. Contract: `app` (keep this name); GET /square/{n} answers {"result": n*n}."""

from fastapi import FastAPI

app = FastAPI()

# TODO: add GET /square/{n}.
