"""Owner commands: package, decrypt, fingerprint, measure, keygen, seal, unseal, deploy, verify."""

from __future__ import annotations

from veil.cli.owner._build_parsers import TEE_NAMES, register_build
from veil.cli.owner._deploy_parsers import register_deploy
from veil.cli.owner._key_parsers import (
    DEFAULT_CODE_KEY_PATH,
    DEFAULT_SEALING_KEY_PATH,
    DEFAULT_SEALING_SUITE_NAME,
    PUBLIC_KEY_SUFFIX,
    SEALING_SUITE_NAMES,
    STDIO,
    register_keys,
)

# `veil verify` has two forms, the owner's (--evidence) and the user's (a URL): one parser, so
# both live here (docs/adr/0017-cli-packages-by-role.md).
__all__ = [
    "DEFAULT_CODE_KEY_PATH",
    "DEFAULT_SEALING_KEY_PATH",
    "DEFAULT_SEALING_SUITE_NAME",
    "PUBLIC_KEY_SUFFIX",
    "SEALING_SUITE_NAMES",
    "STDIO",
    "TEE_NAMES",
    "register_build",
    "register_deploy",
    "register_keys",
]
