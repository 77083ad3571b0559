"""Which files of an app directory go into its archive: gitignore-style ignore rules."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

import pathspec

from veil._io import read_bounded
from veil.package.config import AppConfigError

__all__ = ["ALWAYS_IGNORED", "MAX_VEILIGNORE_BYTES", "VEILIGNORE_FILE_NAME", "IgnoreRules"]

#: Never packaged, whatever the app says: version control, caches and virtual environments are
#: never part of an app, and differ between two checkouts of the same source.
ALWAYS_IGNORED: Final = (
    ".git/",
    ".hg/",
    ".svn/",
    "__pycache__/",
    "*.pyc",
    "*.pyo",
    ".venv/",
    ".mypy_cache/",
    ".pytest_cache/",
    ".ruff_cache/",
    ".tox/",
    ".nox/",
    ".DS_Store",
)
#: Optional file at the app root with more patterns, one per line (gitignore syntax).
VEILIGNORE_FILE_NAME: Final = ".veilignore"
#: Largest ``.veilignore`` read, in bytes.
MAX_VEILIGNORE_BYTES: Final = 256 * 1024


class IgnoreRules:
    """Gitignore semantics (``pathspec.GitIgnoreSpec``) over '/'-separated relative paths.

    The built-in :data:`ALWAYS_IGNORED` patterns are checked first and cannot be negated by
    ``!pattern``; then the app's own patterns (``ignore`` in ``veil.toml``, followed by the
    lines of ``.veilignore``) apply in order, last match wins. An ignored directory is not
    descended into, so a file under it cannot be re-included (as in git).
    """

    def __init__(self, patterns: Sequence[str], *, origin: str = "ignore") -> None:
        self._always = pathspec.GitIgnoreSpec.from_lines(ALWAYS_IGNORED)
        try:
            self._app = pathspec.GitIgnoreSpec.from_lines(list(patterns))
        except ValueError as e:
            raise AppConfigError(f"{origin}: invalid ignore pattern: {e}") from None
        self.patterns: tuple[str, ...] = tuple(patterns)

    @classmethod
    def for_app(cls, root: Path, config_patterns: Sequence[str]) -> IgnoreRules:
        """The rules of an app directory: ``veil.toml``'s ``ignore``, then ``.veilignore``."""
        patterns = list(config_patterns)
        veilignore = root / VEILIGNORE_FILE_NAME
        if veilignore.is_file() and not veilignore.is_symlink():
            data = read_bounded(
                veilignore,
                max_bytes=MAX_VEILIGNORE_BYTES,
                what="ignore file",
                error=AppConfigError,
                too_large=AppConfigError,
            )
            try:
                patterns += data.decode("utf-8").splitlines()
            except UnicodeDecodeError:
                raise AppConfigError(f"{veilignore}: not UTF-8 text") from None
        return cls(patterns, origin=f"{root / 'veil.toml'} key 'ignore' or {veilignore}")

    def is_ignored(self, path: str, *, is_dir: bool) -> bool:
        """Whether the relative ``path`` (no leading '/') is left out of the archive."""
        candidate = path + "/" if is_dir else path
        return self._always.match_file(candidate) or self._app.match_file(candidate)
