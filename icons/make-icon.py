#!/usr/bin/env python3
"""Draws Ream's icon (a ream of paper on a blue tile) as a 512x512 RGBA PNG, with no
dependency beyond Python: `python3 icons/make-icon.py icons/icon.png`. The other sizes
that src-tauri/tauri.conf.json lists are scaled from it with ImageMagick:
`convert icons/icon.png -resize 32x32 PNG32:icons/32x32.png` (also 128x128, and
256x256 as 128x128@2x.png). Tauri needs RGBA (PNG32)."""
import struct, sys, zlib

N = 512
BLUE, SHADE, WHITE, LINE = (37, 84, 199), (27, 62, 150), (255, 255, 255), (120, 150, 220)

def inside_rounded(x, y, x0, y0, x1, y1, r):
    if not (x0 <= x < x1 and y0 <= y < y1):
        return False
    cx = min(max(x, x0 + r), x1 - r - 1)
    cy = min(max(y, y0 + r), y1 - r - 1)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r

def pixel(x, y):
    if not inside_rounded(x, y, 16, 16, N - 16, N - 16, 96):
        return (0, 0, 0, 0)
    # Three sheets, front first (the first hit wins): the ream.
    for dx, dy, colour in ((0, 0, WHITE), (24, -24, (200, 212, 240)), (48, -48, SHADE)):
        if inside_rounded(x, y, 136 + dx, 120 + dy + 48, 376 + dx, 424 + dy, 18):
            if colour == WHITE and 184 <= x < 328 and any(224 + 48 * i <= y < 240 + 48 * i for i in range(4)):
                return LINE + (255,)
            return colour + (255,)
    return BLUE + (255,)

rows = b"".join(b"\x00" + bytes(c for x in range(N) for c in pixel(x, y)) for y in range(N))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", N, N, 8, 6, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")
open(sys.argv[1] if len(sys.argv) > 1 else "icon.png", "wb").write(png)
