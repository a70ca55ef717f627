"""Draw canishare's two Teams icons (run once; the PNGs are committed next to this file).

color.png: 192x192, a white speech bubble with a tick on canishare blue, full bleed.
outline.png: 32x32, the same bubble as a white outline on transparency (Teams' rule).
Written with zlib alone so the project needs no imaging library for two files.

    python teams/draw_icons.py
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
BLUE = (31, 95, 139, 255)
WHITE = (255, 255, 255, 255)
CLEAR = (0, 0, 0, 0)


def png(path: Path, pixels: list[list[tuple[int, int, int, int]]]) -> None:
    height, width = len(pixels), len(pixels[0])
    raw = b"".join(b"\x00" + bytes(v for px in row for v in px) for row in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def inside_bubble(x: float, y: float) -> bool:
    """A rounded speech bubble in unit coordinates (0..1), tail at the bottom left."""
    cx, cy, rx, ry = 0.5, 0.44, 0.36, 0.28
    if ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1:
        return True
    # the tail: a triangle under the bubble
    ax, ay, bx, by, tx, ty = 0.30, 0.62, 0.46, 0.68, 0.24, 0.84
    def side(px, py, qx, qy, rx_, ry_):
        return (qx - px) * (ry_ - py) - (qy - py) * (rx_ - px)
    s1, s2, s3 = side(ax, ay, bx, by, x, y), side(bx, by, tx, ty, x, y), side(tx, ty, ax, ay, x, y)
    return (s1 >= 0 and s2 >= 0 and s3 >= 0) or (s1 <= 0 and s2 <= 0 and s3 <= 0)


def on_tick(x: float, y: float, width: float) -> bool:
    """A tick inside the bubble: two thick segments."""
    def near(x1, y1, x2, y2):
        dx, dy = x2 - x1, y2 - y1
        t = max(0.0, min(1.0, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy)))
        return (x - x1 - t * dx) ** 2 + (y - y1 - t * dy) ** 2 <= width ** 2
    return near(0.34, 0.45, 0.45, 0.56) or near(0.45, 0.56, 0.66, 0.32)


def color_icon(size: int = 192) -> list[list[tuple[int, int, int, int]]]:
    rows = []
    for j in range(size):
        row = []
        for i in range(size):
            x, y = (i + 0.5) / size, (j + 0.5) / size
            if on_tick(x, y, 0.045):
                row.append(BLUE)
            elif inside_bubble(x, y):
                row.append(WHITE)
            else:
                row.append(BLUE)
        rows.append(row)
    return rows


def outline_icon(size: int = 32) -> list[list[tuple[int, int, int, int]]]:
    step = 1.0 / size
    rows = []
    for j in range(size):
        row = []
        for i in range(size):
            x, y = (i + 0.5) / size, (j + 0.5) / size
            inside = inside_bubble(x, y)
            edge = inside and not all(inside_bubble(x + dx, y + dy) for dx, dy in
                                      ((step, 0), (-step, 0), (0, step), (0, -step)))
            row.append(WHITE if edge or on_tick(x, y, 0.05) else CLEAR)
        rows.append(row)
    return rows


if __name__ == "__main__":
    png(HERE / "color.png", color_icon())
    png(HERE / "outline.png", outline_icon())
    print("wrote", HERE / "color.png", HERE / "outline.png")
