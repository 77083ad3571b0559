"""The extraction of fenced blocks and docs-test markers (tests/docs/_blocks.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.docs._blocks import KNOWN_LANGUAGES, Block, BlockError, doc_files, parse_blocks

DOC = Path("docs/example.md")


def _parse(text: str) -> list[Block]:
    return parse_blocks(text, DOC)


def test_blocks_have_their_language_line_and_text() -> None:
    blocks = _parse(
        "# Title\n\n```sh\nveil list\nveil status web\n```\n\nprose\n\n```json\n{}\n```\n"
    )
    assert [(b.language, b.line, b.text) for b in blocks] == [
        ("sh", 3, "veil list\nveil status web\n"),
        ("json", 10, "{}\n"),
    ]
    assert blocks[0].runs
    assert not blocks[1].runs
    assert blocks[0].where() == "docs/example.md:3"
    assert blocks[0].first_line_of_text() == 4


@pytest.mark.parametrize("language", ["sh", "bash"])
def test_shell_blocks_run_unless_skipped(language: str) -> None:
    (block,) = _parse(f"```{language}\ntrue\n```\n")
    assert block.is_shell
    assert block.runs
    assert block.skip is None


def test_a_skip_marker_gives_the_reason() -> None:
    (block,) = _parse("<!-- docs-test: skip (needs an SGX machine) -->\n```sh\nveil spawn\n```\n")
    assert block.skip == "needs an SGX machine"
    assert not block.runs


def test_python_runs_only_when_marked() -> None:
    plain, marked = _parse(
        "```python\nx = 1\n```\n<!-- docs-test: run -->\n```python\nx = 2\n```\n"
    )
    assert not plain.runs
    assert marked.runs
    assert marked.line == 5


def test_a_longer_fence_holds_a_shorter_one() -> None:
    (block,) = _parse("````text\n```sh\nnot a block\n```\n````\n")
    assert block.language == "text"
    assert block.text == "```sh\nnot a block\n```\n"


def test_a_marker_inside_a_block_is_text() -> None:
    (block,) = _parse("```text\n<!-- docs-test: run -->\n```\n")
    assert block.text == "<!-- docs-test: run -->\n"


def test_an_empty_block_has_no_text() -> None:
    (block,) = _parse("```sh\n```\n")
    assert block.text == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("```\nveil list\n```\n", "docs/example.md:1: fenced block without a language"),
        ("\n```console\n$ veil list\n```\n", "docs/example.md:2: fenced block in unknown language"),
        ("```sh\nveil list\n", "docs/example.md:1: fenced block is never closed"),
        (
            "<!-- docs-test: skip -->\n```sh\nx\n```\n",
            "docs/example.md:1: docs-test marker 'skip': expected 'skip (REASON)' or 'run'",
        ),
        ("<!-- docs-test: skip () -->\n```sh\nx\n```\n", "expected 'skip (REASON)'"),
        ("<!-- docs-test: skp (typo) -->\n```sh\nx\n```\n", "expected 'skip (REASON)'"),
        (
            "<!-- docs-test: run -->\n```sh\nx\n```\n",
            "docs/example.md:1: 'run' before a sh block (shell blocks run unless skipped)",
        ),
        ("<!-- docs-test: run -->\n```json\n{}\n```\n", "'run' before a json block (never runs)"),
        (
            "<!-- docs-test: skip (why) -->\n```python\nx\n```\n",
            "docs/example.md:1: 'skip' before a python block",
        ),
        (
            "<!-- docs-test: skip (why) -->\n\n```sh\nx\n```\n",
            "docs/example.md:1: docs-test marker not right before a fenced block",
        ),
        (
            "<!-- docs-test: run -->\n<!-- docs-test: run -->\n```python\nx\n```\n",
            "docs/example.md:1: docs-test marker not before a block",
        ),
        ("text\n<!-- docs-test: run -->\n", "docs/example.md:2: docs-test marker at the end"),
    ],
)
def test_what_breaks_the_rule_is_refused_with_file_and_line(text: str, message: str) -> None:
    with pytest.raises(BlockError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _parse(text)


@pytest.mark.parametrize("path", doc_files(REPO_ROOT), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_doc_follows_the_rule(path: Path) -> None:
    """Every fence names a known language and every marker applies (else this raises)."""
    for block in parse_blocks(path.read_text(encoding="utf-8"), path):
        assert block.language in KNOWN_LANGUAGES
        # A command in a text block would escape the test: commands start with a program name.
        if block.language == "text":
            assert not block.text.lstrip().startswith(("veil ", "$ ", "curl ", ". ")), (
                f"{block.where(REPO_ROOT)} looks like commands: make it an sh block"
            )
