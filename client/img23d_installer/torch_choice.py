"""Which PyTorch build to install: CUDA for the NVIDIA driver and GPUs that are there, MPS on Apple
Silicon, CPU otherwise.

PyTorch publishes one wheel index per CUDA version (download.pytorch.org/whl/cu128, ...).
A wheel runs when the driver supports its CUDA version, and ``nvidia-smi`` prints the newest
CUDA version the driver supports; each build has kernels for some GPUs only (``torch_kernels``).
The choice is the newest index at or below the driver's CUDA version whose kernels cover every
GPU present; where none does, the CPU build (no GPU is covered) or a refusal that says what to
choose (``NoTorchBuild``: GPUs that need different builds).
"""

from __future__ import annotations

import platform
import re
import subprocess
import sys
from dataclasses import dataclass

from .torch_kernels import runs_on

TORCH_INDEX = "https://download.pytorch.org/whl"
DEFAULT_PACKAGES = ("torch", "torchvision")  # torchvision must come from the same index (timm needs it)

# (CUDA version, wheel tag), newest first. Older tags only carry older torch releases, which
# the backend still runs on (it needs torch 2.4 or later; cu118 has up to 2.7).
CUDA_TAGS: tuple[tuple[tuple[int, int], str], ...] = (
    ((13, 0), "cu130"), ((12, 8), "cu128"), ((12, 6), "cu126"), ((12, 4), "cu124"),
    ((12, 1), "cu121"), ((11, 8), "cu118"),
)
# The driver each CUDA version first shipped with (Linux numbers; Windows' are close). Only
# used when nvidia-smi does not print "CUDA Version" itself (very old tools).
DRIVER_CUDA: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = (
    ((580, 65), (13, 0)), ((570, 26), (12, 8)), ((560, 28), (12, 6)), ((550, 54), (12, 4)),
    ((530, 30), (12, 1)), ((520, 61), (11, 8)), ((450, 80), (11, 0)),
)
CUDA_TAG_NAMES = tuple(tag for _, tag in CUDA_TAGS)
BUILDS = ("auto", "cpu", "pypi", *CUDA_TAG_NAMES)


class NoTorchBuild(ValueError):
    """The GPUs here need different PyTorch builds: no one build has kernels for them all. Its message is the one
    sentence that says which and what to choose."""


@dataclass(frozen=True)
class DriverInfo:
    """What ``nvidia-smi`` says about the NVIDIA driver and GPUs."""

    driver_version: str
    cuda: tuple[int, int] | None         # the newest CUDA version the driver supports
    gpus: tuple[str, ...] = ()

    @property
    def cuda_text(self) -> str:
        return f"{self.cuda[0]}.{self.cuda[1]}" if self.cuda else "unknown"


@dataclass(frozen=True)
class SystemInfo:
    platform: str                        # sys.platform: linux, win32, darwin
    machine: str                         # platform.machine(): x86_64, AMD64, arm64, aarch64
    nvidia_smi: str | None = None        # nvidia-smi's output; None when it is absent or failed
    nvidia_smi_failed: str = ""          # its last words when it is there and failed (a driver not loaded)
    compute_caps: tuple[float, ...] = ()  # each GPU's compute capability (nvidia-smi --query-gpu=compute_cap)


@dataclass(frozen=True)
class TorchChoice:
    """The torch build to install and why (the reason is shown to the user and logged)."""

    packages: tuple[str, ...]            # pip requirement strings
    index_url: str | None                # None: pip's own configured index (PyPI)
    variant: str                         # cpu, cu128, ..., pypi, custom
    reason: str
    # The CPU build chosen only because the driver could not be asked: an environment's CUDA build stays (a
    # Repair after a kernel update, the driver not loaded yet, swapped it for the CPU one).
    keeps_cuda: bool = False

    def pip_arguments(self) -> list[str]:
        return [*self.packages, *(["--index-url", self.index_url] if self.index_url else [])]

    def matches(self, installed_version: str) -> bool:
        """Does an installed ``torch.__version__`` come from this build? PyPI's carries no local label (``+cpu``,
        ``+cu128``); packages asked for by name (``custom``) are installed as asked, whatever is there (both
        answered yes, and a CPU environment stayed CPU with "Backend updated" said)."""
        public, _, local = installed_version.partition("+")
        if self.variant == "cpu":
            return local == "cpu"
        if self.variant in CUDA_TAG_NAMES:
            return local == self.variant
        if self.variant == "pypi":  # PyPI's Windows torch is its CPU build, labelled so
            return local == "" or (sys.platform == "win32" and local == "cpu")
        # Packages asked for by name: the build their index names (…/whl/cu128), or the version pinned with its
        # label (torch==2.8.0+cu128); else pip itself installs what differs from the spec, without forcing. A pin
        # without a label names a version, not a build: as for pip (PEP 440), 2.13.0+cpu is torch==2.13.0 (when
        # it was forced, an artist who typed the torch they had waited minutes for that same version again).
        tag = (self.index_url or "").rstrip("/").rpartition("/")[2]
        if tag in CUDA_TAG_NAMES or tag == "cpu":
            return local == tag
        pinned = next((p.partition("==")[2] for p in self.packages if p.startswith("torch==")), "")
        if not pinned:
            return True
        return pinned == (installed_version if "+" in pinned else public)


def probe_system(timeout: float = 15.0) -> SystemInfo:
    """This machine's OS, CPU and (if any) NVIDIA driver. Never raises."""
    output, failed = _nvidia_smi(timeout)
    caps, _ = _nvidia_smi(timeout, "--query-gpu=compute_cap", "--format=csv,noheader") if output else (None, "")
    return SystemInfo(platform=sys.platform, machine=platform.machine(), nvidia_smi=output,
                      nvidia_smi_failed=failed, compute_caps=parse_compute_caps(caps or ""))


def parse_compute_caps(text: str) -> tuple[float, ...]:
    """The compute capabilities ``nvidia-smi --query-gpu=compute_cap`` prints, one a line ("6.1"); none it cannot
    read (an old driver's "[Not Supported]")."""
    caps = []
    for line in text.splitlines():
        try:
            caps.append(float(line.strip()))
        except ValueError:
            continue
    return tuple(caps)


def _nvidia_smi(timeout: float, *args: str) -> tuple[str | None, str]:
    """nvidia-smi's output, or None and, when it is there but failed, its last words."""
    try:
        done = subprocess.run(["nvidia-smi", *args], capture_output=True, text=True, timeout=timeout,
                              creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
    except FileNotFoundError:
        return None, ""  # no NVIDIA driver: the CPU build is the safe choice
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"{type(exc).__name__}"  # a hung or unrunnable one
    if done.returncode == 0:
        return done.stdout, ""
    words = [line.strip() for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return None, (words[-1] if words else f"exit status {done.returncode}")[:200]


_DRIVER = re.compile(r"Driver Version:\s*([0-9][0-9.]*)")
_CUDA = re.compile(r"CUDA Version:\s*([0-9]+)\.([0-9]+)")
_GPU_ROW = re.compile(r"^\|\s*(\d+)\s+(.+?)\s+(?:On|Off)\s+\|", re.MULTILINE)


def parse_nvidia_smi(text: str) -> DriverInfo | None:
    """The driver and CUDA versions from nvidia-smi's header; None when there is no driver line."""
    driver = _DRIVER.search(text)
    if driver is None:
        return None
    cuda_match = _CUDA.search(text)
    cuda = (int(cuda_match.group(1)), int(cuda_match.group(2))) if cuda_match else cuda_for_driver(driver.group(1))
    gpus = tuple(name.strip() for _, name in _GPU_ROW.findall(text))
    return DriverInfo(driver_version=driver.group(1), cuda=cuda, gpus=gpus)


def cuda_for_driver(driver_version: str) -> tuple[int, int] | None:
    """The newest CUDA version a driver supports, from its version number."""
    parts = [int(p) for p in re.findall(r"\d+", driver_version)[:2]]
    if not parts:
        return None
    key = (parts[0], parts[1] if len(parts) > 1 else 0)
    for minimum, cuda in DRIVER_CUDA:
        if key >= minimum:
            return cuda
    return None


def cuda_tag(cuda: tuple[int, int]) -> str | None:
    """The newest PyTorch CUDA wheel tag a driver supporting ``cuda`` can run; None if too old."""
    for version, tag in CUDA_TAGS:
        if cuda >= version:
            return tag
    return None


def index_for(tag: str) -> str:
    return f"{TORCH_INDEX}/{tag}"


def plan_torch(system: SystemInfo, *, build: str = "auto", torch_spec: str | None = None,
               index_url: str | None = None) -> TorchChoice:
    """Pick the torch build. ``build`` forces one (cpu, cu128, ..., pypi); ``torch_spec``
    ("torch==2.13.0 torchvision==0.28.0") and ``index_url`` override everything, for offline
    mirrors and tests."""
    if torch_spec or index_url:
        packages = tuple(torch_spec.split()) if torch_spec else DEFAULT_PACKAGES
        where = f" from {index_url}" if index_url else ""
        return TorchChoice(packages, index_url or None, "custom", f"as asked: {' '.join(packages)}{where}")
    if build not in BUILDS:
        raise ValueError(f"unknown torch build {build!r}; choose from {', '.join(BUILDS)}")
    if build == "cpu":
        return TorchChoice(DEFAULT_PACKAGES, index_for("cpu"), "cpu", "CPU build, as asked")
    if build == "pypi":
        return TorchChoice(DEFAULT_PACKAGES, None, "pypi", "PyPI's default build, as asked")
    if build != "auto":
        return TorchChoice(DEFAULT_PACKAGES, index_for(build), build, f"CUDA build {build}, as asked")
    return _automatic(system)


def _automatic(system: SystemInfo) -> TorchChoice:
    if system.platform == "darwin":
        if system.machine == "arm64":
            return TorchChoice(DEFAULT_PACKAGES, None, "pypi", "Apple Silicon: PyPI's build, which uses the GPU (MPS)")
        return TorchChoice(DEFAULT_PACKAGES, None, "pypi", "Intel Mac: PyPI's build (CPU only)")
    driver = parse_nvidia_smi(system.nvidia_smi) if system.nvidia_smi else None
    if driver is None and system.nvidia_smi_failed:
        return TorchChoice(DEFAULT_PACKAGES, index_for("cpu"), "cpu",
                           f"nvidia-smi is there but failed ({system.nvidia_smi_failed}; a driver not loaded, e.g. "
                           "after a kernel update?): CPU build for a new environment, an environment's CUDA build "
                           "kept", keeps_cuda=True)
    if driver is None:
        return TorchChoice(DEFAULT_PACKAGES, index_for("cpu"), "cpu",
                           "no NVIDIA driver found (nvidia-smi): CPU build (slow)")
    gpus = f" ({', '.join(driver.gpus)})" if driver.gpus else ""
    where = f"NVIDIA driver {driver.driver_version}{gpus} supports CUDA {driver.cuda_text}"
    tag = cuda_tag(driver.cuda) if driver.cuda else None
    if tag is None:
        return TorchChoice(DEFAULT_PACKAGES, index_for("cpu"), "cpu",
                           f"{where}, older than {CUDA_TAGS[-1][1]} (11.8): CPU build; update the driver to use "
                           "the GPU")
    return _covering(system, tag, where)


def _covering(system: SystemInfo, newest: str, where: str) -> TorchChoice:
    """The newest build at or below ``newest`` (what the driver runs) whose kernels cover every GPU's compute
    capability (none known: ``newest``). A build without a GPU's kernels failed at its first call: cu126 went to a
    Kepler, and to a Pascal with a Blackwell beside it."""
    usable = CUDA_TAG_NAMES[CUDA_TAG_NAMES.index(newest):]
    caps = sorted(set(system.compute_caps))

    def builds_for(cap: float, tags: tuple[str, ...] = usable) -> list[str]:
        return [tag for tag in tags if runs_on(tag, cap, system.platform)]

    tag = next((tag for tag in usable if all(runs_on(tag, cap, system.platform) for cap in caps)), None)
    if tag == newest:
        return TorchChoice(DEFAULT_PACKAGES, index_for(tag), tag, f"{where}: {tag} build")
    if tag is not None:
        lacking = ", ".join(f"{cap:.1f}" for cap in caps if not runs_on(newest, cap, system.platform))
        return TorchChoice(DEFAULT_PACKAGES, index_for(tag), tag,
                           f"{where}, and a GPU of compute capability {lacking} needs the {tag} build (the newer "
                           f"{newest} has no kernels for it)")
    if not any(builds_for(cap) for cap in caps):
        newer = [cap for cap in caps if builds_for(cap, CUDA_TAG_NAMES)]
        hint = "; a newer driver would run a CUDA build for it" if newer else ""
        return TorchChoice(DEFAULT_PACKAGES, index_for("cpu"), "cpu",
                           f"{where}, and no PyTorch build it runs has kernels for a GPU of compute capability "
                           f"{', '.join(f'{cap:.1f}' for cap in caps)}: CPU build{hint}")
    needs = "; ".join(f"{cap:.1f}: {(builds_for(cap) or ['none'])[0]}" for cap in caps)
    raise NoTorchBuild(f"no PyTorch build has kernels for every GPU here (by compute capability, {needs}): choose "
                       "the build for the GPU the backend is to use with PyTorch Build in the add-on's preferences "
                       "(--torch-build on the installer's command line) and hide the others from it with "
                       "CUDA_VISIBLE_DEVICES, or choose the CPU build")
