"""A Blender mesh's topology as the import tests check it: its islands, open edges, edges of more than
two faces and loose edges (``blender_topology``), and the islands of any vertices joined by edges
(``islands``), shared by the seam-weld and the finished-materials tests."""

from __future__ import annotations

from typing import Any

import numpy as np


def islands(count: int, edges: np.ndarray) -> int:
    """Connected pieces of ``count`` vertices joined by ``edges`` (E, 2)."""
    label = np.arange(count)
    while True:
        low = np.minimum(label[edges[:, 0]], label[edges[:, 1]])
        new = label.copy()
        np.minimum.at(new, edges[:, 0], low)
        np.minimum.at(new, edges[:, 1], low)
        new = new[new]
        if np.array_equal(new, label):
            return len(np.unique(label))
        label = new


def blender_topology(mesh: Any) -> tuple[int, int, int, int]:
    """Islands, open edges (one face), edges with more than two faces and loose edges (none), as
    Blender has them."""
    edges = np.empty(2 * len(mesh.edges), dtype=np.int64)
    mesh.edges.foreach_get("vertices", edges)
    corner_edges = np.empty(len(mesh.loops), dtype=np.int64)
    mesh.loops.foreach_get("edge_index", corner_edges)
    uses = np.bincount(corner_edges, minlength=len(mesh.edges))
    return (islands(len(mesh.vertices), edges.reshape(-1, 2)), int((uses == 1).sum()), int((uses > 2).sum()),
            int((uses == 0).sum()))
