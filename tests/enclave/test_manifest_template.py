"""The Gramine manifest template measures everything the host could otherwise choose.

Gramine measures the manifest into MRENCLAVE, so a template that let the host pass arguments,
environment variables or unmeasured code in would let the operator change what runs without
changing the identity (threat-model.md, rows H4 and H5).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import veil.enclave

TEMPLATE = Path(veil.enclave.__file__).parent / "gramine" / "veil.manifest.template"


def _settings() -> list[str]:
    """The template's lines with comments and blank lines removed."""
    lines = []
    for line in TEMPLATE.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            lines.append(text)
    return lines


@pytest.mark.parametrize(
    "forbidden",
    [
        r"insecure__",  # e.g. loader.insecure__use_cmdline_argv, insecure__use_host_env
        r"passthrough",  # loader.env.X = { passthrough = true } hands X to the host
        r"sgx\.debug\s*=\s*true",
        r"sgx\.file_check_policy\s*=\s*\"allow_all_but_log\"",
        r"loader\.argv_src_file",
        r"loader\.env_src_file",
    ],
)
def test_template_has_no_host_controlled_inputs(forbidden: str) -> None:
    offending = [line for line in _settings() if re.search(forbidden, line)]
    assert offending == []


def test_argv_backend_and_app_identity_are_measured_constants() -> None:
    settings = "\n".join(_settings())
    assert (
        'loader.argv = ["{{ entrypoint }}", "-m", "veil.enclave", "--node-dir", "/veil/node"]'
        in (settings)
    )
    assert 'loader.env.VEIL_BACKEND = "gramine-sgx"' in settings
    assert 'loader.env.VEIL_APP_FINGERPRINT = "{{ veil_app_fingerprint }}"' in settings
    assert "sgx.debug = false" in settings
    # The app-identity file is trusted with its hash written into the manifest itself.
    assert (
        '{ uri = "file:app-identity.json", sha256 = "{{ veil_app_identity_sha256 }}" }' in settings
    )


def test_only_the_node_directory_is_untrusted_storage() -> None:
    settings = "\n".join(_settings())
    allowed = re.search(r"sgx\.allowed_files = \[(.*?)\]", settings, re.S)
    assert allowed is not None
    assert [entry.strip() for entry in allowed.group(1).split(",") if entry.strip()] == [
        '"file:node/"'
    ]
