import httpx
from fastapi import FastAPI
from pydantic import BaseModel


class Settings(BaseModel):
    upstream: str = "https://weather.example"
    units: str = "metric"


settings = Settings()  # read once, when the module is first imported
http = httpx.AsyncClient(base_url=settings.upstream)  # built at import, closed by nobody

app = FastAPI()


@app.get("/weather/{city}")
async def weather(city: str) -> dict[str, object]:
    reply = await http.get(f"/now/{city}", params={"units": settings.units})
    return {"city": city, "units": settings.units, "temperature": reply.json()["temperature"]}
