"""Is a model's folder complete: every file its loader opens, weights included?

Judging by configs alone called an interrupted download complete (the small configs arrive
first, the multi-GB weights last), and the next offline job failed deep inside a loader. The
rules here follow what each loader reads:

* transformers folders (grounding, matting): ``config.json`` and the weights the loaders ask
  for with ``use_safetensors=True``: ``model.safetensors``, or ``model.safetensors.index.json``
  and every shard it names. A grounding model's processor adds ``preprocessor_config.json``,
  ``tokenizer_config.json`` and a tokenizer (``tokenizer.json``, or ``vocab.json`` and
  ``merges.txt``); remote code (a matting model's) adds the modules its config's ``auto_map`` names.
* a shape model in a subfolder of its repository: the files its spec's ``allow_patterns`` list, which
  its family's rows name exactly (hy3dgen's ``<subfolder>/config.yaml`` and
  ``<subfolder>/model.fp16.safetensors`` and the same two of the FlashVDM VAE's folder:
  ``families/hunyuan3d/specs.py``).
* a model whose spec lists every file its loader opens (``ModelSpec.exact_files``): each of those
  files (a family's rows say which: ``families/<family>/specs.py``; a paint model of several
  repositories, ``ModelSpec.parts``, is resolved one by one).
* diffusers folders (delight, paint): ``<subfolder>/model_index.json`` and each component the
  loader builds: a model's config and weights, a scheduler's config, a tokenizer's files. The
  delight pipeline builds every component its index lists (but the safety checker, passed as
  None); the paint loader opens exactly the files its spec lists (its family's rows list them:
  the index, the scheduler's config, the UNet's and the VAE's config and weights).

``missing_files`` names what is absent, relative to the folder, for the error message.
"""

from __future__ import annotations

import json
from pathlib import Path

from .specs import ModelSpec

WEIGHTS = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"
# Passed to the delight pipeline as None, so never read from disk.
NOT_LOADED = ("safety_checker",)
_DIFFUSERS_WEIGHTS = tuple(f"diffusion_pytorch_model{variant}.{ext}"
                           for variant in ("", ".fp16") for ext in ("safetensors", "bin"))
_TRANSFORMERS_WEIGHTS = ("model.safetensors", "model.fp16.safetensors", "pytorch_model.bin", "pytorch_model.fp16.bin")
_INDEXES = ("diffusion_pytorch_model.safetensors.index.json", "diffusion_pytorch_model.bin.index.json",
            "model.safetensors.index.json", "pytorch_model.bin.index.json")


def missing_files(spec: ModelSpec, folder: Path) -> list[str]:
    """The files ``spec``'s loader would open that are not in ``folder`` (empty: complete)."""
    folder = Path(folder)
    if spec.exact_files:  # its spec lists every file its loader opens
        return _absent(folder, list(spec.allow_patterns))
    if spec.role in ("delight", "paint"):
        return _diffusers(spec, folder)
    if spec.subfolder:  # its family's rows list the files of its subfolder (and its VAE's) that its loader opens
        return _absent(folder, list(spec.allow_patterns))
    missing = _absent(folder, ["config.json"]) + _sharded_weights(folder, "", WEIGHTS, WEIGHTS_INDEX)
    if spec.role == "grounding":
        missing += _absent(folder, ["preprocessor_config.json", "tokenizer_config.json"]) + _tokenizer(folder, "")
    if spec.role == "depth":
        missing += _absent(folder, ["preprocessor_config.json"])
    if spec.trust_remote_code:
        missing += _absent(folder, _remote_code_modules(folder / "config.json"))
    return missing


def _absent(folder: Path, names: list[str]) -> list[str]:
    return [name for name in names if not (folder / name).is_file()]


def _sharded_weights(folder: Path, prefix: str, single: str, index: str) -> list[str]:
    """``single``, or ``index`` and each shard it names; what is missing, as file names."""
    if (folder / prefix / single).is_file():
        return []
    index_path = folder / prefix / index
    if not index_path.is_file():
        return [f"{prefix}{single} (or {prefix}{index} and its shards)"]
    shards = _shards(index_path)
    if shards is None:
        return [f"{prefix}{index} (unreadable: cut off?)"]
    return [f"{prefix}{shard}" for shard in shards if not (folder / prefix / shard).is_file()]


def _shards(index_path: Path) -> list[str] | None:
    try:
        weight_map = json.loads(index_path.read_text(encoding="utf-8")).get("weight_map")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(weight_map, dict):
        return None
    return sorted({str(name) for name in weight_map.values()})


def _tokenizer(folder: Path, prefix: str) -> list[str]:
    if (folder / prefix / "tokenizer.json").is_file():
        return []
    pair = [f"{prefix}vocab.json", f"{prefix}merges.txt"]
    missing = _absent(folder, pair)
    return [f"{prefix}tokenizer.json (or {' and '.join(missing)})"] if missing else []


def _remote_code_modules(config_path: Path) -> list[str]:
    """The ``.py`` files a config's ``auto_map`` points at (``module.Class`` or ``repo--module.Class``)."""
    try:
        auto_map = json.loads(config_path.read_text(encoding="utf-8")).get("auto_map") or {}
    except (OSError, ValueError, AttributeError):
        return []  # the missing or broken config.json is reported on its own
    references = [ref for value in auto_map.values() for ref in (value if isinstance(value, list) else [value])]
    modules = {ref.split("--")[-1].rsplit(".", 1)[0] for ref in references if isinstance(ref, str) and "." in ref}
    return sorted(f"{module.replace('.', '/')}.py" for module in modules)


def _diffusers(spec: ModelSpec, folder: Path) -> list[str]:
    prefix = f"{spec.subfolder}/" if spec.subfolder else ""
    index_path = folder / prefix / "model_index.json"
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [f"{prefix}model_index.json"]
    if not isinstance(index, dict):
        return [f"{prefix}model_index.json (not a diffusers index)"]
    listed = {name: entry for name, entry in index.items()
              if not name.startswith("_") and isinstance(entry, list) and len(entry) == 2 and entry[0]}
    if spec.role == "paint":  # the loader opens these files by name, and only these
        return _absent(folder, list(spec.allow_patterns))
    missing: list[str] = []
    for name in [name for name in listed if name not in NOT_LOADED]:
        class_name = str((listed.get(name) or ["", ""])[1])
        missing += _component(folder, f"{prefix}{name}/", class_name)
    return missing


def _component(folder: Path, prefix: str, class_name: str) -> list[str]:
    """One component folder of a diffusers pipeline, by what kind of thing its class is."""
    if class_name.endswith("Scheduler") or prefix.endswith("scheduler/"):
        return _absent(folder, [f"{prefix}scheduler_config.json"])
    if "Tokenizer" in class_name or prefix.endswith("tokenizer/"):
        return _tokenizer(folder, prefix)
    if "ImageProcessor" in class_name or "FeatureExtractor" in class_name:
        return _absent(folder, [f"{prefix}preprocessor_config.json"])
    missing = _absent(folder, [f"{prefix}config.json"])
    if any((folder / prefix / name).is_file() for name in (*_DIFFUSERS_WEIGHTS, *_TRANSFORMERS_WEIGHTS)):
        return missing
    for index in _INDEXES:
        if (folder / prefix / index).is_file():
            shards = _shards(folder / prefix / index)
            if shards is None:
                return missing + [f"{prefix}{index} (unreadable: cut off?)"]
            return missing + [f"{prefix}{shard}" for shard in shards if not (folder / prefix / shard).is_file()]
    return missing + [f"{prefix}diffusion_pytorch_model.safetensors (or another weights file)"]
