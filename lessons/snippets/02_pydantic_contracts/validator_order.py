from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, field_validator, model_validator

trace: list[str] = []


def step(name: str) -> Any:
    def record(value: Any) -> Any:
        trace.append(name)
        return value

    return record


class Order(BaseModel):
    sku: Annotated[
        str,
        BeforeValidator(step("Annotated before #1")),
        BeforeValidator(step("Annotated before #2")),
        AfterValidator(step("Annotated after #1")),
        AfterValidator(step("Annotated after #2")),
    ]

    @field_validator("sku", mode="before")
    @classmethod
    def sku_before(cls, value: Any) -> Any:
        return step("decorator before")(value)

    @field_validator("sku")
    @classmethod
    def sku_after(cls, value: str) -> str:
        return step("decorator after")(value)

    @model_validator(mode="before")
    @classmethod
    def model_before(cls, data: Any) -> Any:
        return step("model before")(data)

    @model_validator(mode="wrap")
    @classmethod
    def model_wrap(cls, data: Any, handler: Any) -> Any:
        trace.append("model wrap, before handler")
        order = handler(data)
        trace.append("model wrap, after handler")
        return order

    @model_validator(mode="after")
    def model_after(self) -> Self:
        return step("model after")(self)
