from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class OpenParcel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True)

    weight_grams: int


class Parcel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel)

    weight_grams: int


def parcel_from_row(row: dict[str, int]) -> Parcel:
    return Parcel.model_validate(row, by_name=True)  # by name here, by alias on the wire


app = FastAPI()


@app.post("/open-parcels")
async def open_parcel(parcel: OpenParcel) -> OpenParcel:
    return parcel


@app.post("/parcels")
async def parcel(parcel: Parcel) -> Parcel:
    return parcel
