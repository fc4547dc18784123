"""How long the slow optional steps take on this backend's device, before a job starts: the hello's
``costs`` (``img23d_protocol.StepCosts``) and the refusal of a job that would take hours unaccepted.

Derivation: the benchmarks measured each step's seconds on one CPU in the dtype production runs there
(float32), and the same run measured that CPU's matrix-product speed (``throughput.probe``, in
GFLOP/s). A step's work is its seconds times that speed: the operations it would take at the
probe's rate. On this device the probe is measured once (in the dtype each model runs in here) and
each step's seconds are its work divided by it. Where a job's size changes the work, the
architecture scales it: the editor's transformer does 2 x parameters operations per token and
4 x width x blocks x tokens^2 in attention, at 2 x (area / 256) tokens (the noise and the crop's
latents, one token per 16 x 16 pixels); its VAE's work grows with the area; the instruction's
encoding and the re-matting do not change with it. The material step runs six views at the model's
own resolution and steps: its work per object is fixed. A model of another size than the published
one (a tiny replica in the tests; a full-size replica has the published size) does work in
proportion to its weights: its share of the published bytes scales its seconds.

An object completed with its views beside the crop (issue 55) has one more picture's tokens per view
(``references``: each completed object's count, as the editor takes them), so its linear term grows by
(2 + views) / 2 and its attention by the square of that; the VAE encodes each view as it does the
crop, and the matting model cuts each out (the views' matting runs in completion, at BiRefNet's own
size, like the re-matting). The job's refusal counts them from the request
(``request_references``); the hello's ``costs`` are those of an object without views.

How far off: the benchmark's own run is reproduced exactly by construction. On another CPU the
probe's speed and the models' differ by how well each uses the vector units (convolutions and
memory-bound layers gain less from wider units than a matrix product), so expect the estimate
within about a factor of two; on a CPU loaded by other work the probe reads that load at start-up.
On a GPU the figures keep the CPU's proportions between matrix products and the rest, which a GPU
does not share (its convolutions and attention run nearer its matrix-product rate): there they lean
high, an order of magnitude rather than a forecast; GPU jobs take minutes, far from the hours that
ask first. ``docs/completion.md`` ("What it costs") gives the figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from img23d_protocol import ErrorCode, JobOptions, ProtocolError, StepCosts, job_cost, long_job_refusal, views_for

from ..editors.flux2_klein.model import KLEIN_BYTES, KLEIN_PARAMETERS, QWEN_EDIT_CHOICE, editor_dtype
from ..materials.marigold.model import MARIGOLD_BYTES, materials_dtype
from ..editors.qwen_edit.model import QWEN_EDIT_BYTES, QWEN_EDIT_PARAMETERS
from .throughput import probe, processor

# -- the benchmarks' figures (float32, the CPU they name) ---------------------------------------
# bench/results/completion-cpu.json: FLUX.2 [klein] 4B on the 2-core AMD EPYC (AVX2 and FMA, no AVX-512,
# no bfloat16 units), float32, the crop edited at 256 x 256 (512 tokens), one step run, shared with
# other work (load average 6.5 to 7.9). The probe read 16.8 GFLOP/s before the editor ran and 44.7
# after (the load came and went): their mean is taken, so on this machine alone the probe's spread
# moves an estimate by about half either way.
BENCH_GFLOPS = 30.8
BENCH_EDIT_PIXELS = 256 * 256
BENCH_TOKENS = 512
BENCH_ENCODE_S = 162.17     # the instruction through the text encoder (512 tokens)
BENCH_STEP_S = 212.78       # the one transformer call at BENCH_TOKENS (with the first call's one-time costs)
BENCH_VAE_ENCODE_S = 12.72  # outside the transformer while denoising: the crop's encoding
BENCH_VAE_S = BENCH_VAE_ENCODE_S + 30.17  # and the decoding
BENCH_REMATTE_S = 78.85     # BiRefNet on the completed picture
# bench/results/materials-alone-cpu.json: Marigold-IID-Appearance on the same CPU, float32, one view at
# its 768 px with two steps run, projected to one painted object (six views, its own 4 steps each):
# 3,108 s, measured while the add-on's tests shared the cores; the probe read 151 GFLOP/s before and
# 61.2 after (their mean taken). The earlier six-view run under lighter load (materials-cpu.json, its
# probe not recorded) took 936 s: against it this estimate reads long, toward asking.
BENCH_MATERIALS_GFLOPS = 106.1
BENCH_MATERIALS_S = 3107.8

TOKENS_PER_MEGAPIXEL = 2 * 1e6 / 256  # the noise's and the crop's latents, one token per 16 x 16 pixels
TEXT_TOKENS = 512                     # the instruction is padded to this many


@dataclass(frozen=True)
class EditorWork:
    """What one editor computes for one object: its transformer's size and shape, its text encoder's
    size, how many transformer passes (steps x guidance batches)."""

    transformer_parameters: float
    width: int
    blocks: int
    text_parameters: float
    passes: int
    published_bytes: int   # the published weights' size, against which another size scales the work

    def step_operations(self, tokens: float) -> float:
        """One transformer pass's floating-point operations at ``tokens``: the layers' products and attention."""
        return 2 * self.transformer_parameters * tokens + 4 * self.width * self.blocks * tokens * tokens


# FLUX.2 [klein] 4B: 5 double and 20 single blocks of 24 x 128 (models/editor_model.py), 4 steps, no
# guidance batch. Qwen-Image-Edit-2511: 60 blocks of 24 x 128, 40 steps with true guidance (two passes each).
KLEIN_WORK = EditorWork(KLEIN_PARAMETERS["transformer"], 3072, 25, KLEIN_PARAMETERS["text_encoder"], passes=4,
                        published_bytes=KLEIN_BYTES)
EDITOR_WORK = {QWEN_EDIT_CHOICE: EditorWork(QWEN_EDIT_PARAMETERS["transformer"], 3072, 60,
                                            QWEN_EDIT_PARAMETERS["text_encoder"], passes=80,
                                            published_bytes=QWEN_EDIT_BYTES)}
MATERIAL_VIEWS = 6  # the paint step's views, which the material step runs on


def device_label(device: Any) -> str:
    """How a sentence names the device: "this CPU (AMD EPYC)", "this GPU (NVIDIA ...)"."""
    kind = getattr(device, "type", str(device))
    if kind == "cpu":
        return f"this CPU ({processor().model})"
    if kind == "cuda":
        import torch

        return f"this GPU ({torch.cuda.get_device_name(device)})"
    return f"this {kind.upper()} device"


def step_costs(device: Any, editor: str | None = None, edit_pixels: int = 0, editor_bytes: int = 0,
               materials_bytes: int = 0, references: Sequence[int] = ()) -> StepCosts:
    """One object's seconds in completion (``editor``: its choice name, None without one; edited at
    ``edit_pixels`` by default; its weights ``editor_bytes`` in 16 bits, 0: the published size;
    ``references``: each completed object's views beside its crop, the mean object's seconds; none: an
    object without views) and in the material step (``materials_bytes``: its model's weights in 16 bits;
    0: the set has none), from the device's measured speed in each model's dtype."""
    completion = {}
    if editor is not None:
        work = EDITOR_WORK.get(editor, KLEIN_WORK)
        share = editor_bytes / work.published_bytes if editor_bytes else 1.0
        gflops = probe(device, editor_dtype(device)).gflops
        each = [editor_seconds(work, gflops, views) for views in (references or (0,))]
        completion = {name: sum(terms[name] for terms in each) / len(each) * share for name in each[0]}
    materials_s = 0.0
    if materials_bytes:
        materials_s = (BENCH_MATERIALS_S * BENCH_MATERIALS_GFLOPS / probe(device, materials_dtype(device)).gflops
                       * materials_bytes / MARIGOLD_BYTES)
    return StepCosts(device=device_label(device), on_cpu=getattr(device, "type", str(device)) == "cpu",
                     edit_pixels=edit_pixels if editor is not None else 0, materials_s=materials_s, **completion)


def editor_seconds(work: EditorWork, gflops: float, references: int = 0) -> dict[str, float]:
    """The completion polynomial's terms (``StepCosts``' completion fields) for ``work`` at ``gflops``, with
    ``references`` views beside the crop: klein's measured seconds turned into work, scaled by the
    architecture to ``work``."""
    scale = BENCH_GFLOPS / gflops
    slowness = BENCH_STEP_S / (KLEIN_WORK.step_operations(BENCH_TOKENS) / 1e9 / BENCH_GFLOPS)  # vs the probe's rate
    per_pass = slowness / gflops / 1e9  # seconds per operation of a pass here
    text = BENCH_ENCODE_S * work.text_parameters / KLEIN_WORK.text_parameters
    tokens = TOKENS_PER_MEGAPIXEL * (2 + references) / 2  # each view's latents beside the noise's and the crop's
    linear = 2 * work.transformer_parameters * tokens
    square = 4 * work.width * work.blocks * tokens ** 2
    vae = BENCH_VAE_S + references * BENCH_VAE_ENCODE_S
    return {"completion_fixed_s": (text + BENCH_REMATTE_S * (1 + references)) * scale,
            "completion_per_mp_s": vae / (BENCH_EDIT_PIXELS / 1e6) * scale + work.passes * linear * per_pass,
            "completion_per_mp2_s": work.passes * square * per_pass}


def refuse_long_job(costs: StepCosts, roles: tuple[str, ...], request: Any) -> None:
    """``long_job_not_accepted`` in one sentence when ``request``'s slow optional steps (``roles``: the
    models its job uses) would take ``LONG_JOB_SECONDS`` or more here and its options do not accept it."""
    options: JobOptions = request.options
    if options.accept_long:
        return
    cost = job_cost(costs, request_objects(request), completion="editor" in roles, materials="materials" in roles,
                    edit_size=options.edit_size, variations=options.variations, up_to=options.complete_hidden == "auto")
    if cost is not None and cost.long:
        raise ProtocolError(ErrorCode.LONG_JOB_NOT_ACCEPTED, long_job_refusal(cost),
                            f"completion {cost.completion_s:.0f} s, materials {cost.materials_s:.0f} s")


def request_objects(request: Any) -> int:
    """How many objects a request's slow steps run on: one per name (or regenerated key); one for the
    whole picture or a mesh."""
    return len(getattr(request, "targets", None) or getattr(request, "keys", None) or ()) or 1


def request_references(request: Any, pictures: int) -> tuple[int, ...]:
    """Each of ``request``'s objects' views the editor would take beside its crop (it takes ``pictures``
    in all); empty when no name has views."""
    views = getattr(request, "views", None) or {}
    if not views:
        return ()
    return tuple(min(len(views_for(views, name)), pictures - 1) for name in getattr(request, "targets", None) or ())
