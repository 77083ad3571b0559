"""Fake device trees for the hardware backends: a plain tmp directory plus a small "kernel".

The fakes subclass the real :class:`OsDeviceFiles` and intercept only the paths whose kernel
behaviour a regular file cannot reproduce (a quote produced on read, a generation counter
bumped on write, an RTMR extended on write). Everything else is real file I/O.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from veil.enclave.backends._devfs import OsDeviceFiles

#: Offsets of REPORTDATA in a quote: SGX v3 (48-byte header + 320) and TDX v4 (48 + 520).
SGX_REPORT_DATA_OFFSET = 368
TDX_REPORT_DATA_OFFSET = 568
#: RTMR3 in a TDX v4 quote: header 48 + TD report body offset 472.
TDX_RTMR3_OFFSET = 520
#: SEV-SNP report: REPORT_DATA at 0x50, HOST_DATA at 0xC0.
SNP_REPORT_DATA_OFFSET = 0x50
SNP_HOST_DATA_OFFSET = 0xC0


def patch(blob: bytes, offset: int, value: bytes) -> bytes:
    return blob[:offset] + value + blob[offset + len(value) :]


class FakeGramine(OsDeviceFiles):
    """``/dev/attestation`` in ``root``: the ``quote`` file holds a real recorded quote.

    With ``bind_report_data`` the fake returns that quote with the last written
    ``user_report_data`` patched in (what Gramine does for a real enclave); without it, the
    recorded quote comes back unchanged (a stale or replayed quote).
    """

    def __init__(self, root: Path, quote: bytes, *, bind_report_data: bool) -> None:
        self.root = root
        self.bind_report_data = bind_report_data
        self.written: list[bytes] = []
        root.mkdir(parents=True, exist_ok=True)
        (root / "keys").mkdir(exist_ok=True)
        (root / "attestation_type").write_text("dcap")
        (root / "user_report_data").write_bytes(bytes(64))
        (root / "quote").write_bytes(quote)
        (root / "keys" / "_sgx_mrenclave").write_bytes(bytes(range(16)))

    def write(self, path: Path, data: bytes) -> None:
        super().write(path, data)
        if path == self.root / "user_report_data":
            self.written.append(data)

    def read(self, path: Path, *, max_bytes: int) -> bytes:
        data = super().read(path, max_bytes=max_bytes)
        if path == self.root / "quote" and self.bind_report_data and self.written:
            return patch(data, SGX_REPORT_DATA_OFFSET, self.written[-1])
        return data


class FakeTsmKernel(OsDeviceFiles):
    """configfs-tsm under ``report_dir`` and a TDX RTMR3 sysfs file, emulated.

    ``mkdir`` of an entry creates its attributes; writing ``inblob`` bumps ``generation``;
    reading ``outblob`` returns ``blob`` (a real TDX quote or SNP report) with the inblob and,
    for TDX, the current RTMR3 patched in (unless ``bind_report_data`` is false);
    ``concurrent_writes`` extra generation bumps are injected on the next N requests; writing
    the RTMR file extends it like TDG.MR.RTMR.EXTEND.
    """

    def __init__(
        self,
        report_dir: Path,
        *,
        provider: str,
        blob: bytes,
        rtmr_path: Path | None = None,
        bind_report_data: bool = True,
    ) -> None:
        self.report_dir = report_dir
        self.provider = provider
        self.blob = blob
        self.rtmr_path = rtmr_path
        self.bind_report_data = bind_report_data
        self.concurrent_writes = 0
        self.inblobs: list[bytes] = []
        self.entries_created: list[Path] = []
        self.extensions: list[bytes] = []
        self.extra_extension: bytes | None = None
        report_dir.mkdir(parents=True, exist_ok=True)
        if rtmr_path is not None:
            rtmr_path.parent.mkdir(parents=True, exist_ok=True)
            rtmr_path.write_bytes(bytes(48))

    def mkdir(self, path: Path) -> None:
        super().mkdir(path)
        self.entries_created.append(path)
        (path / "provider").write_text(self.provider + "\n")
        (path / "generation").write_text("0\n")
        (path / "inblob").write_bytes(b"")
        (path / "outblob").write_bytes(b"")

    def rmdir(self, path: Path) -> None:
        # configfs removes an entry with its attributes; a tmp directory needs rmtree.
        shutil.rmtree(path)

    def _bump(self, entry: Path, by: int = 1) -> None:
        generation = int((entry / "generation").read_text())
        (entry / "generation").write_text(f"{generation + by}\n")

    def write(self, path: Path, data: bytes) -> None:
        if self.rtmr_path is not None and path == self.rtmr_path:
            if len(data) != 48:
                raise AssertionError("RTMR writes must be 48 bytes")
            current = self.rtmr_path.read_bytes()
            self.rtmr_path.write_bytes(hashlib.sha384(current + data).digest())
            self.extensions.append(data)
            if self.extra_extension is not None:
                now = self.rtmr_path.read_bytes()
                self.rtmr_path.write_bytes(hashlib.sha384(now + self.extra_extension).digest())
            return
        super().write(path, data)
        if path.name == "inblob":
            self.inblobs.append(data)
            self._bump(path.parent)

    def read(self, path: Path, *, max_bytes: int) -> bytes:
        if path.name != "outblob":
            return super().read(path, max_bytes=max_bytes)
        entry = path.parent
        blob = self.blob
        if self.bind_report_data:
            inblob = (entry / "inblob").read_bytes()
            if self.provider == "sev_guest":
                blob = patch(blob, SNP_REPORT_DATA_OFFSET, inblob)
            else:
                blob = patch(blob, TDX_REPORT_DATA_OFFSET, inblob)
                if self.rtmr_path is not None:
                    blob = patch(blob, TDX_RTMR3_OFFSET, self.rtmr_path.read_bytes())
        if self.concurrent_writes > 0:
            self.concurrent_writes -= 1
            self._bump(entry)
        return blob
