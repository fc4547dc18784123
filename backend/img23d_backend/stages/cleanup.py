"""Mesh clean-up after surface extraction: floaters, degenerate faces, and the face budget.

Cleaning is done in memory with pymeshlab (hy3dgen's own post-processors round-trip through
temporary PLY files that they never delete); decimation with fast-simplification.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A component with fewer faces than this fraction of the *largest* component's is extraction
# noise (pymeshlab's nbfaceratio is relative to the largest component). 0.5% is hy3dgen's own
# FloaterRemover (postprocessors.remove_floater); more would also cut off thin real parts.
FLOATER_FACE_RATIO = 0.005


@dataclass
class CleanStats:
    faces_in: int
    faces_out: int
    vertices_out: int
    floaters_removed: int


def clean_mesh(vertices: np.ndarray, faces: np.ndarray, face_budget: int) -> tuple[np.ndarray, np.ndarray, CleanStats]:
    """Return cleaned (vertices, faces) and what changed. Empty input gives empty output."""
    import pymeshlab

    faces_in = int(len(faces))
    if faces_in == 0 or len(vertices) == 0:
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64), CleanStats(faces_in, 0, 0, 0)
    meshes = pymeshlab.MeshSet()
    meshes.add_mesh(pymeshlab.Mesh(vertex_matrix=np.asarray(vertices, dtype=np.float64),
                                   face_matrix=np.asarray(faces, dtype=np.int32)))
    meshes.apply_filter("meshing_remove_duplicate_vertices")
    meshes.apply_filter("meshing_remove_duplicate_faces")
    meshes.apply_filter("meshing_remove_null_faces")
    before = meshes.current_mesh().face_number()
    meshes.apply_filter("compute_selection_by_small_disconnected_components_per_face",
                        nbfaceratio=FLOATER_FACE_RATIO)
    meshes.apply_filter("meshing_remove_selected_vertices_and_faces")
    floaters = before - meshes.current_mesh().face_number()
    meshes.apply_filter("meshing_remove_unreferenced_vertices")
    mesh = meshes.current_mesh()
    out_v = mesh.vertex_matrix().astype(np.float32)
    out_f = mesh.face_matrix().astype(np.int64)
    if len(out_f) > face_budget:
        out_v, out_f = decimate(out_v, out_f, face_budget)
    return out_v, out_f, CleanStats(faces_in, int(len(out_f)), int(len(out_v)), int(floaters))


def decimate(vertices: np.ndarray, faces: np.ndarray, face_budget: int) -> tuple[np.ndarray, np.ndarray]:
    """Quadric edge collapse down to at most ``face_budget`` faces.

    fast-simplification (Fast-Quadric-Mesh-Simplification) rather than pymeshlab's filter: the
    same kind of collapse, about ten times faster on a few hundred thousand faces, which made
    decimation the slow step of the CPU tail.
    """
    import fast_simplification

    out_v, out_f = vertices, faces
    for attempt in range(5):  # it aims at the target; collapses it cannot make can leave a few over
        if len(out_f) <= face_budget:
            break
        reduction = 1.0 - face_budget * (1.0 - 0.02 * attempt) / len(out_f)
        out_v, out_f = fast_simplification.simplify(np.asarray(out_v, dtype=np.float32),
                                                    np.asarray(out_f, dtype=np.int32), target_reduction=reduction)
    return np.asarray(out_v, dtype=np.float32), np.asarray(out_f, dtype=np.int64)
