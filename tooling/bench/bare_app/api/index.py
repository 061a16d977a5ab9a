"""A bare FastAPI app: one route, answering what Tally's health check is asked."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/api/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
