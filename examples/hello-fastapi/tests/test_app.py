"""Behaviour of hello-fastapi's endpoints, run in-process or against a served instance."""

from __future__ import annotations

import httpx


def test_health(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_hello_defaults_to_world(client: httpx.Client) -> None:
    assert client.get("/hello").json() == {"message": "Hello, world!"}


def test_hello_greets_by_name(client: httpx.Client) -> None:
    response = client.get("/hello", params={"name": "Ada"})
    assert response.json() == {"message": "Hello, Ada!"}


def test_sum(client: httpx.Client) -> None:
    response = client.post("/sum", json=[1, 2, 3.5])
    assert response.status_code == 200
    assert response.json() == {"sum": 6.5}


def test_sum_refuses_non_numbers(client: httpx.Client) -> None:
    response = client.post("/sum", json={"not": "a list"})
    assert response.status_code in {400, 422}
