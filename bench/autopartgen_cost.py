"""What AutoPartGen costs on this machine, piece by piece (issue 64): the figures ``parts/autopartgen/model.py``'s
``BENCHMARK`` and the preflight's estimate scale from.

    .venv-py313/bin/python bench/autopartgen_cost.py --models-dir DIR [--build] [--decode-grid 64]
        [--json bench/results/autopartgen-cost-cpu.json]

The full-size random-weight replica (``bench/full_size_models.py --only parts`` builds it; ``--build``
here does the same when it is missing) is loaded through the production loader (the model manager's
part loaders, ``parts.table.parts_loader``: DINOv2, the DiT and the VAE each read on its own), then timed
in float32:

* the conditioner on one 448 px picture (DINOv2-L/14 with registers, 1,029 tokens);
* one DiT forward at 2,048 latents (batch 1, with the 1,029 image tokens and a two-entry part history),
  after one warm-up forward, projected to one part: 3 forwards x 50 steps;
* one decode of a latent at a reduced grid (``--decode-grid``; the release decodes at 512, img23d's
  default is 256: the preflight scales by the cube of the side, an upper bound);

with the probe's matrix-product speed before and after (``models.throughput``, float32) and the process's
peak resident set. Random weights change no compute; the decoded surface is meaningless.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import source_paths  # noqa: F401  (bench/: this checkout's packages on sys.path, the hub offline)

from img23d_backend.models.replica_common import prepare_imports  # noqa: E402


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def measure(models_dir: Path, build: bool, decode_grid: int) -> dict:
    prepare_imports()
    import numpy as np
    import torch
    from PIL import Image

    from img23d_backend.models.throughput import measure as measure_speed, processor
    from img23d_backend.parts.autopartgen.conditioner import prepare
    from img23d_backend.parts.autopartgen.generator import config_of
    from img23d_backend.parts.autopartgen.loader import AutoPartGenNetworks
    from img23d_backend.parts.autopartgen.surface import decode
    from img23d_backend.parts.table import DEFAULT_PARTS, PARTS_ROWS, parts_loader
    from img23d_backend.replicas.full import build_full_size_models

    load_before = os.getloadavg()
    row = PARTS_ROWS[DEFAULT_PARTS]
    if build:
        build_full_size_models(models_dir, [row.component])
    spec = row.full_size_spec(models_dir)
    cpu = torch.device("cpu")
    before = measure_speed(cpu, torch.float32).gflops
    loaders = parts_loader(spec).loaders
    loads, held = {}, {}
    for name, load in loaders.items():
        started = time.perf_counter()
        held[name] = load(Path(spec.local_path), cpu).obj
        loads[name] = round(time.perf_counter() - started, 2)
    after_load = _rss_gb()
    config = config_of(spec)
    networks = AutoPartGenNetworks(config, held["conditioner"], held["dit"], held["vae"])
    rng = np.random.default_rng(0)
    picture = Image.fromarray(rng.integers(0, 255, (448, 448, 3), dtype=np.uint8), "RGB")
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        started = time.perf_counter()
        features = networks.conditioner.features(prepare(picture, config.conditioner.image_size)[None]).float()
        condition_s = time.perf_counter() - started
        image = torch.cat([features, features], -1)
        latents = torch.randn((1, config.dit.latents, config.dit.in_channels), generator=generator)
        history = torch.randn((1, 2, config.dit.latents, config.dit.latent_dim), generator=generator)
        timestep = torch.tensor([500.0])
        forwards = []
        for _ in range(2):  # the first carries one-time costs (allocations): the second is the figure
            started = time.perf_counter()
            networks.dit(latents, timestep, image, history)
            forwards.append(time.perf_counter() - started)
        started = time.perf_counter()
        mesh = decode(networks, latents / config.dit.scale_factor, decode_grid)
        decode_s = time.perf_counter() - started
    after = measure_speed(cpu, torch.float32).gflops
    forward_s = forwards[-1]
    return {
        "benchmark": "autopartgen-cost", "device": "cpu", "processor": processor().model,
        "cores": processor().cores, "python": platform.python_version(),
        "torch": torch.__version__, "threads": torch.get_num_threads(), "dtype": "float32",
        "scope": (f"one DiT forward at {config.dit.latents} latents (after one warm-up), one decode at grid "
                  f"{decode_grid}, the conditioner on one 448 px picture; a part projected as 3 x 50 forwards "
                  "+ one decode; no full part or run was timed"),
        "model": "full-size random-weight replica (facebook/autopartgen's architecture, float32)",
        "load_s": loads, "condition_s": round(condition_s, 2), "forward_s": [round(s, 2) for s in forwards],
        "decode_grid": decode_grid, "decode_s": round(decode_s, 2),
        "decoded": "no surface" if mesh is None else f"{len(mesh[0])} vertices",
        "part_projected_s": round(3 * 50 * forward_s + decode_s, 1),
        "probe_gflops": {"before": round(before, 1), "after": round(after, 1)},
        # The machine is shared: the 1-minute load average before and after says how much it was.
        "load_average": {"before": round(load_before[0], 2), "after": round(os.getloadavg()[0], 2)},
        "rss_after_load_gb": round(after_load, 2), "peak_rss_gb": round(_rss_gb(), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", type=Path, required=True, help="the full-size replica set's root")
    parser.add_argument("--build", action="store_true", help="build the parts component first if missing")
    parser.add_argument("--decode-grid", type=int, default=64, help="the decoding grid's side (cells)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    result = measure(args.models_dir, args.build, args.decode_grid)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
