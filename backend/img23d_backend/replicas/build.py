"""The tiny replica set: build it once, atomically, and find it again.

The tiny, offline, random-weight replicas of the production models, for tests. Each model's
builder lives in its own module: each grounding, matting, depth, material model's and image editor's in its room
(``grounding/<model>/replica``, ``matting/<model>/replica``, ``depth/<model>/replica``,
``materials/<model>/replica``, ``editors/<editor>/replica``, handed over as its ``replica``:
``models.specs.ModelReplica``), each
family's in its family (``families/hunyuan3d/shape_replica`` and ``paint_replica``,
``families/step1x/geometry/replica`` and ``texture/replica``), which hands them over as its
``Family.replicas`` (``families.family.FamilyReplicas``). This module builds the shared models' of their
tables (``grounding.table``, ``matting.table``, ``depth.table``), then each material model's and editor's
of theirs (``materials.table``, ``editors.table``), then
each family's of the table (``families.table.FAMILIES``), naming none, into the same
layout as the real weights, so the production loaders open them with exactly the calls they use
for the real models, without network access and in seconds on a CPU:

    root/
      manifest.json
      <grounding model>/                 each grounding model's replica, in its row's folder: save_pretrained of
                                         model + processor (grounding/<model>/replica.py)
      <matting model>/                   each matting model's, in its row's folder: config.json (auto_map),
                                         model.safetensors, remote code (matting/<model>/replica.py)
      hunyuan3d/hunyuan3d-dit-v2-mini/   config.yaml + model.fp16.safetensors
      hunyuan3d/hunyuan3d-vae-v2-mini-turbo/  FlashVDM's VAE: config.yaml + model.fp16.safetensors
      hunyuan3d-paint/                   hunyuan3d-delight-v2-0/ + hunyuan3d-paint-v2-0/ +
                                         hunyuan3d-paint-v2-0-turbo/ (diffusers folders)
      <depth model>/                     each depth model's, in its row's folder (depth/<model>/replica.py)
      <material model>/                  each material model's replica, in its row's folder (``tiny_folder``), a
                                         diffusers folder as the real one (materials/<model>/replica.py)
      <parts model>/                     each parts model's replica (parts/<model>/replica.py; the
                                         further repositories it reads in folders inside it)
      <editor>/                          each image editor's replica, in a folder of its choice name, a diffusers
                                         folder as the real one (editors/<editor>/replica.py)
      step1x-3d/Step1X-3D-Geometry-1300m/  Step1X-3D geometry (the licence-clean family's shape model)
      step1x-3d/Step1X-3D-Geometry-Label-1300m/  its Label model (symmetry and edge sharpness labels)
      step1x-texture/                    its paint model: stable-diffusion-xl-base-1.0/, sdxl-vae-fp16-fix/,
                                         Step1X-3D/Step1X-3D-Texture/ (the three repositories' layouts)

The weights are random (fixed seeds, so a build is byte-for-byte repeatable) except where a
test needs behaviour: the grounding replica always gives the same answer (see ``grounding/<model>/replica``), and
the shape replica's occupancy is a closed blob, near-binary like a trained one's (see
``families/hunyuan3d/shape_replica``).

``python -m img23d_backend.replicas [--out DIR] [--force]`` builds a folder and prints it.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import shutil
import tempfile
from importlib import metadata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..editors.table import EDITOR_CODE, EDITOR_ROWS
from ..families.table import FAMILIES
from ..catalog import TINY_FORMAT, default_tiny_root, tiny_model_set
from ..materials.table import MATERIAL_CODE, MATERIAL_ROWS
from ..parts.table import PARTS_CODE, PARTS_ROWS
from ..models.replica_common import folder_name, manifest_path, spec_folder, write_json
from ..models.specs import ModelReplica, ModelSpec
from ..depth.table import DEPTH_CODE, DEPTH_ROWS
from ..grounding.table import GROUNDING_CODE, GROUNDING_ROWS
from ..matting.table import MATTING_CODE, MATTING_ROWS

# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


class ForeignFolder(FileExistsError):
    """The tiny models' folder holds what no replica build made: it is kept, never replaced."""


def build_tiny_models(root: Path) -> Path:
    """Build all replicas into ``root`` (replacing an earlier build), atomically; returns ``root``.

    The build goes to a temporary sibling folder that is renamed into place only when
    complete, so readers never see a half-built folder. A ``root`` that is a file, or a folder
    with files but no build's manifest, is refused (``ForeignFolder``): replacing it deleted an
    artist's folder named by mistake as ``IMG23D_TINY_MODELS``.
    """
    root = Path(root).expanduser().absolute()
    if root.exists() and not (root / "manifest.json").is_file() and (not root.is_dir() or any(root.iterdir())):
        raise ForeignFolder(errno.EEXIST, f"{root} holds files that are not img23d's tiny models (it has no "
                            "manifest.json of a build), so it is left as it is; name a new or empty folder "
                            "for them (IMG23D_TINY_MODELS, or --out)", str(root))
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.building-", dir=root.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would otherwise become the cache folder's mode
    try:
        # The registry's tiny set says where each model lives; each is built where it is read.
        write_json(staging / "manifest.json", _manifest(_build_all(staging)))
        _swap_into_place(staging, root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


def replica_folders(families: Iterable[str] | None = None) -> tuple[str, ...]:
    """The folder of each replica in a tiny set (the manifest's ``models`` keys): the shared
    models', then each family's (of ``families``, names of the table's; None: every family's).
    Two replicas given one folder are refused: one would overwrite the other."""
    folders = [folder_name(spec) for spec, _ in _shared_replicas(Path("."))]
    folders.extend(folder_name(spec) for spec, _ in _room_replicas(Path(".")))
    for name in FAMILIES if families is None else families:
        for folder in FAMILIES[name].replicas().tiny_folders:
            if folder in folders:
                raise ValueError(f"family {name!r} gives its tiny replica the folder {folder!r}, "
                                 f"which another replica has: each needs its own")
            folders.append(folder)
    return tuple(folders)


def ensure_tiny_models(root: Path | None = None, families: Iterable[str] | None = None) -> Path:
    """Return the replica folder, building it first unless its manifest says it holds this
    format with every replica of the shared models and of ``families`` (None: every family's; the
    cache is shared: another checkout's code may have made a folder of the same name). Checking a
    family's replicas imports its replica builders, so a job names its own families: a licence-clean
    job then imports nothing of Hunyuan3D-2's (a build, when one is needed, builds every family's)."""
    root = default_tiny_root() if root is None else Path(root).expanduser()
    try:
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
        complete = (manifest.get("format") == TINY_FORMAT
                    and set(replica_folders(families)) <= set(manifest.get("models", {})))
    except (OSError, ValueError, AttributeError):
        complete = False
    if not complete:
        build_tiny_models(root)
    return root


# --------------------------------------------------------------------------------------------
# Folder handling
# --------------------------------------------------------------------------------------------


def _swap_into_place(staging: Path, root: Path) -> None:
    """Rename the finished build onto ``root``, moving any previous folder out of the way."""
    old: Path | None = None
    if root.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{root.name}.old-", dir=root.parent))
        os.replace(root, old / root.name)
    try:
        os.replace(staging, root)
    except OSError:
        if (root / "manifest.json").is_file():
            return  # a concurrent builder won the race; same seeds, so keep its folder
        if old is not None and not root.exists():
            os.replace(old / root.name, root)  # put the previous build back
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _build_all(root: Path) -> dict[str, dict[str, Any]]:
    """Every tiny replica under ``root``, into the folders the registry's tiny sets name: the
    shared models', then each family's; the manifest's entries by folder."""
    replica_folders()  # two replicas in one folder are refused before anything is built
    entries = {folder_name(spec): {**manifest_path(spec), **replica.build(spec_folder(spec), "tiny")[0]}
               for spec, replica in _shared_replicas(root)}
    for spec, replica in _room_replicas(root):
        entries[folder_name(spec)] = replica.build(spec_folder(spec), "tiny")[0]
    for name, family in FAMILIES.items():
        replicas = family.replicas()
        built = replicas.build_tiny(root)
        if set(built) != set(replicas.tiny_folders):
            raise ValueError(f"family {name!r} built the tiny replicas {sorted(built)} but names "
                             f"{sorted(replicas.tiny_folders)}: its tiny_folders must list what it builds")
        entries.update(built)
    return entries


def _shared_replicas(root: Path) -> list[tuple[ModelSpec, ModelReplica]]:
    """Each grounding, matting and depth model's tiny spec under ``root`` with its replica, from their rooms'
    tables, each folder once (a model's sizes may share one replica: the grounding model's)."""
    found: dict[str, tuple[ModelSpec, ModelReplica]] = {}
    for rows, code in ((GROUNDING_ROWS, GROUNDING_CODE), (MATTING_ROWS, MATTING_CODE), (DEPTH_ROWS, DEPTH_CODE)):
        for name, row in rows.items():
            spec = row.tiny_spec(root)
            found.setdefault(folder_name(spec), (spec, code[name].replica))
    return list(found.values())


def _room_replicas(root: Path) -> list[tuple[ModelSpec, ModelReplica]]:
    """Each material model's, image editor's and parts model's tiny spec under ``root`` with its replica, from
    their rooms' tables (every one of them is built: a job may choose any)."""
    return [*((row.tiny_spec(root), MATERIAL_CODE[name].replica) for name, row in MATERIAL_ROWS.items()),
            *((row.tiny_spec(root), EDITOR_CODE[name].replica) for name, row in EDITOR_ROWS.items()),
            *((row.tiny_spec(root), PARTS_CODE[name].replica) for name, row in PARTS_ROWS.items())]


def _manifest(models: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "format": TINY_FORMAT,
        "transformers": metadata.version("transformers"),
        "hy3dgen": metadata.version("hy3dgen"),
        "models": models,
    }


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m img23d_backend.replicas",
                                     description="Build the tiny offline model replicas.")
    parser.add_argument("--out", type=Path, default=None,
                        help="target folder (default: $IMG23D_TINY_MODELS or the user cache)")
    parser.add_argument("--force", action="store_true", help="rebuild even if already built")
    args = parser.parse_args(argv)
    root = args.out if args.out is not None else default_tiny_root()
    try:
        root = build_tiny_models(root) if args.force else ensure_tiny_models(root)
    except ForeignFolder as exc:
        raise SystemExit(f"error: {exc.strerror}") from None
    print(Path(root).absolute())
    return 0
