"""Pieces' row (``parts.generator.PartsRow``): its spec and the facts its estimate and preflight read. Its
figures are its own (two linear maps of a few bytes, a connected-components pass on the host), not measured
on a device: a test model's, small enough that no run of it is long or too big."""

from __future__ import annotations

from img23d_backend.models.specs import ModelSpec
from img23d_backend.parts.generator import HistoryWork, HostCosts, PartsBenchmark, PartsMemory, PartsRow, PartsWork

NAME = "pieces"
REPO = "test/pieces"
FILES = ("lift.pt", "order.pt")
PART_BYTES = {"lift": 9 * 4, "order": 3 * 4}   # float32: a 3 x 3 map and a 1 x 3 one

SPEC = ModelSpec(role="parts", repo_id=REPO, allow_patterns=FILES, exact_files=True,
                 size_bytes=sum(PART_BYTES.values()), options={"parts": NAME})

# One "forward" is the two maps over a thousand vertices; no picture, no history between parts.
WORK = PartsWork(width=3, blocks=1, part_blocks=0, skip_blocks=0, mlp_ratio=1.0, latents=1_000, image_tokens=0,
                 image_width=3, history_tokens=0, history_width=3, forwards_per_step=1, whole_forwards_per_step=1,
                 steps=1)
NO_HISTORY = HistoryWork(samples=0, fps_pool=1, fps_steps=0)

ROW = PartsRow(name=NAME, spec=SPEC, tiny_folder=NAME, component="pieces", work=WORK,
               benchmark=PartsBenchmark(gflops=10.0, forward_s=1e-5, decode_s=1e-4, decode_grid=64,
                                        condition_s=0.0),
               memory=PartsMemory(condition_bytes=0, draw_bytes=1 << 10, decode_fixed_bytes=1 << 10,
                                  decode_bytes_per_cell=0.0),
               part_bytes=PART_BYTES,
               host=HostCosts(samples=1, sample_s=0.0, fps_pool=1, fps_step_s=0.0, faces=1_000, clean_s=1e-3,
                              overlap_s=0.0),
               history=NO_HISTORY, tiny_history=NO_HISTORY, part_faces=1_000)
