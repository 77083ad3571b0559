"""A node's error answer reaches the operator as one printable line, never as raw bytes."""

from __future__ import annotations

import pytest

from veil.errors import ServiceError
from veil.host.bootstrap import BootstrapClient


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (b'{"error": "not waiting for secrets"}', "not waiting for secrets"),
        (b'{"error": "two\\nlines \\u001b[31mred"}', "two lines [31mred"),
        (b'{"error": 1}', "(no readable error message)"),
        (b'{"error": "a", "error": "b"}', "(no readable error message)"),
        (b"\x1b[2J<html>Bad gateway</html>", "(no readable error message)"),
        (b"", "(no readable error message)"),
    ],
)
def test_error_answers_are_shown_safely(body: bytes, shown: str) -> None:
    client = BootstrapClient("https://node.invalid")
    with pytest.raises(ServiceError) as raised:
        client._json(502, body, "status")
    assert str(raised.value) == f"the node answered 502 to status: {shown}"
