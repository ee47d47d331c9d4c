from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, field_validator

validated: list[str] = []  # one entry each time Pydantic validates an Invoice


class Invoice(BaseModel):
    number: str
    total_cents: int

    @field_validator("number")
    @classmethod
    def record(cls, number: str) -> str:
        validated.append(number)
        return number


app = FastAPI()


@app.get("/encoded")
async def encoded() -> JSONResponse:
    return JSONResponse(jsonable_encoder(Invoice(number="A-1", total_cents=1250)))


@app.get("/untyped")
async def untyped():  # no return type
    return Invoice(number="A-1", total_cents=1250)


@app.get("/model")
async def model() -> Invoice:
    return Invoice(number="A-1", total_cents=1250)


@app.get("/dict")
async def as_dict() -> Invoice:
    return {"number": "A-1", "total_cents": 1250}  # type: ignore[return-value]


@app.get("/model-json-class", response_class=JSONResponse)
async def model_json_class() -> Invoice:
    return Invoice(number="A-1", total_cents=1250)
