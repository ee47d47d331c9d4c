from typing import Annotated, Literal

from fastapi import FastAPI
from pydantic import BaseModel, Field, field_serializer


class Email(BaseModel):
    channel: Literal["email"]
    address: str


class Sms(BaseModel):
    channel: Literal["sms"]
    phone: Annotated[str, Field(pattern=r"^\+\d{8,15}$")]

    @field_serializer("phone", when_used="json")
    def hide_phone(self, phone: str) -> str:
        return phone[:3] + "*" * (len(phone) - 5) + phone[-2:]


class Push(BaseModel):
    channel: Literal["push"]
    device_id: str


Recipient = Annotated[Email | Sms | Push, Field(discriminator="channel")]
PlainRecipient = Email | Sms | Push  # for comparison: the same union without a tag


class Message(BaseModel):
    text: str
    to: Recipient


app = FastAPI()


@app.post("/messages", status_code=201)
async def send_message(message: Message) -> Message:
    return message
