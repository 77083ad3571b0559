"""What a verifier expects of an enclave: app, security config, runtime, image, measurement."""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import veil
from veil.attestation.errors import PolicyError
from veil.attestation.policy import AllOf, Policy, default_policy
from veil.attestation.result import Tee, VerifiedQuote
from veil.crypto.digest import format_tagged_sha256, parse_tagged_sha256
from veil.errors import BindingError, ConfigError, FormatError
from veil.identity.app import (
    expected_measurement,
    security_config_digest,
    snp_host_data,
    tdx_rtmr_event,
)
from veil.identity.environment import simulated_image_reference
from veil.identity.image import (
    SNP_RULE_FIELDS,
    ImageRequired,
    MatchesImage,
    guest_measurement,
    missing_image_message,
)
from veil.identity.measurement import Measurement
from veil.identity.reference import IMAGE_TEES, ImageReference, read_image_reference
from veil.identity.runtime import RuntimeIdentity, runtime_identity
from veil.package.encrypted import read_package_header
from veil.package.fingerprint import fingerprint_source
from veil.package.source import prepared_source
from veil.ratls.extension import RatlsClaims

__all__ = [
    "ExpectedApp",
    "MatchesMeasurement",
    "build_policy",
    "check_claims",
    "compared_registers",
    "image_for",
    "pinned_runtime",
    "runtime_pin",
]

#: The backend whose identity scheme measures a quote from each TEE (DESIGN.md, "Identity").
_BACKEND_OF_TEE = {
    Tee.SIMULATED: "simulated",
    Tee.TDX: "configfs-tsm",
    Tee.SEV_SNP: "configfs-tsm",
    Tee.SGX: "gramine-sgx",
}


@dataclass(frozen=True)
class MatchesMeasurement:
    """Policy rule: the verified quote carries every value of ``expected``."""

    expected: Measurement

    def check(self, verified: VerifiedQuote) -> None:
        if not self.expected.is_matched_by(verified.tee, verified.measurements):
            wanted = ", ".join(f"{k}={v}" for k, v in self.expected.values.items())
            got = ", ".join(
                f"{k}={verified.measurements.get(k, '(none)')}" for k in self.expected.values
            )
            raise PolicyError(
                "measurement",
                f"the enclave is not the expected runtime + app: expected "
                f"{self.expected.tee.value} {wanted}, got {verified.tee.value} {got}",
            )


@dataclass(frozen=True)
class ExpectedApp:
    """Everything a verifier may know in advance about the app it wants to reach.

    The verifier recomputes the measurement for (runtime, fingerprint, security-config digest)
    and so checks runtime *and* app through the quote. The digest comes from
    ``security_config_json`` (a package header or the source) when given; with the fingerprint
    alone it is the digest the enclave claims in its certificate. A lying claim cannot help:
    the quote's measurement covers the real digest, so the recomputed value would not match.
    (SGX is the exception: MRENCLAVE cannot be recomputed here; pass ``measurement``.)

    On TDX and SEV-SNP, ``image`` (the guest image's reference values) is required: the
    image registers are pinned, and RTMR3 / HOST_DATA are recomputed through that image.
    Simulated evidence is checked against a simulated ``image`` too, by default this
    machine's (:func:`image_for`).
    """

    fingerprint: str | None = None
    security_config_json: bytes | None = None
    #: The runtime the verifier trusts; default: the veil runtime installed here.
    runtime: RuntimeIdentity | None = None
    #: An explicit measurement (e.g. an MRENCLAVE from ``veil measure``); overrides recomputing.
    measurement: Measurement | None = None
    #: The guest image's reference values, required for TDX and SEV-SNP (``--image``); for
    #: simulated evidence, default: this machine's simulated image.
    image: ImageReference | None = None

    def __post_init__(self) -> None:
        if self.fingerprint is not None:
            try:
                parse_tagged_sha256(self.fingerprint)
            except Exception as e:
                raise ConfigError(f"invalid fingerprint {self.fingerprint!r}: {e}") from e
        if self.security_config_json is not None and self.fingerprint is None:
            raise ValueError("a security config is only meaningful with its fingerprint")
        if self.runtime is None and self.measurement is None:
            # Hash the installed runtime once per expectation, not once per check.
            object.__setattr__(self, "runtime", runtime_identity())

    @classmethod
    def from_package(cls, path: Path, *, image: ImageReference | None = None) -> ExpectedApp:
        """From an encrypted package's clear header (no key needed)."""
        header = read_package_header(path)
        return cls(
            fingerprint=header.fingerprint,
            security_config_json=header.security_config_json,
            image=image,
        )

    @classmethod
    def from_source(
        cls, directory: Path, *, find_links: Sequence[Path] = (), no_index: bool = False
    ) -> ExpectedApp:
        """Recomputed from the app's plaintext source, its dependencies vendored as when
        packaging (the same wheels give the same fingerprint). The image reference values are
        those ``[attestation] image`` in its ``veil.toml`` names, if any."""
        with prepared_source(directory, find_links=find_links, no_index=no_index) as source:
            computed = fingerprint_source(source)
            image_path = source.config.attestation.image_path(directory)
            return cls(
                fingerprint=computed.fingerprint,
                security_config_json=source.security.to_json(),
                image=read_image_reference(image_path) if image_path is not None else None,
            )

    @classmethod
    def from_options(
        cls,
        *,
        fingerprint: str | None = None,
        package: Path | None = None,
        source: Path | None = None,
        runtime_digest: str | None = None,
        runtime_version: str | None = None,
        image: ImageReference | None = None,
        find_links: Sequence[Path] = (),
        no_index: bool = False,
    ) -> ExpectedApp | None:
        """What ``veil verify URL`` expects, from its options; ``None`` for nothing at all.

        The app from at most one of ``fingerprint``, ``package`` and ``source`` (vendored with
        ``find_links`` / ``no_index``); a runtime pin (:func:`pinned_runtime`), which needs an
        app; ``image`` reference values, which win over those the source's ``veil.toml`` names.
        ``ConfigError`` names the options as ``veil verify`` spells them.
        """
        if sum(1 for given in (fingerprint, package, source) if given) > 1:
            raise ConfigError("give at most one of --fingerprint, --package, --source")
        runtime = pinned_runtime(runtime_digest, runtime_version)
        if fingerprint:
            expected = cls(fingerprint=fingerprint)
        elif package:
            expected = cls.from_package(package)
        elif source:
            expected = cls.from_source(source, find_links=find_links, no_index=no_index)
        elif runtime is not None:
            raise ConfigError(
                "--runtime-digest needs an expected app (--fingerprint, --package, …)"
            )
        elif image is not None:
            return cls(image=image)
        else:
            return None
        if image is not None:
            expected = replace(expected, image=image)
        return expected if runtime is None else replace(expected, runtime=runtime)

    @property
    def checks_code(self) -> bool:
        return self.fingerprint is not None or self.measurement is not None

    def trusted_runtime(self) -> RuntimeIdentity:
        return self.runtime if self.runtime is not None else runtime_identity()

    def expected_config_digest(self) -> str | None:
        """``sha256:`` of the expected security config, when the verifier has it."""
        if self.security_config_json is None:
            return None
        return format_tagged_sha256(security_config_digest(self.security_config_json))

    def _config_digest(self, claims: RatlsClaims | None) -> bytes | None:
        config_digest = self.expected_config_digest()
        if config_digest is None and claims is not None:
            config_digest = claims.security_config_digest
        return None if config_digest is None else parse_tagged_sha256(config_digest)

    def app_register_for(self, tee: Tee, *, claims: RatlsClaims | None = None) -> bytes | None:
        """veil's RTMR3 event (TDX) or the HOST_DATA (SEV-SNP) for the expected app, or
        ``None`` without a fingerprint or a security-config digest."""
        config_digest = self._config_digest(claims)
        if self.fingerprint is None or config_digest is None:
            return None
        compute = tdx_rtmr_event if tee is Tee.TDX else snp_host_data
        return compute(self.trusted_runtime(), self.fingerprint, config_digest)

    def expected_measurement_for(
        self, tee: Tee, *, claims: RatlsClaims | None = None
    ) -> Measurement | None:
        """The measurement a ``tee`` quote must carry, or ``None`` if it cannot be computed.

        Without ``security_config_json`` the security-config digest the enclave ``claims`` is
        used (see the class docstring); without either, nothing can be computed. On TDX and
        SEV-SNP with ``image``: the image registers and the app register through that image.
        """
        if self.measurement is not None:
            return self.measurement
        if self.fingerprint is None:
            return None
        if tee in IMAGE_TEES and self.image is not None and self.image.tee is tee:
            app_register = self.app_register_for(tee, claims=claims)
            return None if app_register is None else guest_measurement(self.image, app_register)
        config_digest = self._config_digest(claims)
        if config_digest is None:
            return None
        backend = _BACKEND_OF_TEE[tee]
        if backend == "gramine-sgx":
            if self.security_config_json is None:
                # Fingerprint only: as before, the claim is compared and the result says the
                # measurement was not checked.
                return None
            raise ConfigError(
                "an SGX enclave's MRENCLAVE cannot be recomputed here: pass the measurement "
                "from `veil measure` (gramine-sgx-sign) explicitly"
            )
        return expected_measurement(
            backend=backend,
            runtime=self.trusted_runtime(),
            fingerprint=self.fingerprint,
            security_config_digest=config_digest,
            tee=tee,
        )


def runtime_pin(digest: str, version: str | None = None) -> RuntimeIdentity:
    """The runtime a verifier trusts instead of the installed one (``--runtime-digest``).

    ``digest`` is ``sha256:<hex>`` or the 64 hex digits alone; ``version`` defaults to the
    installed veil's version (the digest covers the runtime's files, its version string too).
    """
    text = digest.strip().lower()
    tagged = text if text.startswith("sha256:") else f"sha256:{text}"
    try:
        return RuntimeIdentity(version=version or veil.__version__, digest=tagged)
    except FormatError as e:
        raise ConfigError(f"invalid runtime pin {digest!r}: {e}") from e


def pinned_runtime(digest: str | None, version: str | None = None) -> RuntimeIdentity | None:
    """:func:`runtime_pin` of ``--runtime-digest`` / ``--runtime-version``, or ``None`` (the
    installed runtime) without a digest; a version alone is a ``ConfigError``."""
    if digest is None:
        if version is not None:
            raise ConfigError("--runtime-version goes with --runtime-digest")
        return None
    return runtime_pin(digest, version)


def image_for(expected: ExpectedApp | None, tee: Tee) -> ImageReference | None:
    """The image reference values a ``tee`` quote is checked against.

    The expected app's ``image`` if any; otherwise, for simulated evidence, the simulated
    image of this machine, computed as a simulated node computes its own (the runtime
    identity defaults to the installed runtime the same way); otherwise ``None``.
    """
    image = expected.image if expected is not None else None
    if image is None and tee is Tee.SIMULATED:
        return simulated_image_reference()
    return image


def build_policy(
    expected: ExpectedApp | None,
    tee: Tee,
    *,
    claims: RatlsClaims | None = None,
    allow_simulated_insecure: bool,
    allow_debug_insecure: bool = False,
) -> AllOf:
    """veil's default policy, plus the measurement ``expected`` implies for a ``tee`` quote
    (computed with the enclave's ``claims`` where the verifier lacks the security config).

    TDX and SEV-SNP need ``expected.image``: without it ``PolicyError`` naming ``--image`` is
    raised at once, and the policy refuses such quotes anyway (should ``tee`` be wrong).
    Simulated quotes are checked against :func:`image_for` (this machine's simulated image
    unless ``expected.image`` pins one). An image of another TEE than ``tee`` is refused.
    """
    extra: list[Policy] = []
    image = image_for(expected, tee)
    if image is not None and image.tee is not tee:
        raise PolicyError(
            "image",
            f"the image reference values are for {image.tee.value}, the enclave is {tee.value}",
        )
    if tee in IMAGE_TEES:
        if image is None:
            raise PolicyError("image", missing_image_message(tee))
        app_register = expected.app_register_for(tee, claims=claims) if expected else None
        extra.append(MatchesImage(image, app_register))
    else:
        # A TDX or SEV-SNP quote behind a ``tee`` that said otherwise is refused all the same.
        extra.append(ImageRequired())
        if image is not None:
            extra.append(MatchesImage(image))
    if expected is not None and (tee not in IMAGE_TEES or expected.measurement is not None):
        measurement = expected.expected_measurement_for(tee, claims=claims)
        if measurement is not None:
            extra.append(MatchesMeasurement(measurement))
    return default_policy(
        expected=extra,
        allow_simulated_insecure=allow_simulated_insecure,
        allow_debug_insecure=allow_debug_insecure,
        allow_snp_vlek=image is not None and image.allow_vlek,
    )


def compared_registers(
    expected: ExpectedApp | None,
    verified: VerifiedQuote,
    *,
    claims: RatlsClaims | None = None,
) -> Mapping[str, str]:
    """The registers :func:`build_policy` compared for ``verified``, with their values.

    For reports: every value listed here was required by the policy that accepted the quote.
    """
    tee = verified.tee
    names: list[str] = []
    image = image_for(expected, tee)
    if image is not None and image.tee is tee:
        app_register = None
        if expected is not None and tee in IMAGE_TEES:
            app_register = expected.app_register_for(tee, claims=claims)
        names.extend(guest_measurement(image, app_register).values)
    if expected is not None:
        measurement = expected.expected_measurement_for(tee, claims=claims)
        if measurement is not None:
            names.extend(name for name in measurement.values if name not in names)
    if tee is Tee.SEV_SNP:
        names.extend(SNP_RULE_FIELDS)
    return {name: verified.measurements.get(name, "") for name in names}


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def check_claims(claims: RatlsClaims | None, expected: ExpectedApp | None) -> None:
    """Compare what the enclave's certificate claims with what the verifier expects.

    Refuses an app fingerprint or runtime other than the expected one, with a message that
    says which, before the (less readable) measurement mismatch would.
    """
    if expected is None or expected.fingerprint is None:
        return
    if claims is None:
        raise BindingError("the enclave's certificate names no app fingerprint")
    claimed = claims.app_fingerprint
    if not _equal(claimed, expected.fingerprint):
        raise BindingError(
            f"the enclave runs app {claimed}, not the expected {expected.fingerprint}"
        )
    config_digest = expected.expected_config_digest()
    if config_digest is not None and not _equal(claims.security_config_digest, config_digest):
        raise BindingError(
            f"the enclave's security config is {claims.security_config_digest}, not the "
            f"expected {config_digest}"
        )
    if expected.measurement is not None:
        return
    runtime = expected.trusted_runtime()
    same_digest = _equal(claims.runtime_digest, runtime.digest)
    if not same_digest or claims.runtime_version != runtime.version:
        raise BindingError(
            f"the enclave runs veil runtime {claims.runtime_version} ({claims.runtime_digest}), "
            f"not the trusted {runtime.version} ({runtime.digest})"
        )
