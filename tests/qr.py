"""Reading a QR code the way a phone would: the inline SVG a page carries is drawn as pixels and
decoded by ZXing, so a test checks what the code says rather than how it was made; or the browser's own
screenshot of it (a PNG) is read, so a test checks what a person's phone camera would see."""

from __future__ import annotations

import re
import struct
import zlib

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


def png_qr_text(png: bytes) -> str:
    """The text of the QR code in a screenshot (Chromium's PNG: 8-bit RGB or RGBA, not interlaced), read
    without an imaging library: the PNG's rows unfiltered into grey pixels for ZXing."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    at, data = 8, bytearray()
    width = height = channels = 0
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, body = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            data += body
        at += 12 + length
    raw = zlib.decompress(bytes(data))
    stride = width * channels
    previous = bytearray(stride)
    grey = bytearray()
    for r in range(height):
        start = r * (stride + 1)
        method, row = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = row[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if method == 1:
                row[i] = (row[i] + left) & 0xFF
            elif method == 2:
                row[i] = (row[i] + up) & 0xFF
            elif method == 3:
                row[i] = (row[i] + (left + up) // 2) & 0xFF
            elif method == 4:
                guess = left + up - corner
                nearest = min(
                    (abs(guess - left), 0, left), (abs(guess - up), 1, up), (abs(guess - corner), 2, corner)
                )
                row[i] = (row[i] + nearest[2]) & 0xFF
        grey += bytes((row[i] + row[i + 1] + row[i + 2]) // 3 for i in range(0, stride, channels))
        previous = row
    read = zxingcpp.read_barcode(memoryview(bytes(grey)).cast("B", shape=[height, width]))
    assert read is not None and read.valid, "the QR code in the screenshot does not decode"
    return str(read.text)
