"""A picture made from text by FLUX.2 [klein] 4B on this device, measured at one or two sides and projected to
the model's own steps and its own size, beside what the preflight says (issue 76 item 6).

    .venv/bin/python bench/text_picture.py --models-dir DIR [--build] [--delete] [--sides 256,512] [--steps 1]
        [--device cpu] [--json bench/results/text-picture-cpu.json]

The full-size random-weight replica (``bench/full_size_models.py --only editor``) loaded by the production
loader, in the dtype production gives the device (``editor_dtype``: float32 on every CPU), and run by the
phases ``editors.text_picture.make_picture`` runs through ``editors.driver.run_phases``: the prompt (the
issue's example in ``PICTURE_TEMPLATE``) encoded by the text encoder; for each side, a request without a crop
denoised from seeded noise by the transformer in ``--steps`` steps (each transformer call timed); the latents
decoded by the VAE. One part at a time, as the model manager's phased placement holds them: the text encoder
loaded, run and freed, then the transformer with the VAE (the sides run one after the other in it).

Projection: at a measured side, the encoding + the denoising's time outside the transformer + the steady
transformer call (``timing.steady``: with one step run, the only call, which pays one-time costs, so it leans
high) x the model's own 4 steps + the decoding. With two sides, each part that grows with the size is fitted
through both (``size_fit``: a transformer call by its joint tokens, the prompt's beside the picture's, the rest
by pixels) and projected to the model's own size (1024 x 1024); the encoding does not grow with it.

Beside each side, what the preflight says before a picture is made (``prompt_picture.expected_seconds``'s call,
``editors.picture_costs.expected_picture_seconds``, from this process's ``models.throughput.probe``)
and the ratio measured / said; the said figure at the run's mean speed (before and after) as well, since on a
shared CPU the probe's one reading moves the estimate as much as the model does. The device's matrix-product
speed in the editor's dtype is measured at the start and the end. Load times are reported apart. Random weights
change no compute; what the picture looks like cannot be judged here.
"""

from __future__ import annotations

import gc
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import source_paths  # noqa: F401  (bench/: this checkout's packages on sys.path, the hub offline)

from completion import OWN_EDIT_STEPS, load_editor  # noqa: E402  (bench/, beside this script)
from size_fit import SizeFit, fit_sizes  # noqa: E402
from timing import (conditions, device_name, forward_calls, full_size_parser, measured_replica,  # noqa: E402
                    report_done, steady, throughput_figures, timed)

import torch  # noqa: E402

from img23d_backend.editors.flux2_klein.phases import decode, denoise, encode_instructions  # noqa: E402
from img23d_backend.editors.parts import EditorOptions, editor_dtype  # noqa: E402
from img23d_backend.editors.picture_costs import expected_picture_seconds  # noqa: E402
from img23d_backend.editors.pipeline import EditRequest  # noqa: E402
from img23d_backend.editors.text_prompt import default_size, picture_prompt  # noqa: E402
from img23d_backend.env.job_control import CancelToken  # noqa: E402
from img23d_backend.models.throughput import measure as measure_throughput  # noqa: E402
from img23d_backend.models.throughput import probe  # noqa: E402
from img23d_backend.replicas.full import component_spec  # noqa: E402

PROMPT = "a wooden barrel beside a small house"  # issue 76's example


@dataclass(frozen=True)
class SideRun:
    """One side's measured denoising (``steps`` run) and decoding."""

    side: int
    image_tokens: int      # the picture's latents the transformer ran on (hidden_states' length)
    joint_tokens: int      # with the prompt's: what its attention spans
    steps_run: int
    denoise_run_s: float
    transformer_calls_s: list[float]
    call_s: float          # the steady call (``timing.steady``)
    outside_s: float       # the denoising's time outside the transformer
    decode_s: float

    def seconds(self, encode_s: float, steps: int) -> float:
        """The picture at this side in ``steps`` steps: encoding, the rest of the denoising, the calls, decoding."""
        return encode_s + self.outside_s + self.call_s * steps + self.decode_s


def said_seconds(spec: Any, device: torch.device, side: int) -> float:
    """What the preflight says a picture of ``side`` takes on ``device``: ``prompt_picture.expected_seconds``'s own
    call (``editors.picture_costs``; the completion's arithmetic it replaced said up to 2.1 times more)."""
    return expected_picture_seconds(spec, device, side, side)


def measure(root: Path, device: str, sides: list[int], steps: int) -> dict[str, Any]:
    """The prompt encoded once, then each side denoised and decoded; loads apart; the preflight's word beside."""
    dev = torch.device(device)
    spec = component_spec(root, "editor")
    folder = Path(str(spec.local_path))
    options = EditorOptions.of(spec)
    dtype = editor_dtype(dev)
    own_side = default_size(options.working_pixels)[0]
    said = {side: said_seconds(spec, dev, side) for side in (*sides, own_side)}  # the probe read before the run
    model_text = picture_prompt(PROMPT)
    requests = {side: EditRequest(None, model_text, seed=0, size=(side, side)) for side in sides}
    cancel = CancelToken()

    model, load_text_s = load_editor(folder, dev, ("text_encoder",), options, dtype)
    encode_s, instructions = timed(lambda: encode_instructions(model, list(requests.values()), dev, cancel), 1)
    text_tokens = int(instructions.embeddings[model_text].shape[1])
    del model
    gc.collect()
    print(f"encoding: {encode_s:.1f} s ({text_tokens} prompt tokens); loading {load_text_s:.1f} s", flush=True)

    model, load_denoise_s = load_editor(folder, dev, ("transformer", "vae"), options, dtype)
    denoised = {}
    for side, request in requests.items():
        model.working_pixels = side * side  # as the driver's phase sets the job's area
        with forward_calls(model.pipeline.transformer, dev) as calls:
            denoise_s, [latents] = timed(lambda: denoise(model, [request], instructions, cancel, steps=steps), 1)
        denoised[side] = (denoise_s, calls, latents)
        print(f"{side} px: denoising {denoise_s:.1f} s, transformer calls {[round(s, 1) for s, _ in calls]}",
              flush=True)
    runs = []
    for side, (denoise_s, calls, latents) in denoised.items():
        decode_s, _ = timed(lambda: decode(model, [requests[side]], [latents], cancel), 1)
        image_tokens = calls[0][1][1]
        runs.append(SideRun(side, image_tokens, image_tokens + text_tokens, steps, denoise_s, [s for s, _ in calls],
                            steady(calls), denoise_s - sum(s for s, _ in calls), decode_s))
        print(f"{side} px: decoding {decode_s:.1f} s", flush=True)
    del model, denoised
    gc.collect()

    return {"dtype": str(dtype).removeprefix("torch."), "prompt": PROMPT, "prompt_tokens": text_tokens,
            "own_steps": OWN_EDIT_STEPS, "own_side": own_side, "load_text_encoder_s": load_text_s,
            "load_transformer_vae_s": load_denoise_s, "encode_s": encode_s, "sides": runs,
            "said_s": said, "said_gflops": probe(dev, dtype).gflops}


def projection(found: dict[str, Any]) -> dict[int, float]:
    """Each measured side's picture at the model's own steps; with two sides, the model's own side's too,
    each growing part fitted through both (a call by its joint tokens, the rest and the decoding by pixels)."""
    runs: list[SideRun] = found["sides"]
    steps = found["own_steps"]
    seconds = {run.side: run.seconds(found["encode_s"], steps) for run in runs}
    if len(runs) == 2 and found["own_side"] not in seconds:
        fits = _fits(runs)
        side = found["own_side"]
        pixels = side * side
        tokens = pixels * runs[-1].image_tokens / runs[-1].side ** 2 + found["prompt_tokens"]
        seconds[side] = (found["encode_s"] + fits["outside"].seconds(pixels) + fits["call"].seconds(tokens) * steps
                         + fits["decode"].seconds(pixels))
    return seconds


def _fits(runs: list[SideRun]) -> dict[str, SizeFit]:
    return {"call": fit_sizes([(run.joint_tokens, run.call_s) for run in runs]),
            "outside": fit_sizes([(run.side ** 2, run.outside_s) for run in runs]),
            "decode": fit_sizes([(run.side ** 2, run.decode_s) for run in runs])}


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    return value


def main(argv: list[str] | None = None) -> int:
    parser = full_size_parser(__doc__)
    parser.add_argument("--sides", default="256,512",
                        help="one or two sides of the square picture, comma-separated (the product's: 1024)")
    parser.add_argument("--steps", type=int, default=1, help="denoising steps run at each side (its own: 4)")
    args = parser.parse_args(argv)
    sides = [int(side) for side in args.sides.split(",")]
    if not 1 <= len(sides) <= 2 or len(set(sides)) != len(sides):
        parser.error("--sides takes one side or two different ones")
    load_before = os.getloadavg()
    dtype = editor_dtype(torch.device(args.device))
    throughput_before = measure_throughput(torch.device(args.device), dtype)
    found = measured_replica(args, "editor", lambda: measure(args.models_dir, args.device, sides, args.steps))
    throughput_after = measure_throughput(torch.device(args.device), dtype)
    measured = projection(found)
    runs, said, said_gflops = found.pop("sides"), found.pop("said_s"), found.pop("said_gflops")
    mean_gflops = (throughput_before.gflops + throughput_after.gflops) / 2
    # The estimate scales as 1 / the probe's speed: the same estimate at the run's mean speed beside it.
    at_mean = {side: seconds * said_gflops / mean_gflops for side, seconds in said.items()}
    pictures = {str(side): {"measured_s": seconds, "said_s": said[side], "ratio_measured_to_said": seconds / said[side],
                            "said_at_mean_speed_s": at_mean[side],
                            "ratio_to_said_at_mean_speed": seconds / at_mean[side]}
                for side, seconds in measured.items()}
    report = _rounded({
        "device": device_name(args), "torch": torch.__version__,
        "measured": ("the full-size random-weight FLUX.2 [klein] 4B replica through its production loader and the "
                     "phases a picture made from text runs (editors.text_picture.make_picture: the prompt's "
                     "encoding, the denoising of a request without a crop, the decoding), one part at a time; "
                     "each side projected to the model's own steps; loading apart"),
        "scope": (f"sides {', '.join(map(str, sides))} px measured with {args.steps} step(s) each, projected to "
                  f"{OWN_EDIT_STEPS}" + (f"; {found['own_side']} px (the product's default) from a fit of the two "
                                         "sides (bench/size_fit.py)" if len(sides) == 2 else "")),
        "editor": found, "sides": [asdict(run) for run in runs], "pictures": pictures,
        "said_gflops": said_gflops,  # the probe the preflight's estimate read, before the run
        "throughput_gflops": throughput_figures(throughput_before, throughput_after),  # in the editor's dtype
        **conditions(load_before),
    })
    # The fits' coefficients are seconds per token or pixel (and their squares): kept to significant digits.
    report["fits"] = ({name: {key: float(f"{value:.4g}") for key, value in fit.figures().items()}
                       for name, fit in _fits(runs).items()} if len(runs) == 2 else None)
    for side, figures in report["pictures"].items():
        print(f"{side} x {side}: {figures}", flush=True)
    return report_done(args, report, None)


if __name__ == "__main__":
    raise SystemExit(main())
