"""Deterministic zips of a tree, many zips sharing most of their files: each file is compressed once.

Entries sorted by name, every timestamp 1980-01-01 00:00:00, mode 0644 (unix), deflate level 9, no
directory entries: the same files give byte-identical zips. The format is the plain one zipfile and
Lambda read (no zip64: a Lambda zip is far below 4 GiB and 65,535 entries). Compression runs on threads
(zlib releases the GIL), once per file whatever the number of zips holding it.
"""

from __future__ import annotations

import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--
_DOS_TIME = 0
_DOS_DATE = ((FIXED_DATE[0] - 1980) << 9) | (FIXED_DATE[1] << 5) | FIXED_DATE[2]
_VERSION = 20  # 2.0: deflate
_MADE_BY = (3 << 8) | _VERSION  # unix


class Compressed:
    """Each file of a tree, deflated once on first use (raw deflate, level 9), with its CRC and size."""

    def __init__(self, tree: Path) -> None:
        self.tree = tree
        self._done: dict[str, tuple[int, int, bytes]] = {}

    def prepare(self, names: list[str]) -> None:
        todo = sorted(set(names) - self._done.keys())
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            for name, result in zip(todo, pool.map(self._compress, todo), strict=True):
                self._done[name] = result

    def _compress(self, name: str) -> tuple[int, int, bytes]:
        data = (self.tree / name).read_bytes()
        deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
        return zlib.crc32(data), len(data), deflate.compress(data) + deflate.flush()

    def get(self, name: str) -> tuple[int, int, bytes]:
        if name not in self._done:
            self.prepare([name])
        return self._done[name]


def write_zip(compressed: Compressed, names: list[str], zip_path: Path) -> int:
    """Zip `names` (paths relative to the tree) into zip_path; returns the entry count."""
    names = sorted(names)
    compressed.prepare(names)
    if len(names) >= 0xFFFF:
        raise ValueError(f"{zip_path.name}: {len(names)} entries need zip64")
    central = []
    with zip_path.open("wb") as out:
        for name in names:
            crc, size, data = compressed.get(name)
            encoded = name.encode("utf-8")
            flags = 0x800 if not name.isascii() else 0
            offset = out.tell()
            out.write(
                struct.pack(
                    "<IHHHHHIIIHH",
                    0x04034B50,
                    _VERSION,
                    flags,
                    zlib.DEFLATED,
                    _DOS_TIME,
                    _DOS_DATE,
                    crc,
                    len(data),
                    size,
                    len(encoded),
                    0,
                )
            )
            out.write(encoded)
            out.write(data)
            central.append(
                struct.pack(
                    "<IHHHHHHIIIHHHHHII",
                    0x02014B50,
                    _MADE_BY,
                    _VERSION,
                    flags,
                    zlib.DEFLATED,
                    _DOS_TIME,
                    _DOS_DATE,
                    crc,
                    len(data),
                    size,
                    len(encoded),
                    0,
                    0,
                    0,
                    0,
                    FILE_MODE << 16,
                    offset,
                )
                + encoded
            )
        start = out.tell()
        if start >= 0xFFFFFFFF:
            raise ValueError(f"{zip_path.name}: larger than 4 GiB needs zip64")
        for record in central:
            out.write(record)
        size = out.tell() - start
        out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(names), len(names), size, start, 0))
    return len(names)
