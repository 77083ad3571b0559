"""Fuzz harness: CRLs (DER, PEM or hex) through reading, signature and revocation checks."""

from __future__ import annotations

from pathlib import Path

from fuzz._harness import Harness, main, typed, vectors_dir
from fuzz._real import NOW, real_bundles
from veil.attestation._collateral_fields import read_crl
from veil.attestation.pki import check_not_revoked, check_windows, load_pem_chain, verify_crl


def fuzz_one(data: bytes) -> None:
    with typed():
        read_crl(data, "crl")
    pck_ca, root = load_pem_chain(
        real_bundles(vectors_dir())["sgx"].collateral.pck_crl_issuer_chain, step="-", what="-"
    )
    for issuer in (pck_ca, root):
        with typed():
            crl = verify_crl(data, issuer=issuer, step="2.6", what="CRL")
            check_windows([crl.window("2.7", "CRL")], NOW, allow_expired=False)
            check_not_revoked(pck_ca, crl, step="2.8", what="the PCK CA")


def seeds(vectors: Path) -> list[bytes]:
    collateral = real_bundles(vectors)["sgx"].collateral
    return [collateral.pck_crl, collateral.root_ca_crl]


HARNESS = Harness(fuzz_one, seeds)

if __name__ == "__main__":
    main(HARNESS)
