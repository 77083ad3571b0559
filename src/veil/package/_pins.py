"""Exact pins of a pip requirements file, and whether a wheel honours them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import Specifier
from packaging.utils import (
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)

__all__ = ["Pin", "is_pinned_wheel", "parse_pins"]

#: pip: ``#`` starts a comment at the start of a line or after whitespace.
_COMMENT: Final = re.compile(r"(?:^|\s)#.*$")
_SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")
_HASH_OPTION: Final = "--hash"


@dataclass(frozen=True)
class Pin:
    """``name==version``, with the SHA-256 digests (hex) its ``--hash`` options allow."""

    name: NormalizedName
    specifier: Specifier
    sha256: frozenset[str]


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        if raw.endswith("\\"):
            pending += raw[:-1] + " "
            continue
        lines.append(pending + raw)
        pending = ""
    if pending:
        lines.append(pending)
    return lines


def _hashes(options: list[str]) -> set[str] | None:
    """The digests of ``--hash=sha256:HEX`` / ``--hash sha256:HEX`` options; ``None`` if any
    option is something else (another algorithm, or an option that changes resolution)."""
    digests: set[str] = set()
    index = 0
    while index < len(options):
        option = options[index]
        if option == _HASH_OPTION and index + 1 < len(options):
            value = options[index + 1]
            index += 2
        elif option.startswith(_HASH_OPTION + "="):
            value = option.removeprefix(_HASH_OPTION + "=")
            index += 1
        else:
            return None
        algorithm, _, digest = value.partition(":")
        if algorithm != "sha256" or not _SHA256_HEX.fullmatch(digest.lower()):
            return None
        digests.add(digest.lower())
    return digests


def _pin(line: str) -> Pin | None:
    tokens = line.split()
    first_option = next((i for i, t in enumerate(tokens) if t.startswith("-")), len(tokens))
    if first_option == 0:
        return None  # a global option (-r, -c, -e, --index-url, ...): not a plain pin
    digests = _hashes(tokens[first_option:])
    if digests is None:
        return None
    try:
        requirement = Requirement(" ".join(tokens[:first_option]))
    except InvalidRequirement:
        return None
    specifiers = list(requirement.specifier)
    if requirement.url is not None or len(specifiers) != 1:
        return None
    specifier = specifiers[0]
    if specifier.operator != "==" or specifier.version.endswith(".*"):
        return None
    return Pin(canonicalize_name(requirement.name), specifier, frozenset(digests))


def parse_pins(text: str) -> dict[NormalizedName, Pin] | None:
    """The pins of a requirements file when *every* requirement in it is an exact pin.

    A pin is ``name[extras]==version`` (no wildcard), optionally with an environment marker and
    ``--hash=sha256:…`` options. Anything else (a range, a URL, an include, an index option, a
    name given twice) gives ``None``: pip must resolve such a file afresh. An empty file too.
    """
    pins: dict[NormalizedName, Pin] = {}
    for line in _logical_lines(text):
        stripped = _COMMENT.sub("", line).strip()
        if not stripped:
            continue
        pin = _pin(stripped)
        if pin is None or pin.name in pins:
            return None
        pins[pin.name] = pin
    return pins or None


def is_pinned_wheel(filename: str, sha256_hex: str, pins: dict[NormalizedName, Pin]) -> bool:
    """Whether the wheel ``filename`` is the version a pin names, with a digest it allows."""
    try:
        name, version, _, _ = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return False
    pin = pins.get(name)
    if pin is None or not pin.specifier.contains(version, prereleases=True):
        return False
    return not pin.sha256 or sha256_hex.lower() in pin.sha256
