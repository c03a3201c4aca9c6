#!/usr/bin/env python3
"""Prints what a PNG screenshot holds, from the file alone (no Pillow): width, height, the
number of distinct colours and the share of pixels that are not the most common colour.

  scripts/png-stats.py shot.png [--min-colours N] [--min-ink F]

Exits 1 when the image has fewer than N distinct colours or less than F of its pixels differ
from the background: a blank (or nearly blank) page. Reads 8-bit RGB and RGBA, non-interlaced
(what Chromium writes)."""
import argparse
import struct
import sys
import zlib
from collections import Counter


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"error: {path} is not a PNG")
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    channels = {2: 3, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace:
        sys.exit(f"error: {path}: only 8-bit RGB/RGBA non-interlaced PNGs are read")
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = previous[x]
            c = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("png")
    parser.add_argument("--min-colours", type=int, default=0)
    parser.add_argument("--min-ink", type=float, default=0.0)
    args = parser.parse_args()
    width, height, channels, rows = decode(args.png)
    counts = Counter()
    for row in rows:
        for x in range(0, len(row), channels):
            counts[row[x : x + 3]] += 1
    total = width * height
    ink = 1 - counts.most_common(1)[0][1] / total
    print(f"{args.png}: {width}x{height}, {len(counts)} colours, {ink:.1%} of pixels not background")
    if len(counts) < args.min_colours or ink < args.min_ink:
        print(f"error: {args.png} looks blank (need {args.min_colours} colours and {args.min_ink:.0%} ink)",
              file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
