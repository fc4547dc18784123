"""How long the image editor takes to make a picture from text on this device (issue 76: said before the picture
starts, and weighed against the hour), from a measured run of a picture made from text.

``bench/text_picture.py`` ran the full-size FLUX.2 [klein] 4B replica (random weights, float32, its production
loader and ``text_picture``'s phases) on the 2-core CPU at two sides and fitted what grows with the side
(``bench/results/text-picture-cpu.json``): the prompt's encoding (the same at every side), one transformer call as
``a T + b T^2`` in the joint tokens T (the prompt's 512 and one per 16 x 16 pixels of the picture), the decoding
in proportion to the pixels; the model's own 4 steps. Here each second is scaled by the benchmark's speed against
this device's probe (``models.throughput``, in the dtype the editor runs in here), and a replica of another size
by its share of the weights, as every estimate is (``models.step_costs``: an order of magnitude). FLUX.2 [klein]
4B is the one editor that makes pictures from text (``EditorRow.makes_pictures``): its run is the benchmark.

The completion's estimate (``editors.costs``) served before: it counts a crop's latents beside the noise's and the
re-matting, neither of which a picture from text has, and said about five times the time measured at 1024 px on
that CPU (10,666 s for 2,101 s, the JSON's ``pictures``), from its calibration of the time, since retaken.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..models.specs import ModelSpec
from ..models.throughput import probe
from .parts import editor_dtype
from .table import row_of

PIXELS_PER_TOKEN = 16 * 16   # the transformer's patch over the VAE's latents: one token per 16 x 16 pixels


@dataclass(frozen=True)
class PictureBenchmark:
    """A picture from text timed on one CPU in float32 (``bench/results/text-picture-cpu.json``)."""

    gflops: float               # the probe's float32 speed during the run (the mean of before and after)
    encode_s: float             # the prompt's encoding
    call_token_s: float         # one transformer call: seconds per joint token ...
    call_token2_s: float        # ... and per joint token squared (attention)
    decode_pixel_s: float       # the decoding, per pixel of the picture
    prompt_tokens: int          # the prompt's tokens beside the picture's in each call
    steps: int                  # the model's own denoising steps


# The 2-core AMD EPYC (AVX-512), quiet (load average 0.5 to 2.0), two steps a side, probe 181.1 GFLOP/s before
# and 197.8 after. An earlier run beside other tests (load 2.7 to 4.0, probe 38.7 and 53.7) scaled to a quiet
# probe said 1.4 to 2 times the seconds this one measured: a loaded probe slows more than the model does.
KLEIN_PICTURE = PictureBenchmark(gflops=189.45, encode_s=26.61, call_token_s=0.03774, call_token2_s=1.146e-06,
                                 decode_pixel_s=5.143e-05, prompt_tokens=512, steps=4)


def picture_seconds(bench: PictureBenchmark, gflops: float, width: int, height: int, share: float = 1.0) -> float:
    """A ``width`` x ``height`` picture's seconds on a device whose probe reads ``gflops``, for a model whose
    weights are ``share`` of the benchmarked one's."""
    pixels = width * height
    tokens = bench.prompt_tokens + pixels / PIXELS_PER_TOKEN
    call = bench.call_token_s * tokens + bench.call_token2_s * tokens ** 2
    seconds = bench.encode_s + bench.steps * call + bench.decode_pixel_s * pixels
    return seconds * bench.gflops / gflops * share


def expected_picture_seconds(spec: ModelSpec, device: Any, width: int, height: int) -> float:
    """The picture's seconds with the image editor ``spec`` on ``device`` (its weights as the spec states them: a
    replica of another size works in proportion to the published size)."""
    work = row_of(spec).work
    share = spec.size_bytes / work.published_bytes if spec.size_bytes else 1.0
    return picture_seconds(KLEIN_PICTURE, probe(device, editor_dtype(device)).gflops, width, height, share)


__all__ = ["KLEIN_PICTURE", "PictureBenchmark", "expected_picture_seconds", "picture_seconds"]
