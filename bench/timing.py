"""What the benchmarks share: the median of several runs of a call and what it returned; each call of
one module's forward (a UNet's steps inside a pipeline's call); the full-size benchmarks' common
arguments, the machine's name and the conditions a run was measured under."""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import shutil
import statistics
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from img23d_backend.models.replica_common import write_json  # the caller put backend/ on the path
from img23d_backend.models.throughput import Throughput, processor

# The repository's example: 40,000 faces, closed and without UVs, like a shape model's output.
EXAMPLE_MESH = Path(__file__).resolve().parents[1] / "examples" / "house_mesh.glb"


def timed(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median seconds of ``repeat`` (at least one) calls of ``run``, and what the last one returned."""
    seconds, result = [], None
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


@contextmanager
def forward_calls(module: Any, device: Any) -> Iterator[list[tuple[float, tuple[int, ...]]]]:
    """For the block, every call of ``module.forward`` timed (on CUDA, to the end of its kernels), as
    (seconds, the shape of what it ran on) in order; the module's own forward again afterwards."""
    import torch

    calls: list[tuple[float, tuple[int, ...]]] = []
    forward = module.forward

    def timed_forward(*args: Any, **kwargs: Any) -> Any:
        begun = time.perf_counter()
        out = forward(*args, **kwargs)
        if getattr(device, "type", str(device)) == "cuda":
            torch.cuda.synchronize(device)
        # What it ran on: the first argument (a UNet's sample), or the first tensor passed by name (a
        # diffusers transformer's hidden_states).
        first = args[0] if args else next((v for v in kwargs.values() if isinstance(v, torch.Tensor)), None)
        calls.append((time.perf_counter() - begun, tuple(first.shape) if first is not None else ()))
        return out

    module.forward = timed_forward
    try:
        yield calls
    finally:
        del module.forward  # the instance attribute: the class's forward shows again


def steady(calls: list[tuple[float, tuple[int, ...]]]) -> float:
    """The median call after the first, which pays one-time costs (allocations, kernel choices)."""
    return statistics.median(seconds for seconds, _ in (calls[1:] or calls))


@dataclass(frozen=True)
class UnetSplit:
    """One timed pipeline call split into its UNet's steps and the rest (encoding, decoding, resizing)."""

    call_s: float
    unet_s: float
    per_step: float   # the steady step: the median UNet call after the first (``steady``)
    rest: float       # the call's seconds outside the UNet

    def figures(self) -> dict[str, float]:
        return {"call_s": round(self.call_s, 1), "unet_s": round(self.unet_s, 1),
                "unet_s_per_step": round(self.per_step, 2), "outside_unet_s": round(self.rest, 1)}

    def projected(self, own_steps: int) -> float:
        """The call's seconds at the model's own step count: the rest plus that many steady steps."""
        return self.rest + self.per_step * own_steps


def unet_split(calls: list[tuple[float, tuple[int, ...]]], call_s: float) -> UnetSplit:
    """``call_s`` (one timed call) split by the UNet ``calls`` it made (``forward_calls``)."""
    unet_s = sum(seconds for seconds, _ in calls)
    return UnetSplit(call_s, unet_s, steady(calls), call_s - unet_s)


def throughput_figures(before: Throughput, after: Throughput) -> dict[str, Any]:
    """``models.throughput``'s figure in the measured model's dtype before it ran and after: what the
    preflight's estimates (``models/step_costs.py``) scale a run's seconds by on another device."""
    return {"dtype": before.dtype.removeprefix("torch."), "start": round(before.gflops, 1),
            "end": round(after.gflops, 1)}


def report_done(args: argparse.Namespace, report: dict[str, Any], line: str | None) -> int:
    """Print the run's headline ``line`` (when it has one) and write its ``report`` where ``--json`` says."""
    if line:
        print(line, flush=True)
    if args.json is not None:
        write_json(args.json, report)
    return 0


def full_size_parser(doc: str, delete: bool = True) -> argparse.ArgumentParser:
    """A full-size benchmark's parser, described by its module's ``doc``'s first paragraph, with the
    arguments every one takes: where the replicas are, building and deleting them, the device, how
    the JSON names it, and where the JSON goes."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--models-dir", type=Path, required=True, help="the full-size replicas' folder")
    parser.add_argument("--build", action="store_true", help="build a missing replica first")
    if delete:
        parser.add_argument("--delete", action="store_true", help="delete each replica's folder once measured")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--device-label", default="", help="how the JSON names the machine")
    parser.add_argument("--json", type=Path, default=None)
    return parser


def measured_replica(args: argparse.Namespace, name: str, measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """What ``measure`` found of the full-size replica ``name``: built first where ``--build`` says, its
    folder deleted once measured where ``--delete`` says (a disk then holds one replica at a time)."""
    # replicas.full imports torch: the benchmarks that build no replica do not pay for it.
    from img23d_backend.replicas.full import TARGETS, build_full_size_models

    if args.build:
        build_full_size_models(args.models_dir, [name])
    figures = measure()
    gc.collect()  # what the measurement held (a pipeline's reference cycles) freed before the next replica
    if args.delete:
        shutil.rmtree(args.models_dir / TARGETS[name], ignore_errors=True)
    return figures


def raster_arguments(parser: argparse.ArgumentParser, repeats: str) -> None:
    """The arguments both rasterizer benchmarks take beside their view sizes: the device, ``--repeats``
    (``repeats`` says what one timed run covers), torch's CPU threads, the mesh and where the JSON goes."""
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3, help=f"timed runs {repeats} after one warm-up")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--mesh", type=Path, default=EXAMPLE_MESH)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")


def step_count_arguments(parser: argparse.ArgumentParser, folder_help: str, steps: list[int], size_help: str) -> None:
    """The arguments both step-count benchmarks (``delight_steps.py``, ``materials_steps.py``) take: the real weights'
    folder (else the tiny replica), the step counts, the device, the side, the repeats and where the JSON goes."""
    parser.add_argument("--folder", type=Path, help=folder_help)
    parser.add_argument("--steps", type=int, nargs="+", default=steps)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=512, help=size_help)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", type=Path)


def step_count_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """``parser``'s arguments, the step counts and repeats checked (one sentence each)."""
    args = parser.parse_args()
    if any(steps < 1 for steps in args.steps) or args.repeat < 1:
        parser.error("--steps and --repeat take whole numbers of at least 1")
    return args


def device_label(device: Any) -> str:
    """A torch device as a run's record names it: the CUDA device's name, or the CPU's model and cores."""
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def device_name(args: argparse.Namespace) -> str:
    """The machine a run measured: ``--device-label``, the CUDA device's name, or the CPU: its model and cores."""
    import torch

    if args.device_label:
        return args.device_label
    if args.device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(args.device))
    return f"{args.device} ({processor().model}, {platform.machine()}, {os.cpu_count()} cores)"


def conditions(load_before: tuple[float, float, float]) -> dict[str, Any]:
    """What the machine was doing: its load average at the start and the end, and the peak memory;
    and what it is: its processor (model name and speed flags: ``models.throughput.processor``)."""
    return {"load_average": {"start": [round(x, 2) for x in load_before],
                             "end": [round(x, 2) for x in os.getloadavg()]},
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 1),
            "processor": asdict(processor())}


def touch_weights(modules: list[Any]) -> None:
    """Read every weight once: safetensors maps the file, so a CPU load that casts nothing would
    otherwise read it during the first step (and a load would look free)."""
    for module in modules:
        for parameter in module.parameters():
            parameter.detach().float().sum()


def step_intervals(events: list[float], steps: int) -> dict[str, float]:
    """Seconds per part of a shape step from its progress events' times (start first): the median
    denoising step, the first step's excess over it (the image encoding), and the decoding."""
    gaps = [later - earlier for earlier, later in zip(events, events[1:])]
    step_gaps, decode = gaps[:steps], gaps[steps]
    median = statistics.median(step_gaps[1:]) if steps > 1 else step_gaps[0]
    return {"step": median, "encode": max(0.0, step_gaps[0] - median), "decode": decode}
