"""The licence-clean family's rasterizer: which face each pixel sees, and where on it.

Written for img23d from textbook methods (no other rasterizer's code was read or followed):

* coverage: three integer edge functions per triangle with the top-left fill rule (``edges``);
* traversal: each triangle's bounding box (clipped to the image) is cut into 8 x 8 pixel blocks,
  as block-based rasterizers walk a triangle (Abrash, "Rasterization on Larrabee", 2009; Giesen,
  "Optimizing the basic rasterizer", 2013); every (triangle, block) pair is evaluated at its 64
  pixel centres at once, a batch of pairs at a time, the edge functions stepped separably (one
  term per row, one per column) and their signs OR-ed;
* visibility: a float32 depth buffer of NDC z, nearer wins strictly; fragments at exactly the same
  depth go to the lower face index, so the result never depends on the order of evaluation;
  fragments outside the depth range [-1, 1] are clipped (the near and far planes);
* barycentrics: the winning face's edge functions at the pixel over twice its area, then made
  perspective-correct (each divided by its vertex's w and renormalised; Heckbert and Moreton,
  "Interpolation for Polygon Texture Mapping and Shading", 1991). The clean family's views are
  orthographic (w = 1 everywhere), where this is the affine screen-space interpolation exactly;
  it is kept general so a perspective camera interpolates correctly too.

Faces with a vertex behind the camera (w <= 0) are skipped rather than clipped: no camera of the
clean family puts geometry there.
"""

from __future__ import annotations

from typing import Iterator

import torch

from .edges import MAX_SIDE, Triangles, set_up

# The side of the blocks a triangle's box is walked in (on the house mesh at 768 and 2048 px, 8
# beat 4, 16 and a choice among them by the box's size: fewer, larger batches of work).
BLOCK = 8                   # a power of two (cells are found by shifts)
# (triangle, block) pairs evaluated at once, as a number of pixel cells: about 40 bytes per cell.
CELL_BUDGET = {"cpu": 1 << 21, "cuda": 1 << 24, "mps": 1 << 22}


def rasterize(clip: torch.Tensor, faces: torch.Tensor, resolution: tuple[int, int] | list[int],
              cell_budget: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Face index + 1 per pixel (int32 [H, W], 0: background) and perspective-correct barycentrics
    (float32 [H, W, 3], zeros on background) of the triangles ``faces`` [F, 3] over the clip-space
    vertices ``clip`` ([1, N, 4] or [N, 4]) at ``resolution`` (H, W)."""
    height, width = int(resolution[0]), int(resolution[1])
    if height < 0 or width < 0 or max(height, width) > MAX_SIDE:
        raise ValueError(f"cannot rasterize at {height} x {width}: each side must be 0 to {MAX_SIDE}")
    points = (clip[0] if clip.dim() == 3 else clip).detach().float()
    device = points.device
    faces = faces.detach().to(device=device, dtype=torch.int64).reshape(-1, 3)
    findices = torch.zeros(height * width, dtype=torch.int32, device=device)
    bary = torch.zeros((height * width, 3), dtype=torch.float32, device=device)
    if len(faces) and height and width:
        if int(faces.min()) < 0 or int(faces.max()) >= len(points):
            raise ValueError("a face refers to a vertex that does not exist")
        with torch.no_grad():
            triangles = set_up(points, faces, height, width)
            pixel, winner = _visible(triangles, width, cell_budget or CELL_BUDGET.get(device.type, 1 << 21))
            if pixel.numel():
                findices[pixel] = (triangles.face.index_select(0, winner) + 1).to(torch.int32)
                bary[pixel] = _barycentrics(triangles, winner, pixel, width)
    return findices.view(height, width), bary.view(height, width, 3)


def interpolate(attributes: torch.Tensor, findices: torch.Tensor, barycentrics: torch.Tensor,
                faces: torch.Tensor) -> torch.Tensor:
    """Per-vertex ``attributes`` [1, N, C] blended at each pixel with its barycentrics over its
    face's corners: [1, H, W, C], zero where no face was rasterized."""
    values = attributes[0] if attributes.dim() == 3 else attributes
    covered = findices > 0
    if faces.numel() == 0 or not bool(covered.any()):
        return values.new_zeros((1, *findices.shape, values.shape[-1]))
    face = torch.where(covered, findices.long() - 1, torch.zeros_like(findices, dtype=torch.long))
    corners = faces.to(device=values.device, dtype=torch.long)[face]           # [H, W, 3]
    weights = barycentrics.to(values.dtype)
    blended = sum(weights[..., i:i + 1] * values[corners[..., i]] for i in range(3))
    return torch.where(covered[..., None], blended, torch.zeros_like(blended))[None]


def _visible(triangles: Triangles, width: int, cell_budget: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The covered pixels (flat index) and, for each, the triangle (row of ``triangles``) in front."""
    pixel, depth, owner = _fragments(triangles, width, cell_budget)
    if pixel.numel() == 0:
        return pixel, owner
    size = int(pixel.max()) + 1
    nearest = torch.full((size,), torch.inf, dtype=torch.float32, device=pixel.device)
    nearest.scatter_reduce_(0, pixel, depth, "amin")
    front = depth == nearest.index_select(0, pixel)
    pixel, owner = pixel[front], owner[front]
    # Among fragments at the very same depth the lowest face wins (triangles keep face order).
    # Apple's GPUs have no int64 scatter-min: float32 holds triangle indices exactly below 2^24,
    # and the rare larger mesh takes this step on the CPU.
    device = pixel.device
    if device.type == "mps" and triangles.count >= 1 << 24:
        pixel, owner = pixel.cpu(), owner.cpu()
    key = owner.to(torch.float32 if pixel.device.type == "mps" else torch.int64)
    lowest = torch.full((size,), triangles.count, dtype=key.dtype, device=pixel.device)
    lowest.scatter_reduce_(0, pixel, key, "amin")
    covered = (lowest < triangles.count).nonzero().squeeze(1)
    return covered.to(device), lowest[covered].to(device=device, dtype=torch.int64)


def _fragments(triangles: Triangles, width: int,
               cell_budget: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every (pixel, depth, triangle) whose pixel centre the triangle covers within the depth range."""
    device = triangles.face.device
    found = list(_scan(triangles, torch.arange(triangles.count, device=device), BLOCK, width, cell_budget))
    if not found:
        empty = torch.zeros(0, dtype=torch.int64, device=device)
        return empty, torch.zeros(0, dtype=torch.float32, device=device), empty
    pixels, depths, owners = zip(*found)
    return torch.cat(pixels), torch.cat(depths), torch.cat(owners)


def _scan(triangles: Triangles, chosen: torch.Tensor, block: int, width: int,
          cell_budget: int) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """The fragments of the triangles ``chosen``, each walked over its box in ``block`` x ``block``
    blocks anchored at the box's first pixel, a batch of (triangle, block) pairs at a time."""
    device = chosen.device
    box = triangles.box.index_select(0, chosen)
    across = (box[:, 1] - box[:, 0]) // block + 1
    blocks = across * ((box[:, 3] - box[:, 2]) // block + 1)
    ends = torch.cumsum(blocks, 0)
    starts = ends - blocks
    per_batch = max(1, cell_budget // (block * block))
    offsets = torch.arange(block, device=device)
    begin, total = 0, int(chosen.numel())
    while begin < total:
        # As many whole triangles as fit the budget (at least one, however many blocks it has).
        end = int(torch.searchsorted(ends, starts[begin] + per_batch, right=True))
        end = min(max(end, begin + 1), total)
        which = torch.repeat_interleave(torch.arange(begin, end, device=device), blocks[begin:end])
        local = torch.arange(which.numel(), device=device) + starts[begin] - starts.index_select(0, which)
        owner = chosen.index_select(0, which)
        reach = box.index_select(0, which)
        steps = across.index_select(0, which)
        cols = (reach[:, 0] + local % steps * block)[:, None] + offsets                        # [P, block]
        rows = (reach[:, 2] + torch.div(local, steps, rounding_mode="floor") * block)[:, None] + offsets
        step_x, step_y, offset = (part.index_select(0, owner) for part in
                                  (triangles.step_x, triangles.step_y, triangles.offset))       # [P, 3] each
        # A cell is in when every edge function is >= 0: OR-ing them keeps a sign bit if any is
        # negative. The box's last column and row (clipped to the image) join as two more edges.
        sign = (reach[:, 1, None] - cols)[:, None, :] | (reach[:, 3, None] - rows)[:, :, None]
        for edge in range(3):
            along_row = step_y[:, edge, None] * rows + offset[:, edge, None]                     # [P, block]
            sign = sign | (along_row[:, :, None] + step_x[:, edge, None, None] * cols[:, None, :])
        flat = (sign.view(-1) >= 0).nonzero().squeeze(1)            # pair * block^2 + r * block + c
        shift = block.bit_length() - 1                                 # block is a power of two:
        pair = flat >> (2 * shift)                                     # shifts, not int64 divisions
        row = rows.view(-1).index_select(0, (pair << shift) + ((flat >> shift) & (block - 1)))
        col = cols.view(-1).index_select(0, (pair << shift) + (flat & (block - 1)))
        tri = owner.index_select(0, pair)
        depth = _depth(triangles, tri, row, col)
        pixel = row * width + col
        keep = (depth >= -1) & (depth <= 1)
        if bool(keep.all()):      # the usual case: nothing beyond the near or far plane
            yield pixel, depth, tri
        else:
            yield pixel[keep], depth[keep], tri[keep]
        begin = end


def _depth(triangles: Triangles, tri: torch.Tensor, row: torch.Tensor, col: torch.Tensor) -> torch.Tensor:
    """NDC z of triangle ``tri`` at pixel centres (float32): z is affine in screen space."""
    dz_dc, dz_dr, z0 = triangles.depth_plane.index_select(0, tri).unbind(1)
    return (dz_dc * col + dz_dr * row + z0).to(torch.float32)


def _barycentrics(triangles: Triangles, owner: torch.Tensor, pixel: torch.Tensor, width: int) -> torch.Tensor:
    """Perspective-correct barycentrics [K, 3] of each triangle ``owner`` at the centre of ``pixel``."""
    row, col = torch.div(pixel, width, rounding_mode="floor"), pixel % width
    plane = triangles.bary_plane.index_select(0, owner)                      # [K, 3, 3]
    screen = plane[..., 0] * col[:, None] + plane[..., 1] * row[:, None] + plane[..., 2]
    corrected = screen / triangles.w.index_select(0, owner).to(screen.dtype)
    return (corrected / corrected.sum(dim=1, keepdim=True)).to(torch.float32)
