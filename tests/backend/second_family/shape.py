"""Silhouette's shape model: each cut-out's silhouette extruded into a slab, in glTF's frame (+X the picture's
right, +Y its up, the picture seen from +Z), its longer side 1.8 across (inside every family's [-1, 1] box).

Its network (``Extruder``, one file: ``extruder.pt``) says which pixels are the object's (a linear map of RGBA,
high where alpha is above one half) and how thick the slab is; its replica writes those weights, not drawn. The
object's box in the picture is cut into a grid of at most the job's octree resolution along its longer side; each
cell the network calls the object's is a cube, and the slab's surface is the cubes' outer faces (two triangles
each, wound outwards), so a rectangle becomes a box and the answer is known from the picture alone.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Callable

import numpy as np
import torch
import trimesh
from PIL import Image

from img23d_backend.env.job_control import CancelToken, ProgressFn
from img23d_backend.families.family import refuse_empty_cutouts
from img23d_backend.mesh.shapes import ShapeSettings

from .specs import SHAPE_FILE
from .weights import weights_builder, weights_loader

HALF_EXTENT = 0.9     # half the longer side of every slab
MOST_CELLS = 128      # the finest grid, whatever the octree resolution asked


class Extruder(torch.nn.Module):
    """Which pixels are the object's (``occupancy``: RGBA in [0, 1] -> a logit) and the slab's half thickness."""

    def __init__(self) -> None:
        super().__init__()
        self.occupancy = torch.nn.Linear(4, 1)
        self.register_buffer("half_depth", torch.zeros(()))

    def forward(self, rgba: torch.Tensor) -> torch.Tensor:
        return self.occupancy(rgba)[..., 0]


def network() -> Extruder:
    """Its known weights: the object is where alpha is above one half; the slab is 0.3 thick."""
    extruder = Extruder()
    with torch.no_grad():
        extruder.occupancy.weight.copy_(torch.tensor([[0.0, 0.0, 0.0, 8.0]]))
        extruder.occupancy.bias.fill_(-4.0)
        extruder.half_depth.fill_(0.15)
    return extruder


loader = weights_loader(network, SHAPE_FILE)
build = weights_builder(network, SHAPE_FILE, "Extruder")


def _occupied(extruder: Extruder, picture: Image.Image) -> np.ndarray:
    """[H, W] bool: the pixels the network calls the object's."""
    parameter = next(extruder.parameters())
    rgba = torch.from_numpy(np.asarray(picture.convert("RGBA"), np.float32) / 255.0)
    with torch.inference_mode():
        return (extruder(rgba.to(parameter.device, parameter.dtype)) > 0).cpu().numpy()


def grid_of(extruder: Extruder, cutout: Image.Image, cells: int) -> np.ndarray:
    """[rows, columns] bool, row 0 the picture's top: the object's box in ``cutout``, ``cells`` along its longer
    side (at most ``MOST_CELLS``), each cell the object's where the network calls its mean colour so."""
    rows, columns = np.nonzero(_occupied(extruder, cutout))
    box = (int(columns.min()), int(rows.min()), int(columns.max()) + 1, int(rows.max()) + 1)
    crop = cutout.convert("RGBA").crop(box)
    longer, cells = max(crop.size), min(max(cells, 1), MOST_CELLS)
    size = tuple(max(1, round(cells * side / longer)) for side in crop.size)
    return _occupied(extruder, crop.resize(size, Image.Resampling.BOX))


def slab(grid: np.ndarray, half_depth: float) -> trimesh.Trimesh:
    """The cubes of ``grid``'s cells between z = -``half_depth`` and z = +``half_depth``, their outer faces only,
    wound outwards; the grid centred, its longer side ``2 * HALF_EXTENT``."""
    height, width = grid.shape
    cell = 2 * HALF_EXTENT / max(height, width)
    corner_rows, corner_columns = np.meshgrid(np.arange(height + 1), np.arange(width + 1), indexing="ij")
    xy = np.stack([(corner_columns - width / 2) * cell, (height / 2 - corner_rows) * cell], axis=-1).reshape(-1, 2)
    layers = [np.column_stack([xy, np.full(len(xy), z)]) for z in (half_depth, -half_depth)]
    vertices = np.concatenate(layers)

    def corner(layer: int, row: Any, column: Any) -> Any:
        return layer * len(xy) + row * (width + 1) + column

    quads, outwards = [], []
    filled = np.pad(grid, 1)
    rows, columns = np.nonzero(grid)
    for layer, towards in ((0, (0, 0, 1)), (1, (0, 0, -1))):   # the front and the back of every cell
        quads.append(np.stack([corner(layer, rows + 1, columns), corner(layer, rows + 1, columns + 1),
                               corner(layer, rows, columns + 1), corner(layer, rows, columns)], axis=1))
        outwards += [towards] * len(rows)
    # Each side of a cell with no cell beyond it: (row step, column step), its edge's two corners, its normal.
    for (step_row, step_column), (first, second), towards in (
            ((-1, 0), ((0, 0), (0, 1)), (0, 1, 0)), ((1, 0), ((1, 0), (1, 1)), (0, -1, 0)),
            ((0, -1), ((0, 0), (1, 0)), (-1, 0, 0)), ((0, 1), ((0, 1), (1, 1)), (1, 0, 0))):
        open_ = ~filled[rows + 1 + step_row, columns + 1 + step_column]
        r, c = rows[open_], columns[open_]
        a, b = (r + first[0], c + first[1]), (r + second[0], c + second[1])
        quads.append(np.stack([corner(0, *a), corner(0, *b), corner(1, *b), corner(1, *a)], axis=1))
        outwards += [towards] * len(r)
    quads_, outwards_ = np.concatenate(quads), np.asarray(outwards, np.float64)
    faces = np.concatenate([quads_[:, [0, 1, 2]], quads_[:, [0, 2, 3]]])
    towards = np.concatenate([outwards_, outwards_])
    corners = vertices[faces]
    inwards = np.einsum("ij,ij->i", np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), towards) < 0
    faces[inwards] = faces[inwards][:, ::-1]
    used, local = np.unique(faces, return_inverse=True)
    return trimesh.Trimesh(vertices[used], local.reshape(-1, 3), process=False)


def sample_shapes(model: Extruder, images: list[Image.Image], seeds: list[int], settings: ShapeSettings, *,
                  cancel: CancelToken, progress: ProgressFn, on_mesh: Callable[[int, Any], None] | None = None,
                  full_precision: Callable[[], AbstractContextManager[Any]] | None = None,
                  on_redo: Callable[[int, str], Any] | None = None) -> list[Any]:
    """One slab per cut-out, in order (the family interface's ``ShapeSampler``): no noise, so no seed; float32
    everywhere, so no redo."""
    refuse_empty_cutouts(images)
    meshes = []
    for index, image in enumerate(images):
        cancel.check()
        mesh = slab(grid_of(model, image, settings.octree_resolution), float(model.half_depth))
        meshes.append(mesh)
        progress("shape", index + 1, len(images), f"extruded silhouette {index + 1} of {len(images)}")
        if on_mesh is not None:
            on_mesh(index, mesh)
    return meshes
