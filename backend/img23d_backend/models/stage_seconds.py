"""How long each stage of a Generate takes on this machine, beside what its model computes: the figures a job's
estimate is made of (``jobs.kinds.job_estimate``), measured, scaled to this machine by its probe.

Two parts make a stage's seconds. ``HOST`` is what the stage does whatever its model's size: loading its model
(its files read, its pipeline built), preparing and writing pictures, the UV unwrap, the paint's renders, bake and
fill, the surface's decoding grid and clean-up, the material maps' bake, the GLB's writing. It was measured with the
tiny models, whose own compute is next to nothing, on the 2-core development CPU, cold jobs in a fresh process as
the command line runs them, each given as its seconds at a probe of ``DEV_GFLOPS`` (``throughput.probe``, float32);
here it is scaled by this machine's CPU probe (that work runs on the CPU, a GPU or not). ``MODEL`` is what a model of
the published size computes on top, from the benchmarks that ran the full-size replicas on the same CPU (each figure's
source beside it), scaled by the model's share of the published weights (a tiny replica: next to nothing) and by
its device's probe in the dtype it runs in, as every estimate is (``step_costs``). The picture from text and the
material step keep their own model figures (``editors.picture_costs``, ``materials.costs``) and add their host part
from here; the completion's (``editors.costs``) is its whole figure.

How far off: with the tiny models, each stage of a few seconds or more within a factor of two of what it took on the
development CPU (``bench/results/estimates-cpu.json``: said, measured and their ratio for each stage; a loaded CPU's
probe reads the load, so the figures move with it, and a load that starts after the probe is not in them). With the
real models on a CPU the shape's and the paint's compute comes from one benchmark each (the default Hunyuan3D-2
models), scaled by weights and steps: an order of magnitude (another architecture, Step1X-3D's, does about ten times
the work per weight); grounding, matting and depth are counted by their host part alone, so the figure is a lower
bound there. On a GPU the model parts lean high, as every CPU-derived figure does, and the host parts are this CPU's
scaled by the GPU machine's own CPU probe: no GPU run has checked them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .throughput import probe

# The probe the host figures are given at: each is seconds x probe from the development CPU's runs, divided by it.
DEV_GFLOPS = 100.0
# The sizes the per-object figures were measured at: the defaults (texture 2048 px, an octree of 256).
TEXTURE_SIDE = 2048
OCTREE = 256


@dataclass(frozen=True)
class HostSeconds:
    """A stage's work beside its model's compute, at ``DEV_GFLOPS``: once a job, for each object, and for each
    object in proportion to the texture's pixels (``textured``, at ``TEXTURE_SIDE``); ``grid``: the per-object part
    grows with the decoding grid's cells on the surface (the octree's square)."""

    per_job: float = 0.0
    per_object: float = 0.0
    textured: float = 0.0
    grid: bool = False

    def seconds(self, objects: int, texture_side: int = TEXTURE_SIDE, octree: int = OCTREE) -> float:
        each = self.per_object * ((octree / OCTREE) ** 2 if self.grid else 1.0)
        return self.per_job + objects * (each + self.textured * (texture_side / TEXTURE_SIDE) ** 2)


# Fitted to eight cold runs of the tiny models on the 2-core development CPU after the material step and the paint's
# host stages were made faster (the material model at one step over batched views, faster renders, bake and fill), at a load
# average of 4 to 11 (bench/results/estimates-cpu.json's "before" and "fitted" runs): one object from a prompt at 2048 px
# texture (three runs, probes 65, 30, 37), the house alone at 512 px (three, probes 41, 35, 38), the house and the
# barrel at 2048 px (two, probes 76, 48). Each figure is the geometric mean of the runs' seconds times the probe the
# job read as it started (what its estimate is scaled by) over ``DEV_GFLOPS``, per object where a run had two, less
# the tiny models' own compute (``MODEL`` at their share); a stage with a texture part is split between the 2048 and
# 512 px runs' means. The figures before (paint 14.6 + 34.3 textured, materials 0.3 + 32.5, export 0.1 + 4.2 an
# object) said paint 78 s for 8 s, materials 52 s for 0.9 s and export 7 s for 0.8 s once those stages were faster.
HOST: dict[str, HostSeconds] = {
    "picture": HostSeconds(per_job=4.5),       # a 96 px picture and loading: 6.1, 22.9 and 10.1 s (18.3 s at probe 23)
    # Loading and one answer (5.6 to 7.3 s for one name at probes 35 to 41), and each further answer: a split asks
    # each of its renders (ten in 38 s at probe 11, bench/results/stage-seconds-cpu.json's split).
    "grounding": HostSeconds(per_job=3.0, per_object=0.1),
    "matting": HostSeconds(per_job=0.2, per_object=0.2),        # loading, and each crop: 0.15 to 1.6 s
    "depth": HostSeconds(per_job=0.05, per_object=0.1),         # 0.13 to 0.56 s
    "shape": HostSeconds(per_object=2.0, grid=True),            # 2.3 to 9.9 s for one, 10.2 and 12.2 s for two
    "cleanup": HostSeconds(per_object=0.4, grid=True),          # its faces follow the grid's surface: 0.6 to 2.3 s
    # The unwrap (its faces follow the grid's surface; xatlas on one core, the part a load slows most), the delight
    # and multiview calls, then the renders, the bake and the fill, in proportion to the texture's pixels: 8.1 to
    # 24 s for one at 2048 px, 8.5 to 25 s at 512, 16.4 and 31.5 s for two at 2048.
    "paint": HostSeconds(per_object=4.8, textured=1.15, grid=True),
    "materials": HostSeconds(per_object=0.3, textured=0.22),    # 0.9 to 1.4 s for one, 1.3 and 2.9 s for two
    # bench/results/game-ready-command-cpu.json: about 20 s an object (quads, 5,000 faces) at a load average of 5 to 6
    # (not measured again: the default topology is as generated).
    "finish": HostSeconds(per_object=8.0),
    "export": HostSeconds(per_object=0.02, textured=0.64),      # 0.8 to 1.8 s at 2048, 0.1 to 0.3 s at 512
}


def host_seconds(stage: str, objects: int, texture_side: int = TEXTURE_SIDE, octree: int = OCTREE) -> float:
    """``stage``'s host work for a job of ``objects`` objects on this machine's CPU (its float32 probe, measured
    once per process)."""
    return HOST[stage].seconds(objects, texture_side, octree) * DEV_GFLOPS / probe(torch.device("cpu"),
                                                                                  torch.float32).gflops


@dataclass(frozen=True)
class ModelSeconds:
    """What a stage's model of the published size computes for one object on the benchmark's CPU (its probe
    ``gflops``): ``fixed`` once an object, ``per_step`` each of its steps (a classifier-free model's step counted
    twice), of the default model, whose weights are ``published_bytes`` (its spec's size)."""

    gflops: float
    published_bytes: int
    fixed: float = 0.0
    per_step: float = 0.0

    def seconds(self, steps: int, passes: int, share: float, gflops: float) -> float:
        return (self.fixed + self.per_step * steps * passes) * share * self.gflops / gflops


# Both benchmarks ran on the development CPU shared with other work (load average 3 to 4.5) without recording the
# probe; under such a load it read 39 to 54 GFLOP/s (editors/picture_costs.py's earlier run): taken as 50.
SHARED_CPU_GFLOPS = 50.0
MODEL: dict[str, ModelSeconds] = {
    # bench/results/step1x-geometry-cpu.json, Hunyuan3D-2 mini turbo: the condition's encoding 31.9 s, 9.55 s a step,
    # the surface's decoding 18.2 s at an octree of 128 (four times the cells' surface at the default 256).
    "shape": ModelSeconds(gflops=SHARED_CPU_GFLOPS, published_bytes=4_617_089_843, fixed=31.9 + 4 * 18.2,
                          per_step=9.55),
    # bench/results/paint-turbo-cpu.json, Hunyuan3D-2 Paint turbo's six views: 68.6 s outside its UNet, 29.16 s a step.
    "paint": ModelSeconds(gflops=SHARED_CPU_GFLOPS, published_bytes=4_294_967_296, fixed=68.6, per_step=29.16),
}
