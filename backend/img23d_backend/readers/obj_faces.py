"""An OBJ's faces as trimesh should read them: relative (negative) indices made absolute, and each polygon of
more than three corners cut into triangles that lie inside it.

The OBJ format counts a negative index back from the last vertex (or UV, or normal) *written so far*; trimesh
counts it from the file's last one, so a face written between two groups of vertices named the wrong ones (a quad
lost, the rest of the mesh intact). And trimesh fans every polygon from its first corner, which covers a concave
polygon's missing corner: Blender's OBJ exporter writes n-gons as they are, and an L-shaped face came out a
square. ``readable`` rewrites such a file's face lines before trimesh reads it (ear clipping in the polygon's own
plane, its winding kept); a file that needs neither is passed through untouched, found by one scan of its bytes.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

# A face line with a negative index, or with four or more corners: the only lines rewritten.
_NEEDS = re.compile(rb"^[ \t]*f(?=[ \t])(?:[^\n]*[ \t/]-\d|(?:[ \t]+[^\s#]+){4})", re.M)
_KINDS = (b"v", b"vt", b"vn")  # a corner's v/vt/vn, counted as they are written


def readable(data: bytes) -> bytes:
    """``data`` (an OBJ file's bytes) with absolute indices and triangles only where it had negative indices or
    polygons; unchanged otherwise, or when a vertex line is not numbers (trimesh then says what is wrong)."""
    if not _NEEDS.search(data):
        return data
    try:
        return _rewritten(data)
    except (ValueError, IndexError):
        return data


def _rewritten(data: bytes) -> bytes:
    counts = dict.fromkeys(_KINDS, 0)
    positions: list[tuple[float, float, float]] = []
    out: list[bytes] = []
    for line in data.split(b"\n"):
        words = line.split(b"#", 1)[0].split()
        head = words[0] if words else b""
        if head in counts:
            counts[head] += 1
            if head == b"v":
                positions.append((float(words[1]), float(words[2]), float(words[3])))
        elif head == b"f" and len(words) >= 4:
            corners = [_absolute(corner, counts) for corner in words[1:]]
            points = [positions[int(corner.split(b"/")[0]) - 1] for corner in corners]
            for triangle in triangulate(points):
                out.append(b"f " + b" ".join(corners[i] for i in triangle))
            continue
        out.append(line)
    return b"\n".join(out)


def _absolute(corner: bytes, counts: dict[bytes, int]) -> bytes:
    """One corner (``v``, ``v/vt``, ``v//vn``, ``v/vt/vn``) with each negative index counted back from what was
    written so far."""
    parts = corner.split(b"/")
    for position, (part, kind) in enumerate(zip(parts, _KINDS)):
        if part.startswith(b"-"):
            parts[position] = str(counts[kind] + int(part) + 1).encode()
    return b"/".join(parts)


def triangulate(points: Sequence[tuple[float, float, float]]) -> list[tuple[int, int, int]]:
    """A polygon's corners as triangles inside it, wound as it is (ear clipping in its own plane, the plane from
    Newell's normal); a fan where no ear can be found (a polygon that crosses itself or has no area)."""
    count = len(points)
    if count == 3:
        return [(0, 1, 2)]
    if count == 4:
        return _quad(points)
    import numpy as np  # here: the command line imports the readers with the standard library alone

    corners = np.asarray(points, dtype=np.float64)
    following = np.roll(corners, -1, axis=0)
    normal = np.array([np.sum((corners[:, 1] - following[:, 1]) * (corners[:, 2] + following[:, 2])),
                       np.sum((corners[:, 2] - following[:, 2]) * (corners[:, 0] + following[:, 0])),
                       np.sum((corners[:, 0] - following[:, 0]) * (corners[:, 1] + following[:, 1]))])
    axis = int(np.argmax(np.abs(normal)))
    flat = np.delete(corners, axis, axis=1)
    if normal[axis] < 0:  # the dropped axis points away: mirror, so the polygon turns counter-clockwise in 2D
        flat[:, 0] = -flat[:, 0]
    if axis == 1:  # dropping y leaves (x, z), a left-handed pair: mirror again
        flat[:, 0] = -flat[:, 0]
    left = list(range(count))
    triangles: list[tuple[int, int, int]] = []
    while len(left) > 3:
        for at in range(len(left)):
            a, b, c = left[at - 1], left[at], left[(at + 1) % len(left)]
            if _cross(flat[a], flat[b], flat[c]) <= 1e-12:
                continue  # a reflex (or flat) corner: no ear
            if any(_inside(flat[p], flat[a], flat[b], flat[c]) for p in left if p not in (a, b, c)):
                continue
            triangles.append((a, b, c))
            left.pop(at)
            break
        else:
            return [(0, i, i + 1) for i in range(1, count - 1)]
    triangles.append((left[0], left[1], left[2]))
    return triangles


def _quad(points: Sequence[tuple[float, float, float]]) -> list[tuple[int, int, int]]:
    """A quad's two triangles, in plain arithmetic (a quad mesh's OBJ is millions of them): split along the
    diagonal a-c unless the corner at b or d turns against the quad (concave there), then along b-d."""
    a, b, c, d = points
    normal = _cross3(_minus(c, a), _minus(d, b))
    reflex_b = _dot(_cross3(_minus(b, a), _minus(c, b)), normal) < 0
    reflex_d = _dot(_cross3(_minus(d, c), _minus(a, d)), normal) < 0
    return [(1, 2, 3), (3, 0, 1)] if reflex_b or reflex_d else [(0, 1, 2), (0, 2, 3)]


def _minus(p: Sequence[float], q: Sequence[float]) -> tuple[float, float, float]:
    return (p[0] - q[0], p[1] - q[1], p[2] - q[2])


def _cross3(p: Sequence[float], q: Sequence[float]) -> tuple[float, float, float]:
    return (p[1] * q[2] - p[2] * q[1], p[2] * q[0] - p[0] * q[2], p[0] * q[1] - p[1] * q[0])


def _dot(p: Sequence[float], q: Sequence[float]) -> float:
    return p[0] * q[0] + p[1] * q[1] + p[2] * q[2]


def _cross(a: Any, b: Any, c: Any) -> float:
    return float((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))


def _inside(p: Any, a: Any, b: Any, c: Any) -> bool:
    return _cross(a, b, p) >= 0 and _cross(b, c, p) >= 0 and _cross(c, a, p) >= 0
