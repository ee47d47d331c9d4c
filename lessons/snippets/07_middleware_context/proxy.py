from fastapi import FastAPI, Request
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

api = FastAPI()


@api.get("/invoices/{number}", name="read_invoice")
async def read_invoice(number: int, request: Request) -> dict[str, str | None]:
    return {
        "client": request.client.host if request.client else None,
        "url": str(request.url),
        "pdf": str(request.url_for("invoice_pdf", number=number)),
    }


@api.get("/invoices/{number}/pdf", name="invoice_pdf")
async def invoice_pdf(number: int) -> dict[str, int]:
    return {"number": number}


# what uvicorn does with --proxy-headers --forwarded-allow-ips=10.0.0.0/8
app = ProxyHeadersMiddleware(api, trusted_hosts=["10.0.0.0/8"])
