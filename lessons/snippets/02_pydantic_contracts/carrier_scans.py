from datetime import date
from typing import Annotated

from fastapi import FastAPI, Header
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, Strict
from pydantic.alias_generators import to_camel


class CarrierHeaders(BaseModel):
    x_carrier_id: str


class Scan(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True)

    tracking_number: str = Field(validation_alias=AliasChoices("trackingNumber", "tracking_no"))
    weight_grams: Annotated[int, Strict()]
    scanned_on: date


class RecordedScan(Scan):
    carrier_id: str


app = FastAPI()


@app.post("/scans", status_code=201)
async def record_scan(scan: Scan, headers: Annotated[CarrierHeaders, Header()]) -> RecordedScan:
    return RecordedScan(**scan.model_dump(), carrier_id=headers.x_carrier_id)
