"""The manifest says where each target's time went: every stage, and the paint stage's phases."""

from __future__ import annotations

import json
from pathlib import Path

from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.catalog import tiny_model_set
from img23d_protocol import GenerateRequest, JobOptions
from testdata import FAST_OPTIONS, FAST_PAINT, HOUSE

PAINT_PHASES = ("delight", "uv", "render", "multiview", "bake", "fill")


def test_a_textured_target_records_its_seconds_per_stage_and_paint_phase(tiny_root: Path, tmp_path: Path) -> None:
    engine = Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path, device="cpu"))
    request = GenerateRequest(id="t", image=str(HOUSE), targets=["chimney"],
                              options=JobOptions(**{**FAST_OPTIONS, **FAST_PAINT}))
    data = engine.run(request, Job(id="t", emit=lambda event: None))
    manifest = json.loads(Path(data.manifest).read_text())
    [record] = manifest["records"]
    assert record["textured"]
    expected = {"cleanup", "export", *(f"paint_{phase}" for phase in PAINT_PHASES)}
    assert expected <= set(record["timings"]) and all(record["timings"][k] > 0 for k in expected)
    # Job-wide: seconds per stage, and per model what was read and moved.
    assert {"grounding", "matting", "shape", "cleanup", "paint", "export"} <= set(manifest["timings"])
    assert all("bytes_moved" in counters and "load_seconds" in counters
               for counters in manifest["model_counters"].values())
