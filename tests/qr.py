"""Reading a QR code the way a phone would: the inline SVG a page carries is drawn as pixels and
decoded by ZXing, so a test checks what the code says rather than how it was made."""

from __future__ import annotations

import re

import zxingcpp

PIXELS_PER_MODULE = 4
QUIET_ZONE = 4


def svg_qr_text(svg: str) -> str:
    """The text of the QR code drawn by the first ``<path d=…>`` of ``svg`` (segno's line drawing:
    ``M``/``m`` moves, ``h`` a run of dark modules along the row)."""
    found = re.search(r'<path[^>]* d="([^"]+)"', svg)
    assert found, "no QR path in the SVG"
    dark: set[tuple[int, int]] = set()
    x = y = 0.0
    for command, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", found.group(1)):
        if command == "M":
            x, y = float(a), float(b)
        elif command == "m":
            x, y = x + float(a), y + float(b)
        else:
            dark.update((int(x) + i, int(y)) for i in range(int(float(a))))
            x += float(a)
    assert dark, "an empty QR path"
    size = max(max(c for c, _ in dark), max(r for _, r in dark)) + 1 + QUIET_ZONE
    rows = bytearray()
    for r in range(size):
        line = b"".join((b"\x00" if (c, r) in dark else b"\xff") * PIXELS_PER_MODULE for c in range(size))
        rows += line * PIXELS_PER_MODULE
    side = size * PIXELS_PER_MODULE
    read = zxingcpp.read_barcode(memoryview(bytes(rows)).cast("B", shape=[side, side]))
    assert read is not None and read.valid, "the QR code does not decode"
    return str(read.text)
