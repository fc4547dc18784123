"""The geometric binding (``--weights geometric``): geodesic voxel binding, no model.

After Dionne & de Lasa, "Geodesic Voxel Binding for Production Character Meshes" (SCA 2013,
doi:10.1145/2485895.2485919), as UniRig's voxel skin prior (``src/data/vertex_group.py``, MIT) reads it:
the mesh is voxelised and filled (``voxels``), each bone's distance through the filled voxels is found
(``geodesic``), and a vertex's weight for a bone falls off with that distance as

    w = (1 / ((1 - alpha) d + alpha d^2))^2,   alpha = 0.5,

with ``d`` in units of the mesh's half-size (UniRig scales the mesh into [-1, 1] first: the same thing),
so the falloff is the same for a 2 cm figurine and a 20 m statue. The strongest four are kept and
renormalised (``skin.Skin``). That falloff never reaches zero, so every vertex would keep four
influences, the far ones a few percent each: a limb would tug at the torso. ``FLOOR`` is taken off each
of the four and what stays renormalised (``w' = max(w - FLOOR, 0)``): continuous in ``w``, so no seam
appears where an influence drops out, and a vertex well inside one part follows that part's bone alone.

Two changes make it hold on generated meshes, one fused surface (issue 73; ``bench/rig_binding.py``'s
fused creatures: 67-77 % of vertices on their true bone before, 95-96 % after):
  * each distance is read in units of the bone's thickness where the vertex falls along it
    (``thickness``), times the bones' median thickness: a wide pelvis's rim is its own, not a thigh's;
  * the surface's side (``inside``) takes the voxels outside the surface out of the graph, cuts the steps
    that leave it, and a vertex reads the nearest voxel in its line of sight: limbs the grid joins
    across a gap narrower than a voxel (1 cm on a 1.8 m figure) do not drag each other.

Robust to what AI meshes have: a hole narrower than two voxels is closed by the dilated shell; a loose
speck forms an island of voxels no bone reaches, and its vertices fall back on their straight-line
distance to every bone, so every vertex has a weight and no group is left empty by a speck (Blender's
automatic weights leave *every* group empty then: DESIGN.md). A mesh whose winding the side test cannot
trust is bound without it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .geodesic import Distances, VoxelGraph, apart, bone_distances, segment_distance, voxel_graph
from .inside import SurfaceSide, surface_side, trusted
from .limits import MAX_DISTANCE_PAIRS, binding_cells, check_shape_bones
from .medial import skeleton_from_shape
from .names import chain_names, humanoid_names
from .rigger import FROM_SHAPE, FROM_SHAPE_TEXT, GIVEN, SINGLE_BONE, Rig, Rigger, RigMesh, RigOptions, check_near
from .skeleton import Skeleton
from .skin import Skin, normalised
from .thickness import bone_radii, thickness_at
from .voxels import CELLS_ALONG_LONGEST, VoxelVolume, voxelise

ALPHA = 0.5
FLOOR = 0.05  # bench/rig_binding.py: RigNet precision 0.25 -> 0.56 on the biped, accuracy unchanged
_BLOCK_VALUES = 2_000_000   # vertices times bones weighed at once (16 MB an array)


@dataclass(frozen=True)
class Binding:
    """The weights and what the binding saw on the way."""

    skin: Skin
    pitch: float             # the voxel's side, in the mesh's units
    voxels: int              # filled voxels
    fallback_vertices: int   # vertices on islands no bone reaches (Euclidean distance used)
    seconds: float
    sides_kept_apart: bool = False   # the surface's side cut the steps that leave it (``inside``)


def falloff(distance: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """Dionne & de Lasa's weight for a (normalised, positive) distance."""
    return (1.0 / ((1.0 - alpha) * distance + alpha * distance ** 2)) ** 2


def floored(skin: Skin, floor: float = FLOOR) -> Skin:
    """``skin`` with ``floor`` taken off every weight and the rest renormalised (the strongest of four
    is at least a quarter, so something always stays)."""
    kept = np.maximum(skin.weights.astype(np.float64) - floor, 0.0)
    order = np.argsort(-kept, axis=1, kind="stable")
    joints = np.take_along_axis(skin.joints, order, axis=1)
    return Skin(joints, normalised(np.take_along_axis(kept, order, axis=1)))


@dataclass(frozen=True)
class Prepared:
    """What the binding and the shape-alone skeleton share: the filled voxels, the surface's side (None
    where the winding cannot be trusted) and the voxel graph."""

    volume: VoxelVolume
    side: SurfaceSide | None
    graph: VoxelGraph


def prepare(positions: np.ndarray, triangles: np.ndarray, cells: int = CELLS_ALONG_LONGEST,
            bones: int = 1) -> Prepared:
    """The mesh's voxels, side and graph at ``cells`` along its longest side, or fewer where ``bones``
    distance fields over them would pass ``limits.MAX_DISTANCE_PAIRS`` (``limits.binding_cells``)."""
    positions = np.asarray(positions, dtype=np.float64)
    volume = voxelise(positions, triangles, cells)
    while (fewer := binding_cells(int(volume.filled.sum()), bones, cells)) != cells:
        cells, volume = fewer, voxelise(positions, triangles, fewer)
    side = side_of(positions, triangles, volume)
    graph = voxel_graph(volume, side)
    if side is not None and not len(graph.cells):
        # A surface with no inside (a sheet: a card, a leaf, a plane) has every voxel centre off it, so its
        # side would leave nothing to measure through: it is bound through the filled voxels alone.
        side, graph = None, voxel_graph(volume)
    return Prepared(volume, side, graph)


def bind(positions: np.ndarray, triangles: np.ndarray, skeleton: Skeleton,
         cells: int = CELLS_ALONG_LONGEST, prepared: Prepared | None = None) -> Binding:
    """Each vertex's weights for ``skeleton``'s bones (see the module's docstring); ``prepared``: the
    mesh's voxels, side and graph when the caller has them already."""
    started = time.perf_counter()
    positions = np.asarray(positions, dtype=np.float64)
    if prepared is None or len(prepared.graph.cells) * skeleton.count > MAX_DISTANCE_PAIRS:
        prepared = prepare(positions, triangles, cells, skeleton.count)   # a coarser grid for many bones
    volume, side = prepared.volume, prepared.side
    found = bone_distances(volume, skeleton.heads, skeleton.tails, graph=prepared.graph)
    chosen = _read_voxels(positions, volume, found, side)
    half_size = float(np.ptp(positions, axis=0).max()) / 2
    radii = bone_radii(volume, skeleton.heads, skeleton.tails, side)
    # A block of vertices at a time: each holds a few (V, J) arrays, 8 bytes a vertex and bone (a 2-million
    # vertex mesh and 512 bones would hold 8 GB in each at once). Every vertex's weights are its own.
    rows = max(_BLOCK_VALUES // skeleton.count, 1)
    blocks = [_block_weights(positions[first:first + rows], found.through[chosen[first:first + rows]], skeleton,
                             radii, half_size, volume.pitch) for first in range(0, len(positions), rows)]
    skin = Skin(np.concatenate([block.joints for block, _ in blocks]),
                np.concatenate([block.weights for block, _ in blocks]))
    return Binding(skin=floored(skin), pitch=volume.pitch, voxels=int(volume.filled.sum()),
                   fallback_vertices=sum(stranded for _, stranded in blocks), seconds=time.perf_counter() - started,
                   sides_kept_apart=side is not None)


def _block_weights(positions: np.ndarray, distance: np.ndarray, skeleton: Skeleton, radii: np.ndarray,
                   half_size: float, pitch: float) -> tuple[Skin, int]:
    """The strongest four weights of a block of vertices from their distances through the volume (V, J), and how
    many of them no bone reaches (stranded)."""
    stranded = ~np.isfinite(distance).any(axis=1)
    if stranded.any():
        distance[stranded] = np.stack([segment_distance(positions[stranded], head, tail)
                                       for head, tail in zip(skeleton.heads, skeleton.tails)], axis=1)
    thickness = thickness_at(positions, skeleton.heads, skeleton.tails, radii)
    thickness[stranded] = float(np.median(radii))   # a speck off the body: the plain nearest bone
    # Distances in units of the bone's own thickness (a thick pelvis reaches as far out as its surface),
    # brought back to the mesh's scale by the bones' typical thickness. Under half a voxel apart is as
    # near as the grid can tell: the floor keeps the weight finite.
    normalised = np.maximum(distance, pitch / 2) / thickness * float(np.median(radii)) / half_size
    weights = np.where(np.isfinite(normalised), falloff(np.where(np.isfinite(normalised), normalised, 1.0)), 0.0)
    return Skin.from_dense(weights), int(stranded.sum())


def side_of(positions: np.ndarray, triangles: np.ndarray, volume: VoxelVolume) -> SurfaceSide | None:
    """The surface's side test, or None where the winding does not agree with the fill (``inside``)."""
    side = surface_side(positions, triangles, volume.pitch)
    cells = np.argwhere(volume.filled)
    depth = volume.depth[tuple(cells.T)]
    return side if trusted(side, volume.centres(cells), depth, volume.pitch) else None


def _read_voxels(positions: np.ndarray, volume: VoxelVolume, found: Distances,
                 side: SurfaceSide | None, candidates: int = 8) -> np.ndarray:
    """The node each vertex reads its distances from: the nearest one in sight (its line staying inside
    the surface: not the other leg's across a gap), else the nearest."""
    from scipy.spatial import cKDTree

    centres = volume.centres(found.cells)
    _, near = cKDTree(centres).query(positions, k=min(candidates, len(centres)))
    near = near.reshape(len(positions), -1)
    chosen = near[:, 0].copy()
    if side is None:
        return chosen
    own_side, own_normal = side.nearest(positions)
    waiting = np.arange(len(positions))
    for column in range(near.shape[1]):
        node = near[waiting, column]
        seen = side.clear(positions[waiting], centres[node], own_side[waiting], found.side[node],
                          own_normal[waiting], found.normal[node], volume.pitch)
        chosen[waiting[seen]] = node[seen]
        waiting = waiting[~seen]
        if not len(waiting):
            break
    return chosen


def rig(mesh: RigMesh, skeleton: Skeleton | None, options: RigOptions) -> Rig:
    """The geometric rigger: the given skeleton (its own names), else one from the shape alone, bound."""
    started = time.perf_counter()
    if len(mesh.triangles) == 0:
        raise ValueError("the mesh has no surface (no triangles) to bind")
    prepared = prepare(mesh.positions, mesh.triangles, bones=skeleton.count if skeleton is not None else 1)
    seconds = {"voxels": time.perf_counter() - started}
    notes: list[str] = []
    humanoid = False
    if skeleton is not None:
        check_near(mesh, skeleton)
        source = GIVEN
    else:
        shaped = skeleton_from_shape(apart(prepared.volume, prepared.graph))
        seconds["skeleton"] = time.perf_counter() - started - seconds["voxels"]
        skeleton = shaped.skeleton
        check_shape_bones(skeleton.count)
        if shaped.degenerate:
            source = SINGLE_BONE
            notes.append("the shape has no limbs to follow (a prop or a blockout), so it gets a single bone "
                         "along its longest axis")
        else:
            source = FROM_SHAPE
            named = humanoid_names(skeleton) if options.humanoid_names else None
            humanoid = named is not None
            skeleton = skeleton.renamed(named if named is not None else chain_names(skeleton))
            notes.append(f"{FROM_SHAPE_TEXT}: {skeleton.count} bones on the voxel medial axis"
                         + (", named as a humanoid (Mixamo's names)" if humanoid else ""))
    binding = bind(mesh.positions, mesh.triangles, skeleton, prepared=prepared)
    seconds["binding"] = binding.seconds
    cells = round(float(np.ptp(mesh.positions, axis=0).max()) / binding.pitch)
    if cells < CELLS_ALONG_LONGEST:
        notes.append(f"{skeleton.count} bones were bound on a coarser grid ({cells} voxels along the mesh's longest "
                     f"side, not {CELLS_ALONG_LONGEST}) to keep the binding to seconds")
    if binding.fallback_vertices:
        notes.append(f"{binding.fallback_vertices:,} vertices on loose pieces no bone reaches took the nearest "
                     "bones by straight-line distance")
    return Rig(skeleton, binding.skin, source, humanoid, notes, seconds)


RIGGER = Rigger("geometric", "geodesic voxel binding: weights fall off with the distance through the mesh's "
                             "filled inside (no model)", rig)
