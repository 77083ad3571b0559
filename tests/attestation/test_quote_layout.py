"""The binary layout tables of quotes add up to the sizes Intel's specs state."""

from __future__ import annotations

import pytest

from veil._layout import Field, Layout
from veil.attestation._reports import (
    ENCLAVE_REPORT_LAYOUT,
    TD_REPORT_10_LAYOUT,
    TD_REPORT_15_EX_LAYOUT,
    TD_REPORT_15_LAYOUT,
)
from veil.attestation.quote import HEADER_LAYOUT


@pytest.mark.parametrize(
    ("layout", "spec_size"),
    [
        (HEADER_LAYOUT, 48),
        (ENCLAVE_REPORT_LAYOUT, 384),
        (TD_REPORT_10_LAYOUT, 584),
        (TD_REPORT_15_LAYOUT, 648),
        (TD_REPORT_15_EX_LAYOUT, 885),
    ],
    ids=lambda value: value.name if isinstance(value, Layout) else str(value),
)
def test_layout_total_equals_spec_size(layout: Layout, spec_size: int) -> None:
    assert layout.size == spec_size
    assert layout.total == spec_size
    assert sum(item.size for item in layout.fields) == spec_size


@pytest.mark.parametrize(
    "layout",
    [HEADER_LAYOUT, ENCLAVE_REPORT_LAYOUT, TD_REPORT_10_LAYOUT, TD_REPORT_15_EX_LAYOUT],
    ids=lambda layout: layout.name,
)
def test_every_field_is_little_endian(layout: Layout) -> None:
    assert all(item.fmt.startswith("<") for item in layout.fields)


@pytest.mark.parametrize(
    ("layout", "name", "offset", "size"),
    [
        # Offsets named in the vectors README (quote offset minus the 48-byte header).
        (HEADER_LAYOUT, "tee_type", 4, 4),
        (HEADER_LAYOUT, "qe_vendor_id", 12, 16),
        (HEADER_LAYOUT, "user_data", 28, 20),
        (ENCLAVE_REPORT_LAYOUT, "mr_enclave", 112 - 48, 32),
        (ENCLAVE_REPORT_LAYOUT, "mr_signer", 128, 32),
        (ENCLAVE_REPORT_LAYOUT, "isv_prod_id", 256, 2),
        (ENCLAVE_REPORT_LAYOUT, "report_data", 368 - 48, 64),
        (TD_REPORT_10_LAYOUT, "mr_td", 184 - 48, 48),
        (TD_REPORT_10_LAYOUT, "td_attributes", 120, 8),
        (TD_REPORT_10_LAYOUT, "rtmr3", 472, 48),
        (TD_REPORT_10_LAYOUT, "report_data", 568 - 48, 64),
        (TD_REPORT_15_LAYOUT, "mr_service_td", 600, 48),
        # dcap-qvl 0.7.0's TD 1.5-ex test: vm_id at 648, td_id 649..681, dev_info at 681,
        # the last field ends the 885-byte body.
        (TD_REPORT_15_EX_LAYOUT, "vm_id", 648, 1),
        (TD_REPORT_15_EX_LAYOUT, "td_id", 649, 32),
        (TD_REPORT_15_EX_LAYOUT, "dev_info", 681, 48),
        (TD_REPORT_15_EX_LAYOUT, "cur_service_td_attributes", 877, 8),
    ],
)
def test_named_field_offsets(layout: Layout, name: str, offset: int, size: int) -> None:
    item = layout.field(name)
    assert (item.offset, item.size) == (offset, size)


def test_layout_refuses_a_gap() -> None:
    with pytest.raises(ValueError, match=r"b: offset 5, expected 4"):
        Layout.of("Gap", 9, (("a", 0, "<I"), ("b", 5, "<I")))


def test_layout_refuses_a_wrong_total() -> None:
    with pytest.raises(ValueError, match="add up to 8 bytes, spec says 9"):
        Layout.of("Short", 9, (("a", 0, "<I"), ("b", 4, "<I")))


def test_layout_refuses_native_byte_order() -> None:
    with pytest.raises(ValueError, match="little-endian"):
        Field("a", 0, "I")


def test_unpack_requires_the_exact_size() -> None:
    with pytest.raises(ValueError, match="needs 48 bytes"):
        HEADER_LAYOUT.unpack(bytes(47))


def test_unpacked_accessors_are_typed() -> None:
    values = HEADER_LAYOUT.unpack(bytes(48))
    assert values.int_("version") == 0
    assert values.bytes_("user_data") == bytes(20)
    with pytest.raises(TypeError):
        values.bytes_("version")
    with pytest.raises(TypeError):
        values.int_("user_data")
