"""The Intel SGX extension of PCK certificates: FMSPC, PCE-ID, TCB components, PCE SVN.

``cryptography`` does not decode Intel's private extension, so a small strict DER reader
walks it here. Layout: Intel "SGX PCK Certificate and CRL Profile" §1.3.5, OID
1.2.840.113741.1.13.1; every member is a ``SEQUENCE { OBJECT IDENTIFIER, value }``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from veil.errors import FormatError

__all__ = [
    "SGX_EXTENSION_OID",
    "PckCaType",
    "PckExtension",
    "PckExtensionError",
    "pck_ca_type_of",
]

SGX_EXTENSION_OID = x509.ObjectIdentifier("1.2.840.113741.1.13.1")
_BASE = "1.2.840.113741.1.13.1"
_PPID = f"{_BASE}.1"
_TCB = f"{_BASE}.2"
_PCESVN = f"{_TCB}.17"
_CPUSVN = f"{_TCB}.18"
_PCEID = f"{_BASE}.3"
_FMSPC = f"{_BASE}.4"
_SGX_TYPE = f"{_BASE}.5"
_PLATFORM_INSTANCE_ID = f"{_BASE}.6"
_CONFIGURATION = f"{_BASE}.7"
_REQUIRED = (_PPID, _TCB, _PCEID, _FMSPC, _SGX_TYPE)
_KNOWN = (*_REQUIRED, _PLATFORM_INSTANCE_ID, _CONFIGURATION)
#: TCB component SVNs 1..16 (compared against TCB info ``sgxtcbcomponents``).
_COMPONENT_COUNT = 16

#: An SGX extension is ~500 bytes; anything past this is not a PCK certificate.
MAX_SGX_EXTENSION_BYTES = 4096

_TAG_INTEGER = 0x02
_TAG_OCTET_STRING = 0x04
_TAG_OID = 0x06
_TAG_ENUMERATED = 0x0A
_TAG_SEQUENCE = 0x30

#: (tag, content start, content end) of one DER TLV.
_TlvSpan = tuple[int, int, int]


class PckExtensionError(FormatError):
    """A PCK certificate lacks the SGX extension or it is malformed."""


class PckCaType(enum.StrEnum):
    """Which Intel CA issued a PCK certificate (and so which PCK CRL covers it)."""

    PROCESSOR = "processor"
    PLATFORM = "platform"


_CA_COMMON_NAMES = {
    "Intel SGX PCK Processor CA": PckCaType.PROCESSOR,
    "Intel SGX PCK Platform CA": PckCaType.PLATFORM,
}


def pck_ca_type_of(certificate: x509.Certificate) -> PckCaType:
    """The CA type named by a PCK certificate's issuer (also the PCK CRL's ``ca`` parameter)."""
    try:
        names = certificate.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError as e:  # cryptography decodes the issuer lazily, here
        raise PckExtensionError(f"PCK certificate issuer is malformed: {e}") from e
    common_name = names[0].value if len(names) == 1 else None
    ca_type = _CA_COMMON_NAMES.get(common_name) if isinstance(common_name, str) else None
    if ca_type is None:
        raise PckExtensionError(f"PCK certificate issuer {common_name!r} is not an Intel PCK CA")
    return ca_type


def _tlv(data: bytes, position: int, limit: int, expected_tag: int | None, what: str) -> _TlvSpan:
    """(tag, content start, content end) of the definite-length DER TLV at ``position``, which
    must end by ``limit``; ``expected_tag`` None accepts any tag. Errors are PckExtensionError.

    Positions rather than sliced readers: this runs ~25 times per PCK certificate.
    """
    if position + 2 > limit:
        raise PckExtensionError(f"SGX extension truncated at {what}")
    tag, first = data[position], data[position + 1]
    if expected_tag is not None and tag != expected_tag:
        raise PckExtensionError(f"SGX extension: {what} has tag {tag:#x}, not {expected_tag:#x}")
    position += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        # 0x80 (indefinite) is BER, not DER; four length bytes already exceed the limit.
        if count == 0 or count > 2 or position + count > limit:
            raise PckExtensionError(f"SGX extension: bad length encoding at {what}")
        length = int.from_bytes(data[position : position + count], "big")
        if length < 0x80 or (count == 2 and length < 0x100):
            raise PckExtensionError(f"SGX extension: non-minimal length at {what}")
        position += count
    end = position + length
    if end > limit:
        raise PckExtensionError(f"SGX extension truncated inside {what}")
    return tag, position, end


def _encode_oid(dotted: str) -> bytes:
    """DER body of an OBJECT IDENTIFIER, so members are found by comparing bytes."""
    arcs = [int(arc) for arc in dotted.split(".")]
    body = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        rest = arc >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        body.extend(reversed(chunk))
    return bytes(body)


_NAMES = {_encode_oid(oid): oid for oid in _KNOWN}
_TCB_NAMES = {
    _encode_oid(f"{_TCB}.{index}"): f"{_TCB}.{index}" for index in range(1, _COMPONENT_COUNT + 3)
}
_COMPONENT_OIDS = tuple(f"{_TCB}.{index}" for index in range(1, _COMPONENT_COUNT + 1))
_TCB_MEMBERS = frozenset({*_COMPONENT_OIDS, _PCESVN, _CPUSVN})


def _unsigned(body: bytes, what: str, *, maximum: int) -> int:
    if not body or body[0] & 0x80 or (len(body) > 1 and body[0] == 0 and not body[1] & 0x80):
        raise PckExtensionError(f"SGX extension: {what} is not a minimal non-negative INTEGER")
    value = int.from_bytes(body, "big")
    if value > maximum:
        raise PckExtensionError(f"SGX extension: {what} = {value} exceeds {maximum}")
    return value


def _members(body: bytes, what: str, names: dict[bytes, str]) -> dict[str, tuple[int, bytes]]:
    """The content of SEQUENCE OF SEQUENCE { OID, value } → {oid: (value tag, value body)}.

    Only OIDs in ``names`` are accepted; each may appear once.
    """
    members: dict[str, tuple[int, bytes]] = {}
    position, limit = 0, len(body)
    while position < limit:
        _, pair_start, pair_end = _tlv(body, position, limit, _TAG_SEQUENCE, what)
        _, oid_start, oid_end = _tlv(body, pair_start, pair_end, _TAG_OID, what)
        oid = names.get(body[oid_start:oid_end])
        if oid is None:
            raise PckExtensionError(f"SGX extension: {what} has an unknown member")
        tag, value_start, value_end = _tlv(body, oid_end, pair_end, None, oid)
        if value_end != pair_end:
            raise PckExtensionError(f"SGX extension: {oid} has trailing bytes")
        if oid in members:
            raise PckExtensionError(f"SGX extension: {oid} appears twice")
        members[oid] = (tag, body[value_start:value_end])
        position = pair_end
    return members


def _octets(members: dict[str, tuple[int, bytes]], oid: str, what: str, size: int) -> bytes:
    tag, value = members[oid]
    if tag != _TAG_OCTET_STRING or len(value) != size:
        raise PckExtensionError(f"SGX extension: {what} must be an OCTET STRING of {size} bytes")
    return value


@dataclass(frozen=True, kw_only=True)
class PckExtension:
    """The platform identity and TCB a PCK certificate attests (all values as Intel encodes)."""

    ppid: bytes
    #: SGX TCB component SVNs 1..16, one byte each (compared with TCB info levels).
    tcb_components: bytes
    pce_svn: int
    #: The raw CPUSVN the certificate was issued for (informational).
    cpu_svn: bytes
    pce_id: bytes
    fmspc: bytes
    sgx_type: int
    platform_instance_id: bytes | None

    @classmethod
    def from_der(cls, data: bytes) -> PckExtension:
        """Decode the extension value (the DER SEQUENCE inside the X.509 extension)."""
        if len(data) > MAX_SGX_EXTENSION_BYTES:
            raise PckExtensionError(f"SGX extension is more than {MAX_SGX_EXTENSION_BYTES} bytes")
        _, start, end = _tlv(data, 0, len(data), _TAG_SEQUENCE, "SGX extension")
        members = _members(data[start:end], "SGX extension", _NAMES)
        if end != len(data):
            raise PckExtensionError("SGX extension has trailing bytes")
        for oid in _REQUIRED:
            if oid not in members:
                raise PckExtensionError(f"SGX extension lacks {oid}")

        tcb_tag, tcb_body = members[_TCB]
        if tcb_tag != _TAG_SEQUENCE:
            raise PckExtensionError("SGX extension: TCB is not a SEQUENCE")
        tcb = _members(tcb_body, "TCB", _TCB_NAMES)
        if tcb.keys() != _TCB_MEMBERS:
            raise PckExtensionError("SGX extension: TCB must hold components 1-16, PCESVN, CPUSVN")
        components = bytearray()
        for index, oid in enumerate(_COMPONENT_OIDS, start=1):
            tag, body = tcb[oid]
            if tag != _TAG_INTEGER:
                raise PckExtensionError(f"SGX extension: TCB component {index} is not an INTEGER")
            components.append(_unsigned(body, f"TCB component {index}", maximum=0xFF))
        pce_tag, pce_body = tcb[_PCESVN]
        if pce_tag != _TAG_INTEGER:
            raise PckExtensionError("SGX extension: PCESVN is not an INTEGER")

        sgx_type_tag, sgx_type_body = members[_SGX_TYPE]
        if sgx_type_tag != _TAG_ENUMERATED:
            raise PckExtensionError("SGX extension: SGX type is not ENUMERATED")
        return cls(
            ppid=_octets(members, _PPID, "PPID", 16),
            tcb_components=bytes(components),
            pce_svn=_unsigned(pce_body, "PCESVN", maximum=0xFFFF),
            cpu_svn=_octets(tcb, _CPUSVN, "CPUSVN", 16),
            pce_id=_octets(members, _PCEID, "PCE-ID", 2),
            fmspc=_octets(members, _FMSPC, "FMSPC", 6),
            sgx_type=_unsigned(sgx_type_body, "SGX type", maximum=0xFF),
            platform_instance_id=(
                _octets(members, _PLATFORM_INSTANCE_ID, "platform instance id", 16)
                if _PLATFORM_INSTANCE_ID in members
                else None
            ),
        )

    @classmethod
    def from_certificate(cls, certificate: x509.Certificate) -> PckExtension:
        try:
            extension = certificate.extensions.get_extension_for_oid(SGX_EXTENSION_OID)
        except x509.ExtensionNotFound as e:
            raise PckExtensionError("the PCK certificate has no SGX extension") from e
        except (ValueError, x509.DuplicateExtension) as e:  # duplicate or malformed extensions
            raise PckExtensionError(f"the PCK certificate's extensions are malformed: {e}") from e
        value = extension.value
        if not isinstance(value, x509.UnrecognizedExtension):  # pragma: no cover - private OID
            raise PckExtensionError("the SGX extension was decoded unexpectedly")
        return cls.from_der(value.value)
