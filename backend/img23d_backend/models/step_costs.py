"""How long the slow optional steps take on this backend's device, before a job starts: the hello's
``costs`` (``img23d_protocol.StepCosts``) and the refusal of a job that would take hours unaccepted.

Derivation: the benchmarks measured each step's seconds on one CPU in the dtype production runs there
(float32), and the same run measured that CPU's matrix-product speed (``throughput.probe``, in
GFLOP/s). A step's work is its seconds times that speed: the operations it would take at the
probe's rate. On this device the probe is measured once (in the dtype each model runs in here) and
each step's seconds are its work divided by it. Where a job's size changes the work, the
architecture scales it: the editor's transformer does 2 x parameters operations per token and
4 x width x blocks x tokens^2 in attention, at the instruction's tokens and 2 x (area / 256) more (the
noise and the crop's latents, one token per 16 x 16 pixels); its VAE's work grows with the area; the
instruction's encoding and the re-matting do not change with it. The material step runs six views at the model's
own resolution and steps: its work per object is fixed. A model of another size than the published
one (a tiny replica in the tests; a full-size replica has the published size) does work in
proportion to its weights: its share of the published bytes scales its seconds.

An object completed with its views beside the crop (issue 55) has one more picture's tokens per view
(``references``: each completed object's count, as the editor takes them), so its linear term grows by
(2 + views) / 2 and its attention by the square of that; the VAE encodes each view as it does the
crop, and the matting model cuts each out (the views' matting runs in completion, at the matting model's own
size, like the re-matting). The job's refusal counts them from the request
(``request_references``); the hello's ``costs`` are those of an object without views.

How far off: the benchmark's own run is reproduced exactly by construction, and a second at four times
its area within 4 % (tests/backend/editors/test_completion_figures.py). On another CPU the
probe's speed and the models' differ by how well each uses the vector units (convolutions and
memory-bound layers gain less from wider units than a matrix product), so expect the estimate
within about a factor of two; on a CPU loaded by other work the probe reads that load at start-up.
On a GPU the figures keep the CPU's proportions between matrix products and the rest, which a GPU
does not share (its convolutions and attention run nearer its matrix-product rate): there they lean
high, an order of magnitude rather than a forecast; GPU jobs take minutes, far from the hours that
ask first. ``docs/completion.md`` ("What it costs") gives the figures.
"""

from __future__ import annotations

from typing import Any, Mapping

from img23d_protocol import (ACCEPT_LONG_CHECKBOX, ACCEPT_LONG_FLAG, LONG_JOB_SECONDS, ErrorCode, JobOptions,
                             ProtocolError, StepCosts, duration, job_cost, long_job_refusal, views_for)

from .throughput import processor


def device_label(device: Any) -> str:
    """How a sentence names the device: "this CPU (AMD EPYC)", "this GPU (NVIDIA ...)"."""
    kind = getattr(device, "type", str(device))
    if kind == "cpu":
        return f"this CPU ({processor().model})"
    if kind == "cuda":
        import torch

        return f"this GPU ({torch.cuda.get_device_name(device)})"
    return f"this {kind.upper()} device"


def step_costs(device: Any, completion: Mapping[str, float] | None = None, edit_pixels: int = 0,
               materials_s: float = 0.0, edit_pixels_most: int = 0) -> StepCosts:
    """One object's seconds on ``device`` in completion (``completion``: the polynomial's terms from the
    job's editor, ``editors.costs``; None: the set has no editor; edited at ``edit_pixels`` by default) and
    in the material step (``materials_s``, from the set's material model, ``materials.costs``; 0: none);
    ``edit_pixels_most``: the most area the editor edits at (0: any)."""
    return StepCosts(device=device_label(device), on_cpu=getattr(device, "type", str(device)) == "cpu",
                     edit_pixels=edit_pixels if completion is not None else 0, materials_s=materials_s,
                     edit_pixels_most=edit_pixels_most if completion is not None else 0,
                     **(completion or {}))


def refuse_long_job(costs: StepCosts, roles: tuple[str, ...], request: Any) -> None:
    """``long_job_not_accepted`` in one sentence when ``request``'s slow optional steps (``roles``: the
    models its job uses) would take ``LONG_JOB_SECONDS`` or more here and its options do not accept it."""
    options: JobOptions = request.options
    if options.accept_long:
        return
    # The editor is among a job's models for a picture made from a prompt too: completion counts where asked for.
    completion = "editor" in roles and options.complete_hidden != "never"
    cost = job_cost(costs, request_objects(request), completion=completion, materials="materials" in roles,
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


def refuse_long_run(what: str, seconds: float, device: Any, accept_long: bool, advice: str) -> None:
    """``long_job_not_accepted`` in one sentence when a run of ``what`` would take ``LONG_JOB_SECONDS`` or
    more on ``device`` (its estimate, ``seconds``) and the request does not accept it; ``advice``: what
    makes it shorter. For a job whose whole run is one slow model (a parts model's), outside ``StepCosts``."""
    if accept_long or seconds < LONG_JOB_SECONDS:
        return
    raise ProtocolError(ErrorCode.LONG_JOB_NOT_ACCEPTED,
                        f"{what} would take {duration(seconds)} on {device_label(device)}: pass {ACCEPT_LONG_FLAG} "
                        f"(or tick {ACCEPT_LONG_CHECKBOX} in the add-on) to start it anyway, or {advice}",
                        f"estimate {seconds:.0f} s")
