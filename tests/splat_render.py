"""A reader of splat PLY files as antimatter15/splat's reads them, and a small numpy splatting of 3D Gaussians, as 3DGS's rasterizer composes them, for tests to look at.

Each Gaussian's covariance R S S^T R^T is projected onto the picture plane of an orthographic camera
(its right and up rows), widened by 3DGS's 0.3 pixel² low-pass, cut at 3 sigma, and the splats are
alpha-composited front to back by depth along the view (alpha capped at 0.99 as 3DGS caps it). The
values are read from the PLY as stored, then activated as 3DGS's GaussianModel does (exp, sigmoid,
0.5 + SH_C0 * f_dc, normalised quaternion), so a wrong activation in the file shows in the picture.
"""

from __future__ import annotations

import re

import numpy as np

SH_C0 = 0.28209479177387814


def rotation_matrices(quaternions: np.ndarray) -> np.ndarray:
    """3DGS's build_rotation: (N, 4) w x y z, normalised, to (N, 3, 3)."""
    q = quaternions / np.linalg.norm(quaternions, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], 1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], 1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], 1)], axis=1)


def render(rows: dict[str, np.ndarray], right: np.ndarray, up: np.ndarray, forward: np.ndarray,
           centre: np.ndarray, half: float, size: int) -> np.ndarray:
    """RGBA (size, size, 4) of the splats ``rows`` (property name -> stored values) seen along
    ``forward`` in the square ``half`` wide either side of ``centre`` (row 0 at the top)."""
    xyz = np.stack([rows["x"], rows["y"], rows["z"]], 1).astype(np.float64) - centre
    scales = np.exp(np.stack([rows[f"scale_{i}"] for i in range(3)], 1).astype(np.float64))
    opacity = 1 / (1 + np.exp(-rows["opacity"].astype(np.float64)))
    colour = 0.5 + SH_C0 * np.stack([rows[f"f_dc_{i}"] for i in range(3)], 1).astype(np.float64)
    rotation = rotation_matrices(np.stack([rows[f"rot_{i}"] for i in range(4)], 1).astype(np.float64))
    m = rotation * scales[:, None, :]
    covariance = m @ np.transpose(m, (0, 2, 1))
    pixel = 2 * half / (size - 1)
    plane = np.stack([right, up])                                   # (2, 3)
    cov2 = np.einsum("ai,nij,bj->nab", plane, covariance, plane) / pixel ** 2 + 0.3 * np.eye(2)
    centre_px = np.stack([(xyz @ right / half + 1) * 0.5 * (size - 1),
                          (1 - xyz @ up / half) * 0.5 * (size - 1)], 1)
    order = np.argsort(xyz @ forward)                               # nearest first
    inverse = np.linalg.inv(cov2[order])
    columns, rows_ = np.meshgrid(np.arange(size), np.arange(size))
    dx = columns.reshape(1, -1) - centre_px[order, 0:1]
    dy = -(rows_.reshape(1, -1) - centre_px[order, 1:2])             # picture y runs up
    power = -0.5 * (inverse[:, 0, 0, None] * dx * dx + 2 * inverse[:, 0, 1, None] * dx * dy
                    + inverse[:, 1, 1, None] * dy * dy)
    alpha = np.minimum(0.99, opacity[order, None] * np.exp(power))
    alpha[power < -4.5] = 0.0                                       # 3 sigma
    through = np.cumprod(np.vstack([np.ones((1, alpha.shape[1])), 1 - alpha[:-1]]), axis=0)
    weight = alpha * through
    rgb = weight.T @ colour[order]
    return np.concatenate([rgb, weight.sum(0)[:, None]], 1).reshape(size, size, 4)


def read_like_antimatter15(data: bytes) -> dict[str, np.ndarray]:
    """The file read the way antimatter15/splat's processPlyBuffer reads it (in numpy)."""
    header = data[:10 * 1024].decode("ascii", errors="replace")
    end = header.index("end_header\n")
    count = int(re.search(r"element vertex (\d+)\n", header).group(1))
    sizes = {"double": 8, "int": 4, "uint": 4, "float": 4, "short": 2, "ushort": 2, "uchar": 1}
    names, offsets, offset = [], {}, 0
    for line in header[:end].split("\n"):
        if line.startswith("property "):
            _, kind, name = line.split(" ")
            assert kind == "float", f"{name} is {kind}: only float is written"
            names.append(name)
            offsets[name] = offset
            offset += sizes[kind]
    body = np.frombuffer(data, dtype="<f4", offset=end + len("end_header\n"), count=count * offset // 4)
    table = body.reshape(count, offset // 4)
    return {name: table[:, offsets[name] // 4] for name in names}
