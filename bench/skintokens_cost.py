"""What SkinTokens costs on this machine: the full-size architecture (built on meta, random weights
assigned through ``models.placement``) timed part by part, and projected to a typical rig.

Parts: the surface sampling and queries; the shape encoder's prefix (54,000 samples, 512 queries); the
skin VAE's condition (384 queries); the language model's prefill (the prefix and two start tokens); one
decoding step of all beams with the KV cache; the skin decoder's sample features and one joint's weights at
every sample; the probe's float32 matrix-product speed before and after (``models.throughput``: what the
rig job's estimate, ``rigging.skintokens.costs``, scales these seconds by) and the process's peak resident
set after the weights and at the end. The projection: ``tokens = skeleton (3 a joint, 7 more a branch, one eos) + 4 x joints + end``,
one step each, plus one skin decoding a joint. Writes JSON.

    .venv-py313/bin/python bench/skintokens_cost.py --json bench/results/skintokens-cost-cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))

from img23d_backend.models import placement  # noqa: E402
from img23d_backend.models.throughput import measure as measure_speed  # noqa: E402
from img23d_backend.rigging.skintokens.config import FULL  # noqa: E402
from img23d_backend.rigging.skintokens.model import build_on_meta  # noqa: E402
from img23d_backend.rigging.skintokens.surface import choose_queries, sample_surface  # noqa: E402
from timing import report_done, timed  # noqa: E402  (bench/, beside this script)


def materialise(dtype: torch.dtype):
    model = build_on_meta(FULL)
    generator = torch.Generator().manual_seed(0)
    state = {k: (torch.randn(v.shape, generator=generator) * 0.02).to(dtype) for k, v in model.state_dict().items()}
    placement.assign_weights(model, state, "cpu", dtype)
    model.transformer.tie_weights()
    model.round_rope_like_upstream()
    return model.eval().requires_grad_(False)


def _peak_rss() -> int:
    """This process's peak resident set so far, bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=54_000)
    parser.add_argument("--beams", type=int, default=10)
    parser.add_argument("--joints", type=int, default=50, help="the rig the projection is for")
    parser.add_argument("--branches", type=int, default=10, help="joints of that rig written after a branch")
    parser.add_argument("--steps", type=int, default=3, help="decoding steps timed (median)")
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    before = measure_speed(torch.device("cpu"), torch.float32).gflops
    load_start = time.perf_counter()
    model = materialise(dtype)
    build_s = time.perf_counter() - load_start
    weights_rss = _peak_rss()
    import trimesh

    mesh = trimesh.creation.icosphere(4)
    generator = torch.Generator().manual_seed(0)
    sample_s, (points, normals) = timed(lambda: sample_surface(torch.from_numpy(np.asarray(mesh.vertices, np.float32)),
                                                                torch.from_numpy(np.asarray(mesh.faces)), args.points, generator), 1)
    query_s, (q_shape, q_vae) = timed(lambda: (choose_queries(points, FULL.encoder.queries, generator),
                                                choose_queries(points, FULL.vae.cond_queries, generator)), 1)
    p, n = points[None], normals[None]
    encoder_s, prefix = timed(lambda: model.prefix(p, n, q_shape), 1)
    vae = model.vae.model
    condition_s, condition = timed(lambda: vae.condition(p, n, q_vae), 1)
    lm = model.transformer
    start = torch.tensor([[257, 266]])
    inputs = torch.cat([prefix, lm.get_input_embeddings()(start).to(prefix.dtype)], dim=1)
    prefill_s, out = timed(lambda: lm(inputs_embeds=inputs, use_cache=True), 1)
    cache = out.past_key_values
    cache.batch_repeat_interleave(args.beams)
    step_ids = torch.zeros(args.beams, 1, dtype=torch.long)
    step_times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        out = lm(inputs_embeds=lm.get_input_embeddings()(step_ids).to(prefix.dtype), past_key_values=cache, use_cache=True)
        step_times.append(time.perf_counter() - t0)
        cache = out.past_key_values
    step_s = statistics.median(step_times)
    features_s, queries = timed(lambda: vae.query_features(p, n), 1)
    joint_s, _ = timed(lambda: vae.decode(torch.tensor([[1, 2, 3, 4]]), condition, queries), 1)
    peak_rss = _peak_rss()
    after = measure_speed(torch.device("cpu"), torch.float32).gflops
    j, b = args.joints, args.branches
    tokens = 3 * j + 7 * b + 1 + 4 * j + 1
    projected = {"tokens": tokens, "decoding_s": tokens * step_s, "skin_s": features_s + j * joint_s,
                 "encoders_s": encoder_s + condition_s, "prefill_s": prefill_s}
    projected["total_s"] = sum(v for k, v in projected.items() if k.endswith("_s"))
    result = {
        "what": "SkinTokens full-size architecture, random weights, timed part by part on this CPU",
        "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(), "load_average": os.getloadavg()},
        "probe_gflops": {"before": round(before, 1), "after": round(after, 1)},
        "peak_rss_bytes": {"after_weights": weights_rss, "end": peak_rss},
        "dtype": args.dtype, "points": args.points, "beams": args.beams,
        "parameters": sum(t.numel() for t in model.parameters()),
        "seconds": {"build_and_assign": build_s, "sample_surface": sample_s, "queries": query_s,
                    "shape_encoder_prefix": encoder_s, "vae_condition": condition_s, "lm_prefill": prefill_s,
                    "lm_step_all_beams": step_s, "lm_steps": step_times, "skin_sample_features": features_s,
                    "skin_one_joint": joint_s},
        "projection": {"joints": j, "branches": b, **projected,
                       "rule": "tokens = 3J + 7B + eos + 4J + end; one all-beam step each; one skin decoding a joint"},
    }
    report_done(args, result, json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
