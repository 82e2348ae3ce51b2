#!/usr/bin/env python3
"""make_outline.py: the world outline of the HTML view's maps, made once from Natural Earth.

Reads the 1:110m countries of Natural Earth (public domain) as shipped inside the geopandas
0.14.4 wheel (geopandas/datasets/naturalearth_lowres/naturalearth_lowres.shp), simplifies
each ring (Douglas-Peucker), drops the tiny ones, and prints the WORLD_OUTLINE constant of
flickrmirrorer.py: one SVG path in equirectangular degrees (x = longitude, y = -latitude,
one decimal), for a viewBox of "-180 -90 360 180".  Only the standard library is used.

    pip download --no-deps geopandas==0.14.4 -d /tmp/gp
    python testdata/world/make_outline.py /tmp/gp/geopandas-0.14.4-py3-none-any.whl > /tmp/outline.py
"""

import argparse
import io
import math
import struct
import sys
import zipfile

MEMBER = 'geopandas/datasets/naturalearth_lowres/naturalearth_lowres.shp'


def read_shp(data):
    """The rings (lists of (lon, lat)) of every polygon record of a shapefile's bytes."""
    f = io.BytesIO(data)
    f.seek(100)   # the file header
    rings = []
    while True:
        header = f.read(8)
        if len(header) < 8:
            return rings
        _, length = struct.unpack('>ii', header)
        record = f.read(length * 2)
        (shape_type,) = struct.unpack('<i', record[:4])
        if shape_type != 5:   # only polygons are drawn
            continue
        num_parts, num_points = struct.unpack('<ii', record[36:44])
        parts = list(struct.unpack('<%di' % num_parts, record[44:44 + 4 * num_parts])) + [num_points]
        at = 44 + 4 * num_parts
        points = [struct.unpack('<dd', record[at + 16 * i:at + 16 * i + 16]) for i in range(num_points)]
        rings.extend(points[parts[i]:parts[i + 1]] for i in range(num_parts))


def distance_to_segment(p, a, b):
    (x, y), (x1, y1), (x2, y2) = p, a, b
    dx, dy = x2 - x1, y2 - y1
    if dx == dy == 0:
        return math.hypot(x - x1, y - y1)
    t = max(0.0, min(1.0, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy)))
    return math.hypot(x - x1 - t * dx, y - y1 - t * dy)


def simplify(points, tolerance):
    """Douglas-Peucker, iteratively (a ring has thousands of points)."""
    keep = {0, len(points) - 1}
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        worst, index = 0.0, None
        for i in range(first + 1, last):
            d = distance_to_segment(points[i], points[first], points[last])
            if d > worst:
                worst, index = d, i
        if index is not None and worst > tolerance:
            keep.add(index)
            stack += [(first, index), (index, last)]
    return [points[i] for i in sorted(keep)]


def area(points):
    return abs(sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1]))) / 2


def number(v):
    text = '%.1f' % v
    text = text[:-2] if text.endswith('.0') else text
    return '0' if text == '-0' else text


def outline_path(rings, tolerance, min_area):
    out = []
    for ring in rings:
        if area(ring) < min_area:
            continue
        points = simplify(ring, tolerance)
        if len(points) < 4:
            continue
        coords = []
        for lon, lat in points[:-1]:   # the ring's last point repeats its first: Z closes it
            xy = '%s %s' % (number(lon), number(-lat))
            if not coords or coords[-1] != xy:
                coords.append(xy)
        if len(coords) >= 3:
            out.append('M' + 'L'.join(coords) + 'Z')
    return ''.join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('source', help='the geopandas 0.14.4 wheel, or the .shp file itself')
    parser.add_argument('--tolerance', type=float, default=0.5, help='degrees (default 0.5)')
    parser.add_argument('--min-area', type=float, default=1.0, help='square degrees (default 1)')
    args = parser.parse_args()
    if args.source.endswith('.whl'):
        with zipfile.ZipFile(args.source) as wheel:
            data = wheel.read(MEMBER)
    else:
        with open(args.source, 'rb') as f:
            data = f.read()
    path = outline_path(read_shp(data), args.tolerance, args.min_area)
    print('# The world\'s coastlines and borders: Natural Earth 1:110m countries (public domain,')
    print('# naturalearthdata.com), simplified by testdata/world/make_outline.py.  An SVG path in')
    print('# degrees (x = longitude, y = -latitude) for the viewBox "-180 -90 360 180".')
    print('WORLD_OUTLINE = (')
    for i in range(0, len(path), 96):
        print('    %r' % path[i:i + 96])
    print(')')
    print('%d characters' % len(path), file=sys.stderr)


if __name__ == '__main__':
    main()
