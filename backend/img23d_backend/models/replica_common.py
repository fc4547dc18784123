"""What every replica builder shares: the two sizes, seeding, the dtype models are made in.

Every model's replica module (the shared models' in ``replicas/``: qwen, birefnet; each family's
in its own folder: ``families/hunyuan3d/shape_replica`` and ``paint_replica``,
``families/step1x/geometry/replica`` and ``texture/replica``) has ``config(size)``: one definition
of its architecture's dimensions, at the ``tiny`` size the tests load in seconds or at the
``full`` size the real model was published with. The builders import this module and never each
other, so each model's replica can be read on its own. It lives here, in ``models`` (it was
``replicas/common.py``), below the families, so that both the families' builders and ``replicas``
can import it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from ..env.torch_shims import prepare_torchvision
from .specs import ModelSpec

Size = Literal["tiny", "full"]
SIZES: tuple[Size, ...] = ("tiny", "full")


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch for one component without disturbing the caller's RNG state."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def default_dtype(name: str) -> Iterator[None]:
    """Create parameters directly in ``name`` (a torch dtype's name).

    A full-size model made in float32 and cast afterwards would need twice its size in memory
    for a moment; made in its saved dtype it needs its size once.
    """
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, name))
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def parameters(module: Any) -> int:
    """How many parameters ``module`` has (works on the meta device too)."""
    return sum(p.numel() for p in module.parameters())


def check_size(size: str) -> Size:
    if size not in SIZES:
        raise ValueError(f"unknown replica size {size!r}; choose from {', '.join(SIZES)}")
    return size  # type: ignore[return-value]


def prepare_imports() -> None:
    """Call before importing hy3dgen or transformers' image processors in a builder."""
    # torchvision's compiled ops are broken on some installs; hy3dgen and the Qwen image
    # processor import torchvision, so stub it before either is imported.
    prepare_torchvision()


def spec_folder(spec: ModelSpec) -> Path:
    """The folder a replica's spec points at: its local path, and its subfolder below that."""
    if spec.local_path is None:
        raise ValueError(f"{spec.display} is not a local model")
    return Path(spec.local_path) / (spec.subfolder or "")


def folder_name(spec: ModelSpec) -> str:
    """The name of a replica's folder below the set's root: its key in the tiny set's manifest."""
    return Path(spec.local_path or "").name


def manifest_path(spec: ModelSpec) -> dict[str, str]:
    """Where a tiny set's manifest entry says the replica is: its folder and its subfolder, if any."""
    return {"path": folder_name(spec), **({"subfolder": spec.subfolder} if spec.subfolder else {})}


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
