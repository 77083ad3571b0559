"""hello-flask: a minimal confidential web app (Flask, WSGI)."""

from __future__ import annotations

from flask import Flask, Response, jsonify, request

app = Flask(__name__)


@app.get("/health")
def health() -> Response:
    return jsonify(status="ok")


@app.get("/hello")
def hello() -> Response:
    name = request.args.get("name", "world")
    return jsonify(message=f"Hello, {name}!")


@app.post("/sum")
def total() -> Response | tuple[Response, int]:
    numbers = request.get_json(silent=True)
    if not isinstance(numbers, list) or not all(
        isinstance(n, int | float) and not isinstance(n, bool) for n in numbers
    ):
        return jsonify(error="expected a JSON list of numbers"), 400
    return jsonify(sum=float(sum(numbers)))
