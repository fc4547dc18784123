"""The command line as a person without Blender uses it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import trimesh

from cli_inprocess import RunCli
from ctrl_c import killed_if_left, rest_of_stderr, stopped_during_start_up, wait_for_line
from testdata import FAST_OPTIONS, HOUSE, SUBJECT
from img23d_backend.commands import progress

pytestmark = pytest.mark.process  # its subject is img23d's processes (pytest.ini)

FAST_FLAGS = ["--steps", str(FAST_OPTIONS["steps"]), "--octree-resolution", str(FAST_OPTIONS["octree_resolution"]),
              "--face-budget", str(FAST_OPTIONS["face_budget"]), "--no-texture"]


def _cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """The command in a process of its own: for what the process must show (the hub's cache folder, read once
    when the hub's library is imported, is the process's)."""
    return subprocess.run([sys.executable, "-m", "img23d_backend", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_generate_three_names_on_the_house(cli: RunCli, tmp_path: Path) -> None:
    out = cli("generate", str(HOUSE), "--targets", "house, chimney, barrel", "--models", "tiny",
              "--device", "cpu", "--out", str(tmp_path), *FAST_FLAGS)
    assert out.returncode == 0, out.stderr
    [run] = list(tmp_path.iterdir())
    for name in ("house", "chimney", "barrel"):
        assert f"{name}: {run / (name + '.glb')}" in out.stdout
        assert len(trimesh.load(run / f"{name}.glb", force="mesh").faces) > 0
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "finished"
    assert {r: c["loads_from_disk"] for r, c in manifest["model_counters"].items()} == {
        "grounding": 1, "matting": 1, "shape": 1, "delight": 0, "paint": 0, "depth": 1,
        "materials": 0, "editor": 0, "shape_views": 0}  # registered with the job's manager; not loaded here
    assert "[shape" in out.stderr  # progress went to stderr, results to stdout


def test_partial_success_exits_3_and_says_which_failed(cli: RunCli, tmp_path: Path) -> None:
    out = cli("generate", str(HOUSE), "--targets", "chimney, unicorn", "--models", "tiny",
              "--device", "cpu", "--out", str(tmp_path), *FAST_FLAGS)
    assert out.returncode == 3, out.stderr
    assert "unicorn: FAILED [target_not_found]" in out.stdout


def test_detect_prints_boxes_in_image_pixels(cli: RunCli, tmp_path: Path) -> None:
    out = cli("detect", str(HOUSE), "--targets", "house, barrel", "--models", "tiny",
              "--device", "cpu", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(": ", 1) for line in out.stdout.strip().splitlines())
    x0, y0, x1, y1 = map(float, lines["house"].split())
    assert 0 <= x0 < x1 <= 1024 and 0 <= y0 < y1 <= 1024
    assert x1 - x0 > 500  # the house spans most of the picture (the tiny model's fixed answer)


def test_a_command_run_again_in_one_process_logs_on_its_own_stderr_at_its_own_level(cli: RunCli,
                                                                                     tmp_path: Path) -> None:
    """main() called twice (the Python API, these tests): each command's log lines on its own stderr, -v
    its own; logging.basicConfig sent the second's to the first's stream at the first's level, and under a
    host that logs (pytest) none at all. The cli fixture checks that each left no handler behind."""
    args = ["detect", str(HOUSE), "--targets", "house", "--models", "tiny", "--device", "cpu", "--out", str(tmp_path)]
    quiet, verbose = cli(*args), cli(*args, "-v")
    assert quiet.returncode == verbose.returncode == 0, quiet.stderr + verbose.stderr
    assert "INFO img23d_backend." not in quiet.stderr
    assert "INFO img23d_backend.grounding.qwen3_vl.ask: grounding answer" in verbose.stderr, verbose.stderr


def test_bad_usage_exits_2_with_a_message(cli: RunCli, tmp_path: Path) -> None:
    out = cli("generate", str(HOUSE), "--targets", "house, House", "--models", "tiny",
              "--out", str(tmp_path))
    assert out.returncode == 2 and "asked for twice" in out.stderr
    out = cli("generate", str(HOUSE), "--targets", "house, ---", "--models", "tiny", "--out", str(tmp_path))
    assert out.returncode == 2 and "name 2 ('---') has no letter or digit, so it can never be found" in out.stderr
    out = cli("generate", str(HOUSE), "--models", "tiny", "--steps", "-1", "--out", str(tmp_path))
    assert out.returncode == 2 and "--steps -1 is out of range" in out.stderr
    out = cli("generate", str(HOUSE), "--models", "tiny", "--device", "cuda", "--out", str(tmp_path))
    assert out.returncode == 2 and "no CUDA GPU" in out.stderr


def test_real_models_offline_say_what_is_missing_and_keep_the_run(backend_env: dict[str, str],
                                                                   tmp_path: Path) -> None:
    env = {**backend_env, "HF_HUB_CACHE": str(tmp_path / "empty-cache")}
    # --accept-long: on a CPU the default job's material step may be estimated at an hour or more,
    # which is asked before any model is loaded; what is missing is this test's question.
    out = _cli(env, "generate", str(HOUSE), "--targets", "house", "--offline", "--device", "cpu",
               "--out", str(tmp_path / "runs"), "--accept-long")
    assert out.returncode == 1
    assert "[model_missing]" in out.stderr and "Qwen/Qwen3-VL-2B-Instruct" in out.stderr
    [run] = list((tmp_path / "runs").iterdir())
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["errors"][0]["code"] == "model_missing"
    assert (run / "input.png").is_file()


def test_generate_textured_on_the_subject(cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A painted object, and with ``--splats`` its Gaussian splats beside its GLB (issue 57): in the
    manifest and the printed results, each Gaussian on the GLB's surface, coloured from its texture. On a
    terminal, the job's estimate first, a whole line that stays, naming every stage, the paint's and the material
    step's too (issue 87 item 5: the bar overwrote it at once, and a prompt's estimate named the picture alone)."""
    from splat_render import read_like_antimatter15
    from testdata import SUBJECT

    monkeypatch.setattr(progress, "is_terminal", lambda stream: True)
    flags = [f for f in FAST_FLAGS if f != "--no-texture"]
    out = cli("generate", str(SUBJECT), "--models", "tiny", "--device", "cpu", "--out", str(tmp_path),
              *flags, "--texture-size", "256", "--paint-steps", "2", "--delight-steps", "2", "--splats")
    assert out.returncode == 0, out.stderr
    shown = [line.split("\r")[-1].rstrip() for line in out.stderr.split("\n")]   # what the terminal shows
    [estimate] = [line for line in shown if line.startswith("expected: ")]
    assert estimate.startswith("expected: about ") and " on this CPU (" in estimate
    for stage in ("matting", "depth", "shape", "clean-up", "paint", "materials", "export"):
        assert f" {stage} about " in estimate, (stage, estimate)
    assert out.stderr.index(estimate) < out.stderr.index("[paint")   # said before the stages, the bar below it
    [run] = list(tmp_path.iterdir())
    mesh = trimesh.load(run / "snowman.glb", force="mesh")
    assert mesh.visual.uv is not None and len(mesh.visual.uv) == len(mesh.vertices)
    texture = mesh.visual.material.baseColorTexture
    assert texture.size == (256, 256)
    manifest = json.loads((run / "manifest.json").read_text())
    [record] = manifest["records"]
    assert record["textured"] is True and record["error"] is None
    assert manifest["memory_peaks"]["paint"] > 0 and manifest["timings"]["paint"] > 0
    assert manifest["model_counters"]["paint"]["loads_from_disk"] == 1

    ply = run / "snowman.splat.ply"
    assert f"snowman as splats: {ply}" in out.stdout
    assert record["splats"] == "snowman.splat.ply" and record["mesh"] == "snowman.glb"
    rows = read_like_antimatter15(ply.read_bytes())
    positions = np.stack([rows["x"], rows["y"], rows["z"]], 1).astype(np.float64)
    assert len(positions) >= len(mesh.faces)
    some = positions[:: max(1, len(positions) // 200)]
    triangles = np.repeat(mesh.triangles[None], len(some), axis=0).reshape(-1, 3, 3)
    nearest = trimesh.triangles.closest_point(triangles, np.repeat(some, len(mesh.faces), axis=0))
    distance = np.linalg.norm(nearest - np.repeat(some, len(mesh.faces), axis=0), axis=1)
    assert distance.reshape(len(some), -1).min(axis=1).max() < 1e-4 * mesh.scale, "each splat lies on the surface"
    # SH DC back to colour (3DGS: rgb = 0.5 + C0 * f_dc) averages as the texture does over the surface.
    colours = 0.5 + 0.28209479177387814 * np.stack([rows["f_dc_0"], rows["f_dc_1"], rows["f_dc_2"]], 1)
    sampled = mesh.visual.to_color().vertex_colors[:, :3].mean(axis=0) / 255.0
    assert np.abs(colours.mean(axis=0) - sampled).max() < 0.1, (colours.mean(axis=0), sampled)


def test_the_command_line_imports_with_no_third_party_packages() -> None:
    # A broken environment (no psutil, no torch) must still get as far as `serve`'s handler
    # that names the missing package: nothing the CLI imports at startup may need one.
    # The path is the one the add-on gives the backend: its source and the protocol's wheel.
    repo = Path(__file__).resolve().parents[3]
    path = [str(repo / "backend"), str(next((repo / "wheels").glob("img23d_protocol-*.whl")))]
    code = f"import sys; sys.path[:0] = {path!r}; import img23d_backend.commands.cli"
    proc = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


# --- Ctrl-C and SIGTERM: a cancellation that closes the manifest, an exit code that says so ---------

def _spawn(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "img23d_backend", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


# Long enough that the signal lands mid-job: 200 denoising steps, the first hy3dgen import.
SLOW_FLAGS = ["--steps", "200", "--octree-resolution", "32", "--face-budget", "2000", "--no-texture"]


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_job_cancels_it_and_closes_its_manifest(backend_env: dict[str, str], tmp_path: Path,
                                                             signum: int, code: int) -> None:
    # The signal lands as the shape stage starts, where hy3dgen is imported for the first time:
    # trimesh swallows a KeyboardInterrupt raised there, so the job used to run on to its end.
    with killed_if_left(_spawn(backend_env, "generate", str(HOUSE), "--targets", "house", "--models", "tiny",
                               "--device", "cpu", "--out", str(tmp_path), *SLOW_FLAGS)) as proc:
        wait_for_line(proc, "[shape")
        proc.send_signal(signum)
        assert proc.wait(timeout=60) == code
    err = rest_of_stderr(proc)
    assert "Traceback" not in err and "[cancelled]" in err and "run folder (kept)" in err
    [run] = list(tmp_path.iterdir())
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "cancelled" and manifest["errors"][-1]["code"] == "cancelled"
    assert not list(run.glob("*.glb")) and not list(run.rglob(".tmp-*")) and not list(run.rglob(".img23d-reserve"))


@pytest.mark.parametrize("command", ["retexture", "retopo"])
def test_a_second_ctrl_c_in_a_mesh_command_closes_its_manifest(backend_env: dict[str, str], tmp_path: Path,
                                                              command: str) -> None:
    """retexture and retopo (painting first) set no abandon: a second Ctrl-C ended the process with the manifest
    still 'running' and its reserve left behind, as if a live job held the folder."""
    mesh = Path(__file__).parents[3] / "examples" / "house_mesh.glb"
    paint = ["--texture-size", "64", "--no-materials", "--face-budget", "2000"] if command == "retexture" else []
    with killed_if_left(_spawn(backend_env, command, str(mesh), str(SUBJECT), "--models", "tiny", "--device", "cpu",
                               "--out", str(tmp_path), *paint)) as proc:
        wait_for_line(proc, "[")  # the first stage's progress: the job and its run folder exist
        proc.send_signal(signal.SIGINT)
        time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    [run] = [path for path in tmp_path.iterdir() if path.is_dir()]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "cancelled", manifest["status"]
    assert not list(run.rglob(".img23d-reserve"))


def test_ctrl_c_while_the_models_are_imported_stops_before_any_job(backend_env: dict[str, str],
                                                                   tmp_path: Path) -> None:
    proc = _spawn(backend_env, "generate", str(HOUSE), "--targets", "house", "--models", "tiny", "--device", "cpu",
                  "--out", str(tmp_path / "runs"), *SLOW_FLAGS)
    stopped_during_start_up(proc, tmp_path / "runs")


_STUCK_JOB = r"""
import os, signal, sys, time
from img23d_backend.env.interrupts import Interrupts
interrupts = Interrupts(grace=float(sys.argv[2])).install()
interrupts.abandon = lambda reason: open(sys.argv[1], "w").write(reason)
os.kill(os.getpid(), signal.SIGTERM)
time.sleep(60)  # a job stuck in one long C call: it never checks its token
print("the stuck job was never stopped")
"""


_JOB_MADE_LATE = r"""
import os, signal, sys, time
from img23d_backend.env.interrupts import Interrupts
interrupts = Interrupts(grace=0.2).install()
os.kill(os.getpid(), signal.SIGTERM)
started = time.process_time()
time.sleep(1.5)  # past the grace, still starting up: no job to abandon yet
print(f"cpu {time.process_time() - started:.3f}", flush=True)
interrupts.abandon = lambda reason: print("abandoned", flush=True)
time.sleep(30)
"""


_HANG_UP = r"""
import os, signal, sys, time
if sys.argv[1] == "nohup":
    signal.signal(signal.SIGHUP, signal.SIG_IGN)   # as nohup starts a command
from img23d_backend.env.interrupts import Interrupts, exit_code
with Interrupts(grace=30) as interrupts:   # as picture, generate and batch run their job
    os.kill(os.getpid(), signal.SIGHUP)   # the terminal closed
    deadline = time.monotonic() + (1 if sys.argv[1] == "nohup" else 10)   # the watcher cancels within milliseconds
    while not interrupts.token.cancelled and time.monotonic() < deadline:
        time.sleep(0.01)
print("cancelled" if interrupts.token.cancelled else "carried on", flush=True)
sys.exit(exit_code(interrupts.signal) if interrupts.signal else 0)
"""


@pytest.mark.parametrize("started", ["in a terminal", "nohup"])
def test_a_hang_up_cancels_the_job_as_sigterm_does_unless_nohup_ignores_it(backend_env: dict[str, str],
                                                                          started: str) -> None:
    """Issue 88: a closed terminal's SIGHUP ended picture, generate and batch on the spot (129) with the manifest left
    'running' and batch.lock left; it now cancels the job as SIGTERM does (the command closes its run, exit 129).
    Under nohup, which asks a command to outlive its terminal, it stays ignored and the job carries on."""
    done = subprocess.run([sys.executable, "-c", _HANG_UP, started], env=backend_env, capture_output=True, text=True,
                          timeout=60)
    if started == "nohup":
        assert (done.returncode, done.stdout, done.stderr) == (0, "carried on\n", ""), done
    else:
        assert (done.returncode, done.stdout) == (129, "cancelled\n"), done
        assert "SIGHUP: cancelling the job" in done.stderr


def test_a_signal_before_the_job_is_made_waits_without_spinning_then_abandons_it(backend_env: dict[str, str]) -> None:
    """Past the grace with no job to abandon, the signal watcher looked again at once, for ever: a whole core."""
    proc = subprocess.Popen([sys.executable, "-c", _JOB_MADE_LATE], env=backend_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.wait(timeout=30) == 143
    finally:
        if proc.poll() is None:
            proc.kill()
    said = proc.stdout.read().split()  # type: ignore[union-attr]
    assert said[0] == "cpu" and float(said[1]) < 0.5 and said[2] == "abandoned", said


@pytest.mark.parametrize("second_signal", [False, True], ids=["after the grace", "on a second signal"])
def test_a_job_that_does_not_stop_is_abandoned_with_its_manifest_closed(backend_env: dict[str, str],
                                                                        tmp_path: Path, second_signal: bool) -> None:
    closed = tmp_path / "abandoned.txt"
    proc = subprocess.Popen([sys.executable, "-c", _STUCK_JOB, str(closed), "60" if second_signal else "0.5"],
                            env=backend_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_line(proc, "SIGTERM: cancelling the job", timeout=30)
        if second_signal:
            proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 143
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "SIGTERM: stopped" in rest_of_stderr(proc)
    assert "never stopped" not in proc.stdout.read()  # type: ignore[union-attr]
    assert closed.read_text().startswith("interrupted by SIGTERM; the job did not stop")
    assert ("second signal" in closed.read_text()) == second_signal


def test_a_listing_whose_reader_goes_away_stops_quietly(backend_env: dict[str, str]) -> None:
    """``models | head -5`` ended in a BrokenPipeError traceback once head had its lines."""
    proc = subprocess.Popen([sys.executable, "-m", "img23d_backend", "models", "--models", "tiny"], env=backend_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.stdout.close()  # as head does once it has its lines
    assert proc.wait(timeout=120) in (0, 141)  # 0: it had printed all before the reader went
    assert "Traceback" not in proc.stderr.read()  # type: ignore[union-attr]
