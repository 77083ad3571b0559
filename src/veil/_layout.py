"""Fixed binary layouts as tables of (name, offset, little-endian struct format)."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field

__all__ = ["Field", "Layout", "Unpacked"]


@dataclass(frozen=True)
class Field:
    """One field of a layout: ``fmt`` is a ``struct`` format that must start with ``<``."""

    name: str
    offset: int
    fmt: str

    def __post_init__(self) -> None:
        if not self.fmt.startswith("<"):
            raise ValueError(f"field {self.name}: wire formats must be little-endian ('<')")

    @property
    def size(self) -> int:
        return struct.calcsize(self.fmt)


@dataclass(frozen=True)
class Unpacked:
    """The values of one record, with typed accessors (a wrong accessor is a programming error)."""

    values: Mapping[str, int | bytes]

    def bytes_(self, name: str) -> bytes:
        value = self.values[name]
        if not isinstance(value, bytes):
            raise TypeError(f"field {name} is an integer, not bytes")
        return value

    def int_(self, name: str) -> int:
        value = self.values[name]
        if not isinstance(value, int):
            raise TypeError(f"field {name} is bytes, not an integer")
        return value


@dataclass(frozen=True)
class Layout:
    """A contiguous record: fields follow each other without gaps and end at ``size``.

    The constructor checks the table against the size the specification states, so a typo
    in an offset or a format fails at import time rather than mis-parsing quotes.
    """

    name: str
    size: int
    fields: tuple[Field, ...]
    _by_name: dict[str, Field] = dataclass_field(init=False, repr=False, compare=False)
    #: All fields as one little-endian struct (contiguous, so no padding): one C call per record.
    _struct: struct.Struct = dataclass_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        position = 0
        for item in self.fields:
            if item.offset != position:
                raise ValueError(
                    f"{self.name}.{item.name}: offset {item.offset}, expected {position}"
                )
            position += item.size
        if position != self.size:
            raise ValueError(
                f"{self.name}: fields add up to {position} bytes, spec says {self.size}"
            )
        by_name = {item.name: item for item in self.fields}
        if len(by_name) != len(self.fields):
            raise ValueError(f"{self.name}: duplicate field names")
        object.__setattr__(self, "_by_name", by_name)
        whole = struct.Struct("<" + "".join(item.fmt[1:] for item in self.fields))
        if whole.size != self.size or len(whole.unpack(bytes(whole.size))) != len(self.fields):
            raise ValueError(f"{self.name}: every field must be one value, without padding")
        object.__setattr__(self, "_struct", whole)

    @classmethod
    def of(cls, name: str, size: int, table: tuple[tuple[str, int, str], ...]) -> Layout:
        """Build a layout from ``(name, offset, fmt)`` rows."""
        return cls(name, size, tuple(Field(n, o, f) for n, o, f in table))

    @property
    def total(self) -> int:
        """The sum of the field sizes (equal to ``size`` by construction)."""
        return sum(item.size for item in self.fields)

    def field(self, name: str) -> Field:
        return self._by_name[name]

    @property
    def struct(self) -> struct.Struct:
        """The whole record as one compiled struct, values in table order (for hot paths that
        pack positionally; ``pack`` checks the names)."""
        return self._struct

    def pack(self, **values: int | bytes) -> bytes:
        """Pack one record from the value of every field, by name."""
        if values.keys() != self._by_name.keys():
            raise ValueError(f"{self.name}: pack needs exactly the fields {list(self._by_name)}")
        return self._struct.pack(*(values[name] for name in self._by_name))

    def unpack(self, data: bytes) -> Unpacked:
        """Unpack exactly ``size`` bytes; the caller has already checked the length."""
        if len(data) != self.size:
            raise ValueError(f"{self.name} needs {self.size} bytes, got {len(data)}")
        return Unpacked(dict(zip(self._by_name, self._struct.unpack(data), strict=True)))
