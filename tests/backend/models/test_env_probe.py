"""Environment probes: a torchvision whose compiled ops do not run is named before a model uses it.

The missing op is simulated with the failpoint ``probe.<name>:missing-op`` (the RuntimeError a
torchvision built for another torch raises), in this process, through the CLI and over the
protocol. One test also checks the real verdict: in an environment where torchvision's
compiled ops did not load (this machine's .venv), the deform_conv2d probe fails for real.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from backend_proc import BackendProcess
from cli_inprocess import RunCli, run_cli, tiny_env
from image_files import picture_without_alpha

from img23d_backend.models import env_probe
from img23d_backend.models.manager import ModelManager
from img23d_backend.models.placement import LoadedModel
from img23d_backend.catalog import MATTING, ModelSpec
from img23d_backend.catalog import model_set, tiny_model_set
from img23d_protocol import ErrorCode, ProtocolError
from img23d_backend.env.torch_shims import prepare_torchvision, torchvision_stubbed

CPU = torch.device("cpu")
MISSING_DEFORM = "probe.deform_conv2d:missing-op"


def _versions() -> tuple[str, str]:
    """Without the local part (``+cu130``): a process that never imported torchvision reads
    its version from the package's metadata, which may leave that part out."""
    found = env_probe.versions()
    assert found["torch"] and found["torchvision"]
    return found["torch"].split("+")[0], found["torchvision"].split("+")[0]


def _assert_names_the_fix(message: str, op: str) -> None:
    torch_version, torchvision_version = _versions()
    assert op in message and f"torch {torch_version}" in message and f"torchvision {torchvision_version}" in message
    assert "Install Backend > Repair" in message and "install_backend.py" in message


# --- declarations ------------------------------------------------------------------------------

def test_the_real_birefnet_needs_deform_conv2d_and_its_tiny_replica_nothing(tmp_path: Path) -> None:
    assert "deform_conv2d" in MATTING["birefnet"].probes
    assert all(not spec.probes for spec in (getattr(tiny_model_set(tmp_path), role) for role in
                                            ("grounding", "matting", "shape", "delight", "paint")))
    assert env_probe.probes_for(model_set("default")) == ["torch", "torchvision", "deform_conv2d"]
    assert env_probe.probes_for(tiny_model_set(tmp_path)) == ["torch", "torchvision"]
    assert env_probe.GENERAL == ("torch",)  # a backend's start never imports torchvision (1.3 s)
    declared = {name for spec in (MATTING["birefnet"],) for name in spec.probes}
    assert declared <= set(env_probe.PROBES)


def test_the_deform_conv2d_verdict_matches_whether_torchvisions_ops_loaded() -> None:
    """Not simulated: where the ops did not load (a mismatched build) the probe fails, else passes."""
    prepare_torchvision()
    result = env_probe.run_probe("deform_conv2d", CPU)
    assert result.ok is (not torchvision_stubbed())
    if not result.ok:
        assert result.repairable
        _assert_names_the_fix(result.message, "deform_conv2d")


# --- in this process ---------------------------------------------------------------------------

def test_a_missing_op_is_an_environment_error_naming_op_versions_and_repair(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert env_probe.run_probe("torch", CPU).ok
    monkeypatch.setenv("IMG23D_FAILPOINTS", MISSING_DEFORM)
    with pytest.raises(ProtocolError) as caught:
        env_probe.require(MATTING["birefnet"].probes, CPU, needed_by="BiRefNet (matting)")
    assert caught.value.code is ErrorCode.ENVIRONMENT
    _assert_names_the_fix(caught.value.message, "deform_conv2d")
    assert caught.value.message.startswith("BiRefNet (matting) cannot run here")
    assert "Could not run 'torchvision::deform_conv2d'" in (caught.value.detail or "")


def _manager_with(spec: ModelSpec, calls: list[str]) -> ModelManager:
    def resolve(spec: ModelSpec, **kwargs: Any) -> Path:
        calls.append("resolve")
        return Path("/nowhere")

    def load(folder: Path, device: Any) -> LoadedModel:
        calls.append("load")
        module = torch.nn.Linear(2, 2)
        return LoadedModel(obj=module, modules=[module])

    manager = ModelManager(CPU, budget_bytes=1 << 30, resolve=resolve)
    manager.register(spec, load)
    return manager


def test_the_model_manager_probes_before_resolving_or_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMG23D_FAILPOINTS", MISSING_DEFORM)
    needs_it = ModelSpec(role="matting", repo_id="test/deformable", local_path=Path("/nowhere"),
                         probes=("deform_conv2d",))
    calls: list[str] = []
    manager = _manager_with(needs_it, calls)
    with pytest.raises(ProtocolError) as caught:
        with manager.use("matting"):
            pass
    assert caught.value.code is ErrorCode.ENVIRONMENT and "test/deformable (matting)" in caught.value.message
    assert calls == []  # nothing downloaded, no loader run on a build that cannot run it
    plain = ModelSpec(role="matting", repo_id="test/plain", local_path=Path("/nowhere"))
    calls = []
    with _manager_with(plain, calls).use("matting"):
        pass
    assert calls == ["resolve", "load"]  # the same failpoint: a model that needs no op is untouched


# --- through the command line -------------------------------------------------------------------

def test_probe_command_passes_for_the_tiny_set(cli: RunCli) -> None:
    out = cli("probe", "--models", "tiny", "--device", "cpu", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["ok"] is True and [r["name"] for r in report["results"]] == ["torch", "torchvision"]
    assert report["torch"].split("+")[0] == _versions()[0]


def test_probe_command_fails_on_a_missing_op(capsys: pytest.CaptureFixture[str], tiny_root: Path) -> None:
    env = {**tiny_env(tiny_root), "IMG23D_FAILPOINTS": MISSING_DEFORM}
    out = run_cli(capsys, "probe", "--models", "default", "--device", "cpu", "--json", env=env)
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    assert report["ok"] is False
    [failed] = [r for r in report["results"] if not r["ok"]]
    assert failed["name"] == "deform_conv2d" and failed["repairable"] is True
    _assert_names_the_fix(report["message"], "deform_conv2d")
    human = run_cli(capsys, "probe", "--device", "cpu", env=env)
    assert human.returncode == 1 and "FAILED deform_conv2d" in human.stdout


@pytest.mark.parametrize("probe", ["torch", "torchvision"])
def test_generate_stops_at_start_when_a_general_probe_fails(capsys: pytest.CaptureFixture[str], tiny_root: Path,
                                                            tmp_path: Path, probe: str) -> None:
    """A job on the command line loads models: what they need is probed before its run folder is made."""
    env = {**tiny_env(tiny_root), "IMG23D_FAILPOINTS": f"probe.{probe}:missing-op"}
    out = run_cli(capsys, "generate", str(picture_without_alpha(tmp_path)), "--models", "tiny", "--device", "cpu",
                  "--out", str(tmp_path / "runs"), env=env)
    assert out.returncode == 1
    assert "[environment]" in out.stderr and "Install Backend > Repair" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "runs").exists()  # stopped before any job began


# --- over the protocol --------------------------------------------------------------------------

def test_serve_says_why_it_cannot_start(backend_env: dict[str, str], tmp_path: Path) -> None:
    proc = BackendProcess({**backend_env, "IMG23D_FAILPOINTS": "probe.torch:missing-op"}, tmp_path / "runs")
    try:
        error = proc.next(lambda e: e["type"] in ("hello", "error"), timeout=120)
        assert error["type"] == "error" and error["id"] is None and error["code"] == "environment"
        _assert_names_the_fix(error["message"], "torch's own tensor maths")
        assert proc.proc.wait(timeout=60) == 1
    finally:
        proc.close()


def test_a_broken_torchvision_is_named_at_the_first_model_and_the_backend_stays(backend_env: dict[str, str],
                                                                               tmp_path: Path) -> None:
    """torchvision is probed before the first model loads, not at the start: the hello comes without
    importing it, a job is refused in one sentence naming the model and the repair, and the backend
    answers the next request."""
    proc = BackendProcess({**backend_env, "IMG23D_FAILPOINTS": "probe.torchvision:missing-op"}, tmp_path / "runs")
    try:
        hello = proc.next(lambda e: e["type"] in ("hello", "error"), timeout=120)
        assert hello["type"] == "hello" and hello["environment"]["probes_passed"] == ["torch"]
        reply = proc.request({"type": "generate", "id": "g", "image": str(picture_without_alpha(tmp_path)),
                              "targets": ["house"]}, timeout=120)
        assert reply["type"] == "error" and reply["code"] == "environment", reply
        _assert_names_the_fix(reply["message"], "importing torchvision")
        assert reply["message"].endswith(env_probe.REPAIR) and "cannot run here" in reply["message"]
        status = proc.request({"type": "status", "id": "s"}, timeout=30)
        assert status["type"] == "result" and status["data"]["state"] == "idle"
    finally:
        proc.close()


def test_the_hello_describes_the_environment(backend_env: dict[str, str], tmp_path: Path) -> None:
    proc = BackendProcess(backend_env, tmp_path / "runs")
    try:
        hello = proc.next(lambda e: e["type"] == "hello", timeout=120)
        environment = hello["environment"]
        assert environment["torch"].split("+")[0] == _versions()[0]
        assert set(env_probe.GENERAL) <= set(environment["probes_passed"])
        assert isinstance(environment["torchvision_stubbed"], bool)
    finally:
        proc.close()


def test_a_job_whose_model_needs_a_missing_op_fails_with_environment(backend_env: dict[str, str],
                                                                   tmp_path: Path) -> None:
    """The real model set, offline, with an empty cache: the probe comes before the download."""
    env = {**backend_env, "HF_HUB_CACHE": str(tmp_path / "hf-cache"), "IMG23D_FAILPOINTS": MISSING_DEFORM}
    proc = BackendProcess(env, tmp_path / "runs", "--models", "default", "--offline")
    try:
        proc.next(lambda e: e["type"] == "hello", timeout=120)
        # accept_long: on a CPU the default models' material step may be estimated at an hour or more.
        reply = proc.request({"type": "generate", "id": "g", "image": str(picture_without_alpha(tmp_path)),
                              "targets": [], "options": {"accept_long": True}}, timeout=120)
        assert reply["type"] == "error" and reply["code"] == "environment", reply
        _assert_names_the_fix(reply["message"], "deform_conv2d")
        assert MATTING["birefnet"].repo_id in reply["message"]
        [run] = list((tmp_path / "runs").iterdir())
        manifest = json.loads((run / "manifest.json").read_text())
        assert manifest["status"] == "failed" and manifest["errors"][0]["code"] == "environment"
    finally:
        proc.close()


def test_a_busy_gpu_is_not_a_broken_installation(monkeypatch: pytest.MonkeyPatch) -> None:
    """CUDA's "busy or unavailable" (another program holds the GPU) was marked repairable: the installer then
    deleted a working environment and built it anew, which cannot free a GPU."""
    def busy(device: Any) -> None:
        raise RuntimeError("CUDA error: CUDA-capable device(s) is/are busy or unavailable")

    monkeypatch.setitem(env_probe.PROBES, "busy", env_probe.Probe("busy", "the GPU's first call", busy))
    result = env_probe.run_probe("busy", CPU)
    assert not result.ok and not result.repairable and "the GPU is busy or unavailable" in result.message
