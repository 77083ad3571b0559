"""Object identifiers of the RA-TLS evidence extensions veil writes and reads."""

from __future__ import annotations

from typing import Final

from cryptography.x509 import ObjectIdentifier

__all__ = [
    "COSMIAN_SGX_QUOTE_OID",
    "COSMIAN_TDX_QUOTE_OID",
    "GRAMINE_LEGACY_QUOTE_OID",
    "TCG_DICE_TAGGED_EVIDENCE_OID",
    "VEIL_ARC",
    "VEIL_EVIDENCE_OID",
]

#: veil's own arc: ``2.25.<UUID as an integer>`` (ITU-T X.667, no registration needed), from the
#: UUID c3680c9f-296f-46eb-95eb-6adf600a6803 generated once for veil. Never change it.
VEIL_ARC: Final = "2.25.259739714050362711957778188605227427843"
#: veil's RA-TLS evidence extension (a versioned CBOR map, ``docs/formats.md``).
VEIL_EVIDENCE_OID: Final = ObjectIdentifier(f"{VEIL_ARC}.1")

#: Gramine's legacy quote extension. Gramine (``tools/sgx/ra-tls/ra_tls.h``) wrote the DER tag and
#: length ``06 09`` *inside* the OID value, so standard parsers read this odd dotted form; the
#: value is the raw SGX quote.
GRAMINE_LEGACY_QUOTE_OID: Final = ObjectIdentifier("0.6.9.42.840.113741.1337.6")
#: TCG DICE "tagged evidence" (``tcg-dice-conceptual-message-wrapper``), used by Gramine ≥ 1.8:
#: CBOR tag 60000 over ``[quote, claims]``.
TCG_DICE_TAGGED_EVIDENCE_OID: Final = ObjectIdentifier("2.23.133.5.4.9")
#: Cosmian (intel-sgx-ra, cosmian_enclave, tee-tools): the raw quote, SGX (``.6``) / TDX (``.8``).
COSMIAN_SGX_QUOTE_OID: Final = ObjectIdentifier("1.2.840.113741.1337.6")
COSMIAN_TDX_QUOTE_OID: Final = ObjectIdentifier("1.2.840.113741.1337.8")
