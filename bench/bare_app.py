"""The baseline: a bare FastAPI endpoint that reads the body and answers, nothing else."""

from fastapi import FastAPI, Request

app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/webhooks/hubspot")
async def webhook(request: Request) -> dict[str, int]:
    body = await request.body()
    return {"stored": len(body) and 10, "duplicates": 0, "ignored": 0}
