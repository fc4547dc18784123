"""How long completion takes an object on this device, whichever editor it is: the completion terms of
the hello's ``costs`` (``img23d_protocol.StepCosts``), from one editor's measured run
(``EditorRow.benchmark``) scaled by the architecture of the editor asked about (``EditorRow.work``).

``models.step_costs`` gives the derivation and how far off it is: the measured seconds turned into
work at the benchmark CPU's measured speed, divided by this device's (``models.throughput.probe``,
in the dtype the editor runs in here). The transformer does 2 x parameters operations per token and
4 x width x blocks x tokens^2 in attention, at the instruction's tokens (``EditorWork.text_tokens``: they
join every pass, at any area) and 2 x (area / 256) more (the noise and the crop's latents, one token per
16 x 16 pixels), each view beside the crop one more picture's tokens; its VAE's work grows with the area and
each view's encoding; the instruction's encoding and the re-matting do not change with it. Counting the
picture's tokens alone, as this did before, scaled a step from 256 x 256 (512 + 512 tokens) to 1024 x 1024
(8,192 + 512) as 16 times the tokens where they are 8.5 times: about twice the time at the editor's own area.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..models.specs import ModelSpec
from ..models.throughput import probe
from .editor import EditorBenchmark, EditorWork
from .parts import editor_dtype
from .table import EDITOR_ROWS, row_of

TOKENS_PER_MEGAPIXEL = 2 * 1e6 / 256  # the noise's and the crop's latents, one token per 16 x 16 pixels


def measured() -> tuple[EditorWork, EditorBenchmark]:
    """The measured editor's work and its run: the one every estimate scales from."""
    for row in EDITOR_ROWS.values():
        if row.benchmark is not None:
            return row.work, row.benchmark
    raise ValueError("no editor of the table carries a measured run (EditorRow.benchmark)")


def editor_seconds(work: EditorWork, gflops: float, references: int = 0) -> dict[str, float]:
    """The completion polynomial's terms (``StepCosts``' completion fields) for ``work`` at ``gflops``, with
    ``references`` views beside the crop: the measured editor's seconds turned into work, scaled by the
    architecture to ``work``."""
    reference, bench = measured()
    scale = bench.gflops / gflops
    joint = bench.tokens + reference.text_tokens   # the benchmark's pass: the picture's tokens and the instruction's
    slowness = bench.step_s / (reference.step_operations(joint) / 1e9 / bench.gflops)  # vs the probe's rate
    per_pass = slowness / gflops / 1e9  # seconds per operation of a pass here
    text = bench.encode_s * work.text_parameters / reference.text_parameters
    # A pass at T = t + k x megapixels tokens: 2 P T + 4 w b T^2, split into the polynomial's three terms.
    t, k = work.text_tokens, TOKENS_PER_MEGAPIXEL * (2 + references) / 2  # each view's latents beside the crop's
    products, attention = 2 * work.transformer_parameters, 4 * work.width * work.blocks
    vae = bench.vae_s + references * bench.vae_encode_s
    return {"completion_fixed_s": (text + bench.rematte_s * (1 + references)) * scale
                                  + work.passes * (products * t + attention * t * t) * per_pass,
            "completion_per_mp_s": vae / (bench.pixels / 1e6) * scale
                                   + work.passes * (products * k + 2 * attention * t * k) * per_pass,
            "completion_per_mp2_s": work.passes * attention * k * k * per_pass}


def completion_costs(spec: ModelSpec, device: Any, references: Sequence[int] = ()) -> dict[str, float]:
    """One object's completion terms for the editor ``spec`` on ``device``: its weights as the spec states
    them in 16 bits (a replica of another size works in proportion to the published size); ``references``:
    each completed object's views beside its crop, the mean object's terms (none: an object without views)."""
    work = row_of(spec).work
    share = spec.size_bytes / work.published_bytes if spec.size_bytes else 1.0
    gflops = probe(device, editor_dtype(device)).gflops
    each = [editor_seconds(work, gflops, views) for views in (references or (0,))]
    return {name: sum(terms[name] for terms in each) / len(each) * share for name in each[0]}


def most_edit_pixels(spec: ModelSpec) -> int:
    """The most area the editor ``spec`` edits a crop at, whatever it is asked (its row's fact: FLUX.2 [klein]'s
    canvas never passes its largest reference); 0 when it edits at any area asked."""
    return row_of(spec).most_edit_pixels
