"""The image reference-value document: strict parsing, the schema, the guest measurement."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.attestation.result import Tee
from veil.errors import FormatError, OperationError
from veil.identity.app import extend_rtmr
from veil.identity.image import guest_measurement, replay_rtmr
from veil.identity.reference import (
    MAX_IMAGE_REFERENCE_BYTES,
    MAX_RTMR3_EVENTS,
    ImageReference,
    ImageReferenceError,
    image_reference_template,
    read_image_reference,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO_ROOT / "docs/schemas/image-reference.schema.json").read_text())


def tdx_document() -> dict[str, Any]:
    return {
        "format": "veil-image-reference",
        "version": 1,
        "tee": "tdx",
        "name": "veil-guest-ubuntu-24.04 2026.02",
        "measurements": {
            "mr_td": "a1" * 48,
            "rtmr0": "b0" * 48,
            "rtmr1": "b1" * 48,
            "rtmr2": "b2" * 48,
        },
        "rtmr3_events": ["e1" * 48, "e2" * 48],
        "builder": {"name": "Example Images", "url": "https://images.example.com"},
        "build": {
            "source": "https://github.com/example/veil-guest",
            "commit": "0123456789abcdef0123456789abcdef01234567",
            "date": "2026-02-01T10:00:00Z",
        },
    }


def snp_document() -> dict[str, Any]:
    document = tdx_document()
    del document["rtmr3_events"]
    document["tee"] = "sev-snp"
    document["measurements"] = {"measurement": "5a" * 48}
    document["allow_vlek"] = True
    return document


def simulated_document() -> dict[str, Any]:
    return {
        "format": "veil-image-reference",
        "version": 1,
        "tee": "simulated",
        "name": "python environment cpython 3.11.7 linux-x86_64, 56 distributions",
        "measurements": {"image": "1e" * 48},
    }


def _parse(document: dict[str, Any]) -> ImageReference:
    return ImageReference.from_json(json.dumps(document).encode())


def _simulated_with_provenance() -> dict[str, Any]:
    document = simulated_document()
    document["builder"] = tdx_document()["builder"]
    document["build"] = tdx_document()["build"]
    return document


@pytest.mark.parametrize(
    "make", [tdx_document, snp_document, simulated_document, _simulated_with_provenance]
)
def test_valid_documents_parse_round_trip_and_match_the_schema(make: Any) -> None:
    document = make()
    jsonschema.validate(document, SCHEMA)
    image = _parse(document)
    assert image.to_json() == document
    assert _parse(image.to_json()) == image


def test_tdx_fields() -> None:
    image = _parse(tdx_document())
    assert image.tee is Tee.TDX
    assert image.rtmr3_events == (bytes.fromhex("e1" * 48), bytes.fromhex("e2" * 48))
    assert not image.allow_vlek
    assert image.measurement().values == {
        "mr_td": "a1" * 48,
        "rtmr0": "b0" * 48,
        "rtmr1": "b1" * 48,
        "rtmr2": "b2" * 48,
    }
    assert "Example Images" in image.describe()


def test_upper_case_hex_is_normalised() -> None:
    document = tdx_document()
    document["measurements"]["mr_td"] = "A1" * 48
    assert _parse(document).registers["mr_td"] == "a1" * 48


def test_guest_measurement_replays_rtmr3_from_zeros() -> None:
    image = _parse(tdx_document())
    app_event = bytes.fromhex("ab" * 48)
    expected = extend_rtmr(
        extend_rtmr(extend_rtmr(bytes(48), bytes.fromhex("e1" * 48)), bytes.fromhex("e2" * 48)),
        app_event,
    )
    measurement = guest_measurement(image, app_event)
    assert measurement.values["rtmr3"] == expected.hex()
    assert replay_rtmr(()) == bytes(48)
    assert set(guest_measurement(image, None).values) == {"mr_td", "rtmr0", "rtmr1", "rtmr2"}


def test_snp_guest_measurement_pins_host_data() -> None:
    host_data = bytes(range(32))
    measurement = guest_measurement(_parse(snp_document()), host_data)
    assert measurement.values == {"measurement": "5a" * 48, "host_data": host_data.hex()}


def _set(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, last = path.split(".")
    target = document
    for key in parents:
        target = target[key]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return document


_DELETE = object()


@pytest.mark.parametrize(
    ("make", "path", "value", "message"),
    [
        (tdx_document, "format", "veil-image", "format"),
        (tdx_document, "version", 2, "version"),
        (tdx_document, "version", True, "version"),
        (tdx_document, "tee", "sgx", "tee"),
        (tdx_document, "tee", "simulated", "rtmr3_events: not allowed for a simulated image"),
        (snp_document, "tee", "simulated", "allow_vlek: not allowed for a simulated image"),
        (tdx_document, "builder", _DELETE, "missing member 'builder'"),
        (snp_document, "build", _DELETE, "missing member 'build'"),
        (simulated_document, "measurements.image", "1e" * 47, "measurements.image"),
        (simulated_document, "measurements.measurement", "1e" * 48, "unknown member"),
        (simulated_document, "measurements.image", _DELETE, "missing member 'image'"),
        (
            simulated_document,
            "builder",
            {"name": "x", "url": "https://x"},
            "missing member 'build'",
        ),
        (tdx_document, "extra", 1, "unknown member 'extra'"),
        (tdx_document, "name", "", "name"),
        (tdx_document, "name", "x" * 129, "name"),
        (tdx_document, "name", "caf\u00e9", "name"),
        (tdx_document, "measurements.rtmr2", _DELETE, "missing member 'rtmr2'"),
        (tdx_document, "measurements.rtmr3", "00" * 48, "unknown member 'rtmr3'"),
        (tdx_document, "measurements.mr_td", "a1" * 47, "measurements.mr_td"),
        (tdx_document, "measurements.mr_td", "zz" * 48, "measurements.mr_td"),
        (tdx_document, "measurements.mr_td", "a1 " * 32, "measurements.mr_td"),
        (tdx_document, "measurements.mr_td", 7, "measurements.mr_td"),
        (tdx_document, "rtmr3_events", ["00" * 47], r"rtmr3_events\[0\]"),
        (tdx_document, "rtmr3_events", "00" * 48, "rtmr3_events"),
        (tdx_document, "rtmr3_events", ["00" * 48] * (MAX_RTMR3_EVENTS + 1), "rtmr3_events"),
        (tdx_document, "allow_vlek", True, "allow_vlek: not allowed for a tdx image"),
        (snp_document, "rtmr3_events", [], "rtmr3_events: not allowed for a sev-snp image"),
        (snp_document, "allow_vlek", "yes", "allow_vlek"),
        (snp_document, "measurements.mr_td", "a1" * 48, "unknown member 'mr_td'"),
        (tdx_document, "builder.url", "http://images.example.com", "builder.url"),
        (tdx_document, "builder.email", "a@b", "unknown member 'email'"),
        (tdx_document, "build.commit", "0123456", "build.commit"),
        (tdx_document, "build.commit", "0123456789ABCDEF0123456789ABCDEF01234567", "build.commit"),
        (tdx_document, "build.date", "2026-02-01T10:00:00", "build.date"),
        (tdx_document, "build.date", "yesterday", "build.date"),
        (tdx_document, "build", _DELETE, "missing member 'build'"),
    ],
)
def test_bad_documents_are_refused(make: Any, path: str, value: Any, message: str) -> None:
    document = _set(make(), path, value)
    with pytest.raises(ImageReferenceError, match=message):
        _parse(document)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, SCHEMA)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"[]",
        b"\xef\xbb\xbf{}",
        b'{"format": "a", "format": "veil-image-reference"}',
        b'{"version": NaN}',
        b" " * (MAX_IMAGE_REFERENCE_BYTES + 1),
    ],
)
def test_non_strict_json_is_refused(data: bytes) -> None:
    with pytest.raises(ImageReferenceError):
        ImageReference.from_json(data)


@given(st.binary(max_size=512))
def test_any_bytes_raise_only_the_typed_error(data: bytes) -> None:
    with contextlib.suppress(ImageReferenceError):
        ImageReference.from_json(data)


def test_read_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "image.json"
    path.write_text('{"format": 1}')
    with pytest.raises(ImageReferenceError, match=str(path)):
        read_image_reference(path)
    with pytest.raises(OperationError):
        read_image_reference(tmp_path / "missing.json")
    path.write_bytes(b" " * (MAX_IMAGE_REFERENCE_BYTES + 1))
    with pytest.raises(FormatError, match="larger than"):
        read_image_reference(path)


@pytest.mark.parametrize("tee", [Tee.TDX, Tee.SEV_SNP])
def test_template_names_every_member(tee: Tee) -> None:
    template = image_reference_template(tee)
    document = tdx_document() if tee is Tee.TDX else snp_document()
    assert set(template) == set(document)
    assert set(template["measurements"]) == set(document["measurements"])
    with pytest.raises(ValueError, match="no image reference values"):
        image_reference_template(Tee.SGX)
