"""The backend installer's choice of a torch build: nvidia-smi as drivers print it, Macs, overrides."""

from __future__ import annotations

import pytest


from img23d_installer import cli, torch_choice, torch_kernels
from img23d_installer import task as task_mod


# --- nvidia-smi as drivers print it ---------------------------------------------------------

SMI_550 = """\
Thu Mar  7 10:00:00 2024
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 550.54.15              Driver Version: 550.54.15      CUDA Version: 12.4     |
|-----------------------------------------+------------------------+----------------------+
| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |
| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |
|                                         |                        |               MIG M. |
|=========================================+========================+======================|
|   0  NVIDIA GeForce RTX 4090        Off |   00000000:01:00.0  On |                  Off |
|  0%   45C    P8             20W /  450W |     500MiB /  24564MiB |      2%      Default |
|                                         |                        |                  N/A |
+-----------------------------------------+------------------------+----------------------+
"""
SMI_570_TWO_GPUS = """\
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 570.86.15              Driver Version: 570.86.15      CUDA Version: 12.8     |
|=========================================+========================+======================|
|   0  NVIDIA H100 80GB HBM3          On  |   00000000:19:00.0 Off |                    0 |
| N/A   30C    P0             70W /  700W |       1MiB /  81559MiB |      0%      Default |
|   1  NVIDIA H100 80GB HBM3          On  |   00000000:3B:00.0 Off |                    0 |
| N/A   31C    P0             71W /  700W |       1MiB /  81559MiB |      0%      Default |
+-----------------------------------------+------------------------+----------------------+
"""
SMI_580 = "| NVIDIA-SMI 580.65.06    Driver Version: 580.65.06    CUDA Version: 13.0     |\n"
SMI_535 = "| NVIDIA-SMI 535.183.01   Driver Version: 535.183.01   CUDA Version: 12.2     |\n"
SMI_WINDOWS = """\
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 552.22                 Driver Version: 552.22         CUDA Version: 12.4     |
|-----------------------------------------+------------------------+----------------------+
| GPU  Name                     TCC/WDDM  | Bus-Id          Disp.A | Volatile Uncorr. ECC |
|=========================================+========================+======================|
|   0  NVIDIA GeForce RTX 3060      WDDM  |   00000000:01:00.0  On |                  N/A |
"""
SMI_470_OLD_CUDA = """\
+-----------------------------------------------------------------------------+
| NVIDIA-SMI 470.182.03   Driver Version: 470.182.03   CUDA Version: 11.4     |
|-------------------------------+----------------------+----------------------+
|   0  Tesla K80           Off  | 00000000:00:1E.0 Off |                    0 |
"""
SMI_NO_CUDA_LINE_525 = "| NVIDIA-SMI 525.60.13    Driver Version: 525.60.13 |\n"
SMI_NO_CUDA_LINE_418 = "| NVIDIA-SMI 418.87.01    Driver Version: 418.87.01 |\n"


def _linux(smi: str | None) -> object:
    return torch_choice.SystemInfo(platform="linux", machine="x86_64", nvidia_smi=smi)


def test_nvidia_smi_is_parsed() -> None:
    info = torch_choice.parse_nvidia_smi(SMI_550)
    assert info.driver_version == "550.54.15" and info.cuda == (12, 4)
    assert info.gpus == ("NVIDIA GeForce RTX 4090",)
    two = torch_choice.parse_nvidia_smi(SMI_570_TWO_GPUS)
    assert two.cuda == (12, 8) and two.gpus == ("NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3")
    assert torch_choice.parse_nvidia_smi(SMI_WINDOWS).cuda == (12, 4)
    assert torch_choice.parse_nvidia_smi("NVIDIA-SMI has failed because it couldn't communicate") is None


@pytest.mark.parametrize("smi, variant", [
    (SMI_580, "cu130"), (SMI_570_TWO_GPUS, "cu128"), (SMI_550, "cu124"), (SMI_WINDOWS, "cu124"),
    (SMI_535, "cu121"),                       # 12.2: newest index at or below it is 12.1
    (SMI_NO_CUDA_LINE_525, "cu118"),          # no "CUDA Version": from the driver number (525 -> 11.8)
    (SMI_470_OLD_CUDA, "cpu"),                # 11.4 is older than any index: CPU, and say why
    (SMI_NO_CUDA_LINE_418, "cpu"),
    (None, "cpu"),                            # no driver at all
])
def test_the_driver_decides_the_cuda_build(smi: str | None, variant: str) -> None:
    choice = torch_choice.plan_torch(_linux(smi))
    assert choice.variant == variant
    assert choice.index_url == f"https://download.pytorch.org/whl/{variant}"
    assert choice.packages == ("torch", "torchvision")
    assert choice.pip_arguments() == ["torch", "torchvision", "--index-url", choice.index_url]


def test_the_reason_tells_an_old_driver_what_to_do() -> None:
    reason = torch_choice.plan_torch(_linux(SMI_470_OLD_CUDA)).reason
    assert "470.182.03" in reason and "11.4" in reason and "update the driver" in reason
    assert "RTX 4090" in torch_choice.plan_torch(_linux(SMI_550)).reason
    assert "no NVIDIA driver" in torch_choice.plan_torch(_linux(None)).reason


def test_macs_use_pypi_builds() -> None:
    arm = torch_choice.plan_torch(torch_choice.SystemInfo("darwin", "arm64"))
    assert arm.variant == "pypi" and arm.index_url is None and "MPS" in arm.reason
    assert arm.pip_arguments() == ["torch", "torchvision"]
    assert torch_choice.plan_torch(torch_choice.SystemInfo("darwin", "x86_64")).index_url is None


def test_overrides_win() -> None:
    forced = torch_choice.plan_torch(_linux(SMI_550), build="cu118")
    assert forced.variant == "cu118" and forced.index_url.endswith("/cu118")
    assert torch_choice.plan_torch(_linux(SMI_550), build="cpu").variant == "cpu"
    pinned = torch_choice.plan_torch(_linux(SMI_550), torch_spec="torch==2.13.0 torchvision==0.28.0")
    assert pinned.variant == "custom" and pinned.index_url is None
    assert pinned.pip_arguments() == ["torch==2.13.0", "torchvision==0.28.0"]
    mirror = torch_choice.plan_torch(_linux(None), index_url="https://mirror.example/whl/cu126")
    assert mirror.pip_arguments()[-2:] == ["--index-url", "https://mirror.example/whl/cu126"]
    with pytest.raises(ValueError, match="unknown torch build"):
        torch_choice.plan_torch(_linux(None), build="cu999")


def test_an_installed_build_is_recognised() -> None:
    cpu = torch_choice.plan_torch(_linux(None))
    cuda = torch_choice.plan_torch(_linux(SMI_550))
    assert cpu.matches("2.13.0+cpu") and not cpu.matches("2.6.0+cu124")
    assert cuda.matches("2.6.0+cu124") and not cuda.matches("2.13.0+cpu")
    # PyPI's build has no local label; packages asked for by name are installed as asked, whatever is there
    # (both matched anything: a CPU environment stayed CPU, and "Backend updated" was said).
    pypi = torch_choice.plan_torch(_linux(None), build="pypi")
    assert pypi.matches("2.13.0") and not pypi.matches("2.13.0+cpu")
    custom = torch_choice.plan_torch(_linux(None), torch_spec="torch==2.13.0", index_url="https://mirror/cu128")
    assert not custom.matches("2.13.0+cpu") and custom.matches("2.13.0+cu128")  # forced only to switch builds
    pinned = torch_choice.plan_torch(_linux(None), torch_spec="torch==2.8.0+cu128 torchvision")
    assert pinned.matches("2.8.0+cu128") and not pinned.matches("2.8.0+cpu")
    # A version pinned without a label is that version in any build, as pip reads it: kept, not reinstalled.
    version = torch_choice.plan_torch(_linux(None), torch_spec="torch==2.13.0 torchvision==0.28.0")
    assert version.matches("2.13.0+cpu") and version.matches("2.13.0") and not version.matches("2.12.0+cpu")
    assert torch_choice.plan_torch(_linux(None), torch_spec="torch torchvision").matches("2.13.0+cpu")


def test_a_driver_that_does_not_answer_keeps_an_environments_cuda_build() -> None:
    """nvidia-smi there but failing (after a kernel update, the driver not loaded yet) read as "no driver": a
    Repair swapped a working CUDA torch for the CPU one, and its return was another multi-GB Repair."""
    import types
    from importlib import import_module

    install_mod = import_module("img23d_installer.install")
    failing = torch_choice.SystemInfo(platform="linux", machine="x86_64", nvidia_smi=None,
                                      nvidia_smi_failed="NVIDIA-SMI has failed because it couldn't communicate "
                                                        "with the NVIDIA driver")
    choice = torch_choice.plan_torch(failing)
    assert choice.variant == "cpu" and choice.keeps_cuda and "couldn't communicate" in choice.reason
    assert not torch_choice.plan_torch(torch_choice.SystemInfo(platform="linux", machine="x86_64")).keeps_cuda
    calls: list = []
    run = types.SimpleNamespace(torch=choice, health=types.SimpleNamespace(torch_version="2.13.0+cu128"),
                                _note=lambda text: None, _pip=lambda *args: calls.append(args))
    install_mod._Run._install_torch(run)
    assert calls == [("install", "torch", "torchvision", "--index-url", "https://download.pytorch.org/whl/cu128")]
    run.health.torch_version, calls[:] = "2.8.0", []  # PyPI's Linux torch: a CUDA build without a label
    install_mod._Run._install_torch(run)
    assert calls == [("install", "torch", "torchvision")]
    run.health.torch_version = "2.13.0+cpu"  # a CPU environment stays CPU as it was
    calls.clear()
    install_mod._Run._install_torch(run)
    assert calls == [("install", "torch", "torchvision", "--index-url", "https://download.pytorch.org/whl/cpu")]


@pytest.mark.parametrize("caps, tag", [((6.1,), "cu126"), ((7.0, 8.6), "cu126"), ((7.5,), "cu128"), ((), "cu128")])
def test_a_gpu_older_than_turing_gets_the_build_with_its_kernels(caps: tuple, tag: str) -> None:
    """cu128 and cu130 start at Turing (7.5): a GTX 1080 Ti (6.1) or a V100 (7.0) got "no kernel image"."""
    system = torch_choice.SystemInfo(platform="linux", machine="x86_64", nvidia_smi=SMI_570_TWO_GPUS,
                                     compute_caps=caps)
    choice = torch_choice.plan_torch(system)
    assert choice.variant == tag and choice.index_url.endswith(tag)
    assert torch_choice.parse_compute_caps("6.1\n[Not Supported]\n8.9\n") == (6.1, 8.9)


@pytest.mark.parametrize("smi, caps, tag", [
    (SMI_570_TWO_GPUS, (3.5,), "cpu"), (SMI_580, (3.7,), "cpu"),   # Kepler: in no build (torch_kernels)
    (SMI_580, (6.1, 8.9), "cu126"), (SMI_580, (8.6, 12.0), "cu130"), (SMI_570_TWO_GPUS, (12.0,), "cu128"),
    (SMI_550, (12.0,), "cpu"),                                     # a Blackwell needs a driver for CUDA 12.8
])
def test_the_build_has_kernels_for_every_gpu_or_is_the_cpu_one(caps: tuple, smi: str, tag: str) -> None:
    """cu126 went to a Kepler, whose kernels no PyTorch build the backend runs on carries: "no kernel image"."""
    system = torch_choice.SystemInfo(platform="linux", machine="x86_64", nvidia_smi=smi, compute_caps=caps)
    choice = torch_choice.plan_torch(system)
    assert choice.variant == tag and choice.index_url.endswith(tag)
    if tag == "cpu":
        assert f"compute capability {caps[0]:.1f}" in choice.reason
    assert set(torch_kernels.KERNELS) == set(torch_choice.CUDA_TAG_NAMES)


def test_gpus_that_need_different_builds_are_refused_in_one_sentence(monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A Pascal beside a Blackwell got cu126, which has no Blackwell kernels (and cu128 none for the Pascal)."""
    system = torch_choice.SystemInfo(platform="linux", machine="x86_64", nvidia_smi=SMI_570_TWO_GPUS,
                                     compute_caps=(12.0, 6.1))
    with pytest.raises(torch_choice.NoTorchBuild) as caught:
        torch_choice.plan_torch(system)
    words = str(caught.value)
    assert "6.1: cu126" in words and "12.0: cu128" in words and "CUDA_VISIBLE_DEVICES" in words
    assert torch_choice.plan_torch(system, build="cu128").variant == "cu128"  # as the sentence says to choose
    monkeypatch.setattr(cli, "probe_system", lambda: system)
    assert cli.main(["--plan"]) == 2
    assert capsys.readouterr().err == f"error: {words}\n"

    def work(progress, cancel):  # the add-on's Install Backend plans on its worker: its task says the sentence
        return torch_choice.plan_torch(system)

    task = task_mod.InstallTask()
    task.run_here(work)
    assert task.finished and task.error == f"Install PyTorch: {words}"
