"""A model on another device (--device-for grounding=cpu): the command line's spelling and its one-sentence
refusals, the manager loading the role on its device outside the device's budget, and the preflight
counting RAM for it and the GPU's memory for the rest (a made-up GPU, as the other preflight tests)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch

from cli_inprocess import CliRun, RunCli
from testdata import HOUSE
from img23d_backend.env.device import pick_device
from img23d_backend.models import env_probe, role_devices
from img23d_backend.models.handles import Tier
from img23d_backend.models.manager import ModelManager
from img23d_backend.models.placement import LoadedModel
from img23d_backend.models.preflight import Room
from img23d_backend.models.registry import ModelSpec
from img23d_protocol import ErrorCode, ProtocolError

GB = 1 << 30
# A second device this machine has: the meta device holds no memory, and a wrong eviction (a move off it) fails.
OTHER = torch.device("meta")


def test_the_command_lines_spelling_and_its_refusals() -> None:
    assert role_devices.device_for_argument("grounding=CPU") == ("grounding", "cpu")
    for text, said in (("grounding", "ROLE=DEVICE"), ("shape=cpu", "cannot be placed on its own device"),
                       ("=cpu", "ROLE=DEVICE")):
        with pytest.raises(argparse.ArgumentTypeError, match=said):
            role_devices.device_for_argument(text)
    with pytest.raises(ProtocolError, match="unknown device 'tpu'") as caught:
        role_devices.pick_role_devices({"grounding": "tpu"}, torch.device("cpu"))
    assert caught.value.code is ErrorCode.BAD_REQUEST and "--device-for grounding=tpu" in caught.value.message
    assert role_devices.pick_role_devices({"grounding": "cpu"}, torch.device("cpu")) == {}  # already there
    # A device index no device has: taken before, the first load failed with "device cpu:1 is invalid" [internal].
    with pytest.raises(ProtocolError, match=r"device cpu:1 was asked for, but this machine has one cpu device "
                                            r"\(cpu or cpu:0\)"):
        role_devices.pick_role_devices({"grounding": "cpu:1"}, torch.device("cpu"))
    assert pick_device("cpu:0") == torch.device("cpu:0")
    if torch.cuda.device_count() == 0:
        with pytest.raises(ProtocolError, match="sees no CUDA GPU"):
            pick_device("cuda:7")


def _loader(seen: dict[str, torch.device], role: str):
    def load(folder: Path, device: torch.device) -> LoadedModel:
        seen[role] = device
        module = torch.nn.Linear(256, 256, device=device)  # 263 kB
        return LoadedModel(obj=module, modules=[module])
    return load


def test_the_role_is_loaded_on_its_device_and_takes_nothing_of_the_budget(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(env_probe, "ready_for_load", lambda spec, device: None)
    manager = ModelManager(OTHER, budget_bytes=300_000, resolve=lambda spec, **kw: tmp_path,
                           role_devices={"grounding": torch.device("cpu")})
    seen: dict[str, torch.device] = {}
    for role in ("matting", "grounding"):
        manager.register(ModelSpec(role=role, repo_id=f"test/{role}", local_path=tmp_path, size_bytes=263_168),
                         _loader(seen, role))
    with manager.use("matting"):
        pass
    with manager.use("grounding") as model:  # the budget holds one model: grounding must not evict matting
        assert next(model.parameters()).device.type == "cpu"
    assert seen == {"matting": OTHER, "grounding": torch.device("cpu")}
    snapshot = manager.snapshot()["models"]
    assert snapshot["matting"]["tier"] == Tier.DEVICE.value and snapshot["grounding"]["device"] == "cpu"
    assert manager.device_of("grounding").type == "cpu" and manager.device_of("matting") == OTHER


def test_the_preflight_counts_ram_for_the_cpu_role_and_gpu_memory_for_the_rest() -> None:
    cpu, gpu = torch.device("cpu"), torch.device("meta")
    gpu_box = Room(host=16 * GB, device=10 * GB, shared=False)  # a 10 GB card, 16 GB of RAM
    sizes = {"grounding": 9 * GB}  # Qwen3-VL 2B in float32 on the CPU
    cuda = _Cuda()
    assert role_devices.ram_held(sizes, {"grounding": cpu}, cuda) == 9 * GB
    room = role_devices.beside_ram(gpu_box, role_devices.ram_held(sizes, {"grounding": cpu}, cuda))
    assert (room.host, room.device) == (7 * GB, 10 * GB)  # RAM less the grounding model; the GPU's untouched
    role_devices.check_ram_roles(sizes, {"grounding": cpu}, gpu_box)
    with pytest.raises(ProtocolError, match="grounding on the CPU needs about 10.2 GB of RAM, and this machine has 8.6 GB") as caught:
        role_devices.check_ram_roles(sizes, {"grounding": cpu}, Room(host=8 * GB, device=10 * GB, shared=False))
    assert caught.value.code is ErrorCode.OUT_OF_MEMORY
    assert role_devices.ram_held(sizes, {"grounding": cpu}, cpu) == 0  # one memory: counted there already
    assert role_devices.ram_held(sizes, {"grounding": gpu}, cuda) == 0


class _Cuda:
    type = "cuda"


def test_detect_with_grounding_on_the_cpu_on_the_command_line(cli: RunCli, tmp_path: Path) -> None:
    # In this process (cli_inprocess): the subject is what the command takes and says; a process of its own paid
    # about 7 CPU-seconds of imports before the job began.
    def detect(*extra: str) -> CliRun:
        return cli("detect", HOUSE, "--targets", "house", "--models", "tiny", "--device", "cpu", "--out", tmp_path,
                   *extra)

    assert detect("--device-for", "grounding=cpu").returncode == 0
    bad = detect("--device-for", "grounding=tpu")
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1] == (
        "error: --device-for grounding=tpu: unknown device 'tpu'; use auto, cuda, mps or cpu [bad_request]")
    bad = detect("--device-for", "paint=cpu")
    assert bad.returncode == 2 and "'paint' cannot be placed on its own device" in bad.stderr
    assert "Traceback" not in bad.stderr
