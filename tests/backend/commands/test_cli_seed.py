"""The command line's random seed and finishing flags: what is drawn is printed and recorded, and a
bad value is one sentence that names its flag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trimesh

from cli_inprocess import RunCli
from testdata import FAST_OPTIONS, HOUSE
from img23d_backend.jobs.engine import RANDOM_SEED_LIMIT, seeded
from img23d_protocol import JobOptions

pytestmark = pytest.mark.lane_a  # whole jobs in this process, run in lane A for the lanes' balance (pytest.ini)

FAST_FLAGS = ["--steps", str(FAST_OPTIONS["steps"]), "--octree-resolution", str(FAST_OPTIONS["octree_resolution"]),
              "--no-texture"]


def test_a_random_seed_is_drawn_per_job_and_a_fixed_one_is_kept() -> None:
    fixed = JobOptions(seed=42)
    assert seeded(fixed) is fixed
    drawn = {seeded(JobOptions(random_seed=True)).seed for _ in range(20)}
    assert len(drawn) > 1 and all(0 <= seed < RANDOM_SEED_LIMIT for seed in drawn)


def test_seed_random_is_printed_recorded_and_reproduces(cli: RunCli, tmp_path: Path) -> None:
    out = cli("generate", str(HOUSE), "--targets", "chimney", "--models", "tiny", "--device", "cpu",
               "--out", str(tmp_path / "random"), *FAST_FLAGS, "--face-budget", "0", "--seed", "random")
    assert out.returncode == 0, out.stderr
    [seed_line] = [line for line in out.stdout.splitlines() if line.startswith("seed: ")]
    seed = int(seed_line.split()[1])
    [run] = list((tmp_path / "random").iterdir())
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["options"]["seed"] == seed and manifest["options"]["random_seed"] is True
    assert manifest["options"]["face_budget"] == 0
    [record] = manifest["records"]
    assert record["seed"] == seed
    # The printed seed, typed back in, makes the same mesh.
    again = cli("generate", str(HOUSE), "--targets", "chimney", "--models", "tiny", "--device", "cpu",
                "--out", str(tmp_path / "again"), *FAST_FLAGS, "--face-budget", "0", "--seed", str(seed))
    assert again.returncode == 0, again.stderr
    assert "seed: " not in again.stdout  # only a drawn seed is worth printing
    [run_again] = list((tmp_path / "again").iterdir())
    first, second = (trimesh.load(r / "chimney.glb", force="mesh") for r in (run, run_again))
    assert len(first.faces) == len(second.faces) and abs(first.vertices - second.vertices).max() < 1e-5


@pytest.mark.parametrize("flags, message", [
    (["--seed", "banana"], "--seed: must be a whole number or 'random', not 'banana'"),
    (["--fill-holes", "-1"], "--fill-holes -1 is out of range: it must be 0 (leave holes open) or 1 to 1,000,000"),
    (["--smoothing", "101"], "--smoothing 101 is out of range: it must be 0 to 100"),
    (["--min-piece", "2"], "--min-piece 2.0 is out of range: it must be 0 to 1"),
    (["--face-budget", "10"], "--face-budget 10 is out of range: it must be 0 (keep every face) or 100 to"),
])
def test_a_bad_finishing_value_is_one_sentence_naming_its_flag(cli: RunCli, tmp_path: Path, flags: list[str],
                                                               message: str) -> None:
    out = cli("generate", str(HOUSE), "--models", "tiny", "--out", str(tmp_path), *flags)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert not (tmp_path / "img23d-runs").exists() and not any(tmp_path.iterdir())  # nothing was written
