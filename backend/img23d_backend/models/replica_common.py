"""What every replica builder shares: the two sizes, seeding, the dtype models are made in, the
weights variants written and the shards a tiny network is split into.

Every model's replica module (each family's in its own folder: ``families/hunyuan3d/shape_replica`` and
``paint_replica``, ``families/step1x/geometry/replica`` and ``texture/replica``; each grounding, matting, depth,
image editor's and material model's in its room: ``grounding/<model>/replica``, ``matting/<model>/replica``,
``depth/<model>/replica``, ``editors/<editor>/replica``, ``materials/<model>/replica``) has ``config(size)``: one definition
of its architecture's dimensions, at the ``tiny`` size the tests load in seconds or at the
``full`` size the real model was published with. The builders import this module and never each
other, so each model's replica can be read on its own. It lives here, in ``models`` (it was
``replicas/common.py``), below the families, so that both the families' builders and ``replicas``
can import it.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

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


@dataclass(frozen=True)
class ReplicaDims:
    """What a replica's build reads beside its architecture's sizes: the seed its weights are drawn from
    and the dtype they are made in (``default_dtype``)."""

    seed: int
    init_dtype: str


@dataclass(frozen=True)
class VariantDims(ReplicaDims):
    """A replica that writes its weights in diffusers' variants, as the real folder holds them: the tiny
    ones both the float32 original and the ``fp16`` variant img23d reads; the full-size ones only the
    variant (the originals would add gigabytes of random numbers)."""

    variants: tuple[str | None, ...]     # the weights files written (None: the float32 original)


def variant_dtype(variant: str | None) -> str:
    """The dtype ``variant``'s weights files are written in (None: the float32 original)."""
    return {None: "float32", "fp16": "float16"}[variant]


def variant_names(variants: tuple[str | None, ...]) -> list[str]:
    """The variants written, as a manifest entry names them (the original as ``float32``)."""
    return [variant or "float32" for variant in variants]


D = TypeVar("D", bound=ReplicaDims)


def seeded_networks(construct: Callable[[D], dict[str, Any]], dims: D) -> tuple[dict[str, Any], dict[str, int]]:
    """``construct(dims)``'s networks, drawn from ``dims.seed`` and made in ``dims.init_dtype``, and each
    one's parameter count (a manifest entry's ``params``)."""
    with seeded(dims.seed), default_dtype(dims.init_dtype):
        networks = construct(dims)
    return networks, {part: parameters(module) for part, module in networks.items()}


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


def shard_limit(module: Any, shards: int) -> int:
    """A shard limit in bytes that splits ``module``'s weights into ``shards`` files, as the libraries'
    own splitting (huggingface_hub's, which both call) does."""
    from huggingface_hub import split_torch_state_dict_into_shards

    state = module.state_dict()
    total = sum(tensor.numel() * tensor.element_size() for tensor in state.values())
    for limit in range(total // shards, total, max(1, total // (shards * 200))):
        if len(split_torch_state_dict_into_shards(state, max_shard_size=limit).filename_to_tensors) == shards:
            return limit
    raise ValueError(f"no shard limit splits {type(module).__name__} into {shards} files")


def resave_in_shards(module: Any, folder: Path, stem: str, max_shard_size: int) -> None:
    """Write ``module`` (a transformers or diffusers model) in ``folder`` again, split at ``max_shard_size``
    bytes, in place of the weights files named ``stem`` that a pipeline's ``save_pretrained`` wrote there.

    A tiny network falls far below the libraries' default limits and would be one file; written again
    in as many shards as the published one, the loader reads it through an index as it does the real one.
    """
    for old in folder.glob(f"{stem}*.safetensors*"):
        old.unlink()
    module.save_pretrained(folder, max_shard_size=max_shard_size, safe_serialization=True)


# The closed blob both families' shape replicas are given (``shape_blob``).
BLOB_LEVEL = 2.75          # sum(cos(x_i)) == 2.75 is a rounded ball of radius ~0.7 in [-1, 1]^3
BLOB_PERTURBATION = 0.2    # how strongly the latents dent the ball
# Trained occupancy decoders are near-binary: |logit| is large except within about a voxel of the
# surface, which is what FlashVDM's pruning (refine only where |logit| < 0.95) relies on. Scaling
# the output makes the replica's field that steep without moving its zero set.
BLOB_SHARPNESS = 50.0


def shape_blob(decoder: Any, frequencies: Any, num_freqs: int, level: float = BLOB_LEVEL) -> None:
    """Bias a random occupancy decoder (a Perceiver query decoder: ``query_proj``, ``cross_attn_decoder``
    with ``attn.c_proj`` and ``mlp.c_proj``, ``ln_post``, ``output_proj``, over Fourier features laid out
    [xyz (3), sin (3F), cos (3F)] with ``frequencies`` starting at 1) towards a closed blob the latents
    only perturb.

    A purely random decoder gives a noisy field whose zero set is scattered, open sheets (or nothing for
    unlucky seeds). Here channel 0 of the query embedding carries ``s(p) = sum_i cos(p_i) - level`` and
    channel 1 carries ``-s(p)``; the output reads ``channel0 - channel1`` after the final LayerNorm, whose
    mean subtraction cancels in that difference and whose scaling is positive, so the occupancy sign is
    the sign of ``s(p)`` plus the (scaled-down) latent-dependent attention and MLP contributions. Both
    families' shape VAEs decode this way (Hunyuan3D-2's, and Step1X-3D's clean port of the same design).
    """
    import torch

    block = decoder.cross_attn_decoder
    cos_lowest = [3 + 3 * num_freqs + axis * num_freqs for axis in range(3)]   # index i*F + k per axis
    with torch.no_grad():
        if float(frequencies[0]) != 1.0:
            raise ValueError("blob shaping expects include_pi false (lowest frequency 1)")
        decoder.query_proj.weight[:2].zero_()
        decoder.query_proj.weight[0, cos_lowest] = 1.0
        decoder.query_proj.weight[1, cos_lowest] = -1.0
        decoder.query_proj.bias[0], decoder.query_proj.bias[1] = -level, level
        for linear in (block.attn.c_proj, block.mlp.c_proj):
            linear.weight.mul_(BLOB_PERTURBATION)
            linear.bias.zero_()
        decoder.ln_post.weight.fill_(1.0)
        decoder.ln_post.bias.zero_()
        decoder.output_proj.weight.zero_()
        decoder.output_proj.weight[0, 0], decoder.output_proj.weight[0, 1] = BLOB_SHARPNESS, -BLOB_SHARPNESS
        decoder.output_proj.bias.zero_()

