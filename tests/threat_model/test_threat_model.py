"""docs/threat-model.md stays true: every row names a test, and every named test exists."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "threat-model.md"
_ROW = re.compile(r"^\| ([A-Z]\d+) \|")
_TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def _rows() -> list[tuple[str, str]]:
    rows = []
    for line in DOC.read_text().splitlines():
        match = _ROW.match(line)
        if match:
            rows.append((match.group(1), line))
    return rows


@cache
def _test_names(path: Path) -> frozenset[str]:
    tree = ast.parse(path.read_text())
    return frozenset(
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    )


def test_the_model_has_rows_with_unique_ids() -> None:
    ids = [row_id for row_id, _ in _rows()]
    assert len(ids) >= 20
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(("row_id", "line"), _rows(), ids=[row_id for row_id, _ in _rows()])
def test_every_row_names_existing_tests(row_id: str, line: str) -> None:
    references = _TEST_REF.findall(line)
    assert references, f"row {row_id} names no test"
    for path, name in references:
        file = ROOT / path
        assert file.is_file(), f"row {row_id}: {path} does not exist"
        assert name in _test_names(file), f"row {row_id}: {path} has no {name}"
