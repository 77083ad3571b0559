"""The fenced code blocks of veil's Markdown docs, and which of them the docs test runs.

The rule, checked for every file the docs test reads:

- Every fence names its language. Commands a reader types are ``sh`` (or ``bash``), without
  prompts; what a command prints, or any other text, is ``text``; data is ``json`` or ``toml``;
  code is ``python``. A bare fence is refused, so that a command block cannot hide from the
  test by leaving out its language.
- Every ``sh``/``bash`` block runs, in order, in one shell session per file, unless the line
  right before its fence says why not: ``<!-- docs-test: skip (needs an SGX machine) -->``.
- A ``python`` block runs only when the line right before its fence is
  ``<!-- docs-test: run -->`` (most are fragments of an app, meant to run inside an enclave).

A marker that is malformed, or that is not right before a block it applies to, is an error
rather than being ignored: a typo must not silently stop a block from running.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = [
    "KNOWN_LANGUAGES",
    "MARKED_LANGUAGES",
    "SHELL_LANGUAGES",
    "Block",
    "BlockError",
    "doc_files",
    "parse_blocks",
    "read_blocks",
]

SHELL_LANGUAGES: Final = frozenset({"sh", "bash"})
#: Languages whose blocks run when marked ``<!-- docs-test: run -->``.
MARKED_LANGUAGES: Final = frozenset({"python"})
KNOWN_LANGUAGES: Final = SHELL_LANGUAGES | MARKED_LANGUAGES | {"json", "toml", "text"}

# CommonMark: up to three spaces of indentation, then three or more backticks or tildes.
_FENCE: Final = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_MARKER: Final = re.compile(r"^\s*<!--\s*docs-test:(?P<body>.*?)-->\s*$")
_SKIP: Final = re.compile(r"^skip \((?P<reason>[^()]*\S[^()]*)\)$")


class BlockError(ValueError):
    """A fence or a docs-test marker that breaks the rule; the message names file and line."""


@dataclass(frozen=True)
class Block:
    """One fenced block of a Markdown file."""

    path: Path
    #: 1-based line number of the opening fence.
    line: int
    language: str
    text: str
    #: Why the docs test does not run this block (``<!-- docs-test: skip (REASON) -->``).
    skip: str | None = None
    #: Marked ``<!-- docs-test: run -->`` (python blocks).
    marked_run: bool = False

    @property
    def is_shell(self) -> bool:
        return self.language in SHELL_LANGUAGES

    @property
    def runs(self) -> bool:
        """Whether the docs test executes this block."""
        return (self.is_shell and self.skip is None) or self.marked_run

    def where(self, root: Path | None = None) -> str:
        """``file:line`` of the opening fence, relative to ``root`` when it is under it."""
        path = self.path
        if root is not None and path.is_relative_to(root):
            path = path.relative_to(root)
        return f"{path}:{self.line}"

    def first_line_of_text(self) -> int:
        """The file's line number of the block's first line of text."""
        return self.line + 1


@dataclass(frozen=True)
class _Marker:
    line: int
    skip: str | None
    run: bool


def _parse_marker(body: str, path: Path, line: int) -> _Marker:
    body = body.strip()
    if body == "run":
        return _Marker(line, None, run=True)
    skip = _SKIP.match(body)
    if skip is not None:
        return _Marker(line, skip.group("reason").strip(), run=False)
    raise BlockError(f"{path}:{line}: docs-test marker {body!r}: expected 'skip (REASON)' or 'run'")


def _apply_marker(marker: _Marker | None, language: str, path: Path, line: int) -> _Marker:
    if marker is None:
        return _Marker(line, None, run=False)
    if marker.skip is not None and language not in SHELL_LANGUAGES:
        raise BlockError(
            f"{path}:{marker.line}: 'skip' before a {language} block, which never runs anyway"
        )
    if marker.run and language not in MARKED_LANGUAGES:
        what = "shell blocks run unless skipped" if language in SHELL_LANGUAGES else "never runs"
        raise BlockError(f"{path}:{marker.line}: 'run' before a {language} block ({what})")
    return marker


def parse_blocks(text: str, path: Path) -> list[Block]:
    """Every fenced block of the Markdown ``text`` (``path`` names it in errors)."""
    blocks: list[Block] = []
    lines = text.splitlines()
    pending: _Marker | None = None
    index = 0
    while index < len(lines):
        number = index + 1
        line = lines[index]
        marker = _MARKER.match(line)
        if marker is not None:
            if pending is not None:
                raise BlockError(f"{path}:{pending.line}: docs-test marker not before a block")
            pending = _parse_marker(marker.group("body"), path, number)
            index += 1
            continue
        fence = _FENCE.match(line)
        if fence is None:
            if pending is not None:
                raise BlockError(
                    f"{path}:{pending.line}: docs-test marker not right before a fenced block"
                )
            index += 1
            continue
        language = fence.group("info").strip().split(" ", 1)[0]
        if not language:
            raise BlockError(
                f"{path}:{number}: fenced block without a language: name it "
                f"({', '.join(sorted(KNOWN_LANGUAGES))}; 'text' for output)"
            )
        if language not in KNOWN_LANGUAGES:
            raise BlockError(
                f"{path}:{number}: fenced block in unknown language {language!r}: use one of "
                f"{', '.join(sorted(KNOWN_LANGUAGES))}"
            )
        applied = _apply_marker(pending, language, path, number)
        pending = None
        opening = fence.group("fence")
        body: list[str] = []
        index += 1
        while True:
            if index >= len(lines):
                raise BlockError(f"{path}:{number}: fenced block is never closed")
            closing = _FENCE.match(lines[index])
            if (
                closing is not None
                and closing.group("fence")[0] == opening[0]
                and len(closing.group("fence")) >= len(opening)
                and not closing.group("info").strip()
            ):
                break
            body.append(lines[index])
            index += 1
        index += 1  # the closing fence
        blocks.append(
            Block(
                path=path,
                line=number,
                language=language,
                text="\n".join(body) + "\n" if body else "",
                skip=applied.skip,
                marked_run=applied.run,
            )
        )
    if pending is not None:
        raise BlockError(f"{path}:{pending.line}: docs-test marker at the end of the file")
    return blocks


def read_blocks(path: Path) -> list[Block]:
    return parse_blocks(path.read_text(encoding="utf-8"), path)


def doc_files(root: Path) -> list[Path]:
    """The Markdown files whose blocks the docs test runs, in the order a reader meets them."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]
