"""hello-fastapi: a minimal confidential web app (FastAPI, ASGI)."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI(title="hello-fastapi")


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/hello")
def hello(name: str = "world") -> dict[str, str]:
    return {"message": f"Hello, {name}!"}


@app.post("/sum")
def total(numbers: list[float]) -> dict[str, float]:
    return {"sum": sum(numbers)}
