"""Issue 58 item 7: a ``retopo`` or ``retexture`` killed mid-job left its run ``running`` with its reserve
after the same command ran again; the next run of any command marks it interrupted and removes the
reserve, as the guide says."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trimesh

from cli_inprocess import run_cli
from testdata import SUBJECT
from img23d_backend.runs.folders import RESERVE_NAME

pytestmark = pytest.mark.process  # its subject is img23d's processes (pytest.ini)


def _cli(env: dict[str, str], *args: str, failpoint: str | None = None) -> subprocess.CompletedProcess:
    env = {**env, "IMG23D_FAILPOINTS": failpoint} if failpoint else env
    return subprocess.run([sys.executable, "-m", "img23d_backend", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def _runs(out: Path) -> dict[str, dict]:
    return {path.parent.name: json.loads(path.read_text()) for path in sorted(out.glob("*/manifest.json"))}


@pytest.mark.parametrize(("command", "stage"), [("retopo", "finish"), ("retexture", "unwrap")])
def test_a_killed_run_is_marked_interrupted_by_the_next_run_of_the_same_command(
        backend_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str,
        stage: str) -> None:
    mesh = tmp_path / "ball.glb"
    trimesh.creation.icosphere(subdivisions=2).export(mesh)  # no UVs: Re-texture unwraps it
    out = tmp_path / "runs"
    args = [command, str(mesh), *([str(SUBJECT), "--models", "tiny", "--texture-size", "256", "--paint-steps", "2",
                                  "--delight-steps", "2", "--no-materials"] if command == "retexture" else
                                  ["--topology", "triangles", "--faces", "200"]), "--out", str(out)]
    killed = _cli(backend_env, *args, failpoint=f"{stage}:kill")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    [(first, manifest)] = _runs(out).items()
    assert manifest["status"] == "running" and (out / first / RESERVE_NAME).exists()
    # The second run fails at the same stage on purpose (quicker than a whole job): by then its
    # recovery pass has run, as it runs before any job starts. In this process (cli_inprocess): a process of
    # its own paid seconds of imports first, and the next run's recovery is the same in either.
    again = run_cli(capsys, *args, env={"IMG23D_TINY_MODELS": backend_env["IMG23D_TINY_MODELS"],
                                        "IMG23D_FAILPOINTS": f"{stage}:raise"})
    assert again.returncode != 0 and "error:" in again.stderr, again.stderr
    runs = _runs(out)
    assert runs[first]["status"] == "interrupted" and not (out / first / RESERVE_NAME).exists()
    assert [m["status"] for name, m in runs.items() if name != first] == ["failed"]
