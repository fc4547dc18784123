"""AutoPartGen's row (``ROW``, ``parts.generator.PartsRow``): where its files come from, its spec, what
one part computes, its measured run and what each phase holds. Facts, no code: the catalog imports it
on every start. Its code is ``generator``'s, its replica ``replica``'s.

Where each fact comes from:

* The repository and files: the release's README (``facebook/autopartgen`` on the hub) and configs
  (``configs/default.yaml``: ``autopartgen_dit.pth``, ``autopartgen_vae.pth``; ``default_4096.yaml``:
  ``autopartgen_dit_4096.pth``). Fetched: the two files the loader opens for 2,048 latents; the
  4,096-latent DiT (another ~6 GB) is not, as Marigold's float32 originals are not.
* The revision: **unverified, none pinned.** ``facebook/autopartgen`` is gated and no public page read
  while writing this names a commit of it; a made-up hash would fail every download, so the spec
  follows the hub's ``main`` (``revision=None``: ``models.download`` records which commit it fetched)
  until someone with access reads the commit and pins it here.
* DINOv2-L/14 with registers: ``facebook/dinov2-with-registers-large`` (Apache-2.0), transformers'
  layout (``config.json``, ``model.safetensors``); the release reads the same network through
  torch.hub. Step1X-3D carries its copy inside its own folder, so the project pins no revision of this
  repository either: **unverified, none pinned**, for the same reason.
* The licence: FAIR Noncommercial Research License v1 (``img23d_protocol.licences``), code, weights and
  outputs: the parts it makes are for non-commercial research only.
* The sizes: parameters counted on the meta device from ``config.full()`` (DESIGN.md "Parts" gives the
  architecture): DiT 1,580,809,408, VAE 242,662,017, DINOv2 304,372,736. img23d runs them in float32
  (the release keeps float32 weights and computes under bfloat16 autocast; the files' own dtype is
  unverified, float32 is taken): 8.51 GB in all.
"""

from __future__ import annotations

from ...models.specs import ModelSpec
from ..generator import HistoryWork, HostCosts, PartsBenchmark, PartsMemory, PartsRow, PartsWork
from . import config as sizes

NAME = "autopartgen"
AUTOPARTGEN_REPO = "facebook/autopartgen"
DINO_REPO = "facebook/dinov2-with-registers-large"
# The files the loader opens (``loader.DIT_FILES[2048]``, ``loader.VAE_FILE``, ``loader.DINO_FILES``).
AUTOPARTGEN_FILES = ("autopartgen_dit.pth", "autopartgen_vae.pth")
DINO_FILES = ("config.json", "model.safetensors")

PARAMETERS = {"conditioner": 304_372_736, "dit": 1_580_809_408, "vae": 242_662_017}
PART_BYTES = {part: count * 4 for part, count in PARAMETERS.items()}  # float32

DINO_SPEC = ModelSpec(role="parts", repo_id=DINO_REPO, revision=None,  # unverified: see the module docstring
                      allow_patterns=DINO_FILES, exact_files=True)
PARTS_SPEC = ModelSpec(role="parts", repo_id=AUTOPARTGEN_REPO, revision=None,  # unverified: see the docstring
                       allow_patterns=AUTOPARTGEN_FILES, size_bytes=sum(PART_BYTES.values()), exact_files=True,
                       sources=(DINO_SPEC,), options={"parts": NAME})

_FULL = sizes.full()
# One part: three guided passes per step (unconditional; image and geometry; geometry alone), 50 steps;
# the whole object from a picture first, two passes a step (guidance 7). The history: the whole object's
# latent and the union of the parts so far, 2,048 tokens of 64 channels each.
WORK = PartsWork(width=_FULL.dit.width, blocks=_FULL.dit.layers, part_blocks=_FULL.dit.part_layers,
                 skip_blocks=_FULL.dit.layers // 2, mlp_ratio=_FULL.dit.mlp_ratio, latents=_FULL.dit.latents,
                 image_tokens=_FULL.conditioner.tokens, image_width=_FULL.dit.cross_attention_dim,
                 history_tokens=2 * _FULL.dit.latents, history_width=_FULL.dit.latent_dim,
                 forwards_per_step=3, whole_forwards_per_step=2, steps=50)

# bench/results/autopartgen-cost-cpu.json: the full-size replica in float32 on this project's 2-core AMD EPYC
# (with AVX-512), loaded through the part loaders, on a quiet machine (the probe read 187.9 GFLOP/s before and
# 191.6 after: their mean is taken). One DiT forward at 2,048 latents: 47.9 s (the second; the first 59.0 s);
# one decode at grid 64 (the coarse pass alone, dense, 65^3 queries; random weights put a surface nearly
# everywhere, so any finer band would be wide): 61.2 s; DINOv2 on one 448 px picture: 4.5 s. A part projects to
# 3 x 50 x 47.9 + 61 = 7,250 s, about 2 h, on this CPU. The calibration before it was taken under load (probe 45
# falling to 20): scaled to this probe it says 0.83 of these seconds, as a loaded probe misreads the models.
BENCHMARK = PartsBenchmark(gflops=189.75, forward_s=47.93, decode_s=61.17, decode_grid=64, condition_s=4.46)

# Activations beside the weights, float32. Measured: the same run's peak resident set, 12.77 GB, less the
# 8.51 GB of weights (memory-mapped from the files, all of them touched by then): ~4.3 GB, taken as the
# decoding's (its chunks of grid points, each against the 2,048 latent tokens at width 1,024, are the largest
# tensors of the run); not separated per phase. Estimates, not measured: conditioning (DINOv2-L on 1,029 tokens)
# 0.5 GB; drawing (three passes batched: 3 x 2,049 tokens x the 8,192-wide feed-forward, 16 heads' 2,049 x 2,049
# scores when attention is not fused) 1 GB; per cell of the finest grid 16 B (a few float32 arrays the finer
# levels hold over the whole grid).
MEMORY = PartsMemory(condition_bytes=512 << 20, draw_bytes=1 << 30, decode_fixed_bytes=4_300_000_000,
                     decode_bytes_per_cell=16.0)

# bench/results/parts-host-cost-cpu.json: this project's 2-core CPU (load average 2.64 to 2.54: shared), the
# part a 200,000-triangle sphere. The history: the release's 500,000 samples, a pool of 65,536, 32,768 farthest
# points for the VAE's input and 2,048 of those for its latent queries (``vae.encode``); the tiny replica's sizes from ``config.tiny``. The
# VAE's encoder itself (a cross-attention and 8 blocks on 2,048 tokens of width 512: about 5 % of one DiT
# forward, which a part makes 150 of) is not counted. A part decoded at 256 cells a side had about 200,000
# triangles on a lent H200 (issue 74); it grows with the square of the grid.
HOST = HostCosts(samples=500_000, sample_s=0.268, fps_pool=65_536, fps_step_s=0.00045, faces=200_080,
                 clean_s=0.324, overlap_s=0.469)
_TINY = sizes.tiny()


def _history(config: sizes.AutoPartGenConfig) -> HistoryWork:
    return HistoryWork(samples=config.surface_samples, fps_pool=config.fps_pool,
                       fps_steps=config.surface_points + config.dit.latents)


ROW = PartsRow(name=NAME, spec=PARTS_SPEC, tiny_folder="autopartgen", component="parts", work=WORK,
               benchmark=BENCHMARK, memory=MEMORY, part_bytes=PART_BYTES, host=HOST, history=_history(_FULL),
               tiny_history=_history(_TINY), part_faces=200_000)
