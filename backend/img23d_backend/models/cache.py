"""What the model manager shows and removes: the configured models' state in the Hugging Face cache.

Listing never touches the network: a model is ``cached`` when the chain would find it
offline with every file its loader opens (the same lookup ``hub`` does before loading),
``partial`` when some of its files are there or a file of its repository was begun and not
finished (an interrupted download: Download resumes it), ``missing`` otherwise. Sizes are
bytes on disk when anything is on disk, the registry's estimate when not. Deleting goes through
huggingface_hub's own cache API, which removes whole cached revisions: models stored in
the same revision of one repository (Hunyuan3D-2's shape and texture folders) go together,
and the listing says so in ``shared_with``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from img23d_protocol import ErrorCode, ModelEntry, ProtocolError

from . import hub
from .registry import ModelSet, ModelSpec

log = logging.getLogger(__name__)


def model_id(spec: ModelSpec) -> str:
    """A configured model's id on the wire: its repository, subfolder and pinned revision."""
    return spec.display


def configured_specs(models: ModelSet) -> list[ModelSpec]:
    """Every model of a set, in declaration order (roles a set leaves out are skipped)."""
    specs = [getattr(models, f.name) for f in fields(models)]
    return [spec for spec in specs if isinstance(spec, ModelSpec)]


def find_spec(models: ModelSet, key: str) -> ModelSpec:
    """The configured model named by ``key`` (its id or its role); ``bad_request`` otherwise."""
    for spec in configured_specs(models):
        if key in (model_id(spec), spec.role):
            return spec
    known = ", ".join(model_id(spec) for spec in configured_specs(models))
    raise ProtocolError(ErrorCode.BAD_REQUEST, f"{key!r} is not one of the configured models ({known})")


def hub_cache_dir() -> Path:
    # Read at call time: HF_HOME / HF_HUB_CACHE decide it, and tests point it elsewhere.
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def scan_cache(cache_dir: Path | None = None) -> Any:
    """huggingface_hub's view of the cache, or None when there is no cache folder yet."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    folder = cache_dir or hub_cache_dir()
    try:
        info = scan_cache_dir(folder)
    except CacheNotFound:
        return None
    except ValueError as exc:   # "expects a directory but found a file": a traceback before
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"the Hugging Face cache {folder} is a file, not a folder: set "
                                                   "HF_HUB_CACHE (or HF_HOME) to a folder", str(exc)) from exc
    for warning in info.warnings:  # a corrupted repository folder is skipped, not fatal
        log.warning("Hugging Face cache: %s", warning)
    return info


def _cached_repo(info: Any, repo_id: str) -> Any:
    if info is None:
        return None
    for repo in info.repos:
        if repo.repo_type == "model" and repo.repo_id == repo_id:
            return repo
    return None


def _in_scope(spec: ModelSpec, relative: list[str]) -> list[str]:
    """The files among ``relative`` (paths inside a snapshot) that belong to ``spec``."""
    from huggingface_hub.utils import filter_repo_objects

    if spec.allow_patterns:
        return list(filter_repo_objects(relative, allow_patterns=list(spec.allow_patterns)))
    if spec.subfolder:
        return [path for path in relative if path.startswith(spec.subfolder.rstrip("/") + "/")]
    return relative


def _bytes_in_scope(spec: ModelSpec, revisions: list[Any]) -> int:
    """Bytes on disk of ``spec``'s files in these cached revisions (each blob counted once)."""
    blobs: dict[Path, int] = {}
    for revision in revisions:
        files = {str(f.file_path.relative_to(revision.snapshot_path).as_posix()): f for f in revision.files}
        for name in _in_scope(spec, sorted(files)):
            blobs[files[name].blob_path] = files[name].size_on_disk
    return sum(blobs.values())


def _revisions_of(spec: ModelSpec, repo: Any) -> list[Any]:
    """The cached revisions that may hold ``spec``: its pinned one, or any of the repository's."""
    if repo is None:
        return []
    return [rev for rev in repo.revisions if spec.revision is None or rev.commit_hash == spec.revision]


def _folder_bytes(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                continue  # a file removed while we walk: not ours to report
    return total


def describe(spec: ModelSpec, info: Any, shared_with: list[str]) -> ModelEntry:
    """One model's entry: where it is, how big, whether the chain can load it offline."""
    entry = ModelEntry(id=model_id(spec), role=spec.role, repo_id=spec.repo_id, subfolder=spec.subfolder,
                       revision=spec.revision, size_bytes=spec.size_bytes, shared_with=shared_with)
    if spec.local_path is not None:
        entry.local = True
        folder = Path(spec.local_path)
        entry.state = "cached" if _offline_folder(spec) else ("partial" if folder.is_dir() else "missing")
        if folder.is_dir():
            entry.size_bytes = sum(_folder_bytes(Path(part.local_path or "") / (part.subfolder or ""))
                                   for part in spec.parts)
            entry.size_measured = True
        return entry
    if _offline_folder(spec) is not None:
        entry.state = "cached"
    on_disk = 0
    for part in spec.parts:  # a model read from several repositories counts each one's files
        revisions = _revisions_of(part, _cached_repo(info, part.repo_id))
        folder = _offline_folder(replace(part, sources=()))
        if folder is not None:
            revisions = [rev for rev in revisions if rev.snapshot_path.name == folder.name] or revisions
        on_disk += _bytes_in_scope(part, revisions)
        if entry.state != "cached":
            # What an interrupted download left: files of the revision, and any file it had begun.
            on_disk += hub.interrupted_bytes(part.repo_id)
    if on_disk:
        entry.size_bytes, entry.size_measured = on_disk, True
        if entry.state != "cached":
            entry.state = "partial"
    return entry


def _offline_folder(spec: ModelSpec) -> Path | None:
    """Where the chain would find this model without the network (the very lookup it loads with)."""
    try:
        return hub.resolve_model_dir(spec, offline=True)
    except ProtocolError:
        return None


def list_models(models: ModelSet, cache_dir: Path | None = None) -> list[ModelEntry]:
    specs = configured_specs(models)
    info = scan_cache(cache_dir) if any(spec.local_path is None for spec in specs) else None
    entries = []
    for spec in specs:
        repos = {part.repo_id for part in spec.parts}
        shared = [model_id(other) for other in specs
                  if other is not spec and other.local_path is None and spec.local_path is None
                  and repos & {part.repo_id for part in other.parts} and model_id(other) != model_id(spec)]
        entries.append(describe(spec, info, shared))
    return entries


def delete_model(models: ModelSet, key: str, cache_dir: Path | None = None) -> dict[str, Any]:
    """Remove one configured model's cached revisions; returns what went and how many bytes."""
    spec = find_spec(models, key)
    if spec.local_path is not None:
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"{model_id(spec)} is a local folder ({spec.local_path}), not a download: "
                            "it is not deleted from here")
    info = scan_cache(cache_dir)
    # Every repository the model reads (``ModelSpec.parts``): its cached revisions go together.
    revisions = [rev.commit_hash for part in spec.parts for rev in _revisions_of(part, _cached_repo(info, part.repo_id))]
    repos = {part.repo_id for part in spec.parts}
    result: dict[str, Any] = {"model": model_id(spec), "revisions": revisions, "freed_bytes": 0,
                              "also_removed": [model_id(other) for other in configured_specs(models)
                                               if other is not spec and other.local_path is None
                                               and repos & {part.repo_id for part in other.parts}]}
    if not revisions:
        return result  # nothing cached: deleting twice is not an error
    strategy = info.delete_revisions(*revisions)
    try:
        strategy.execute()
    except OSError as exc:
        raise ProtocolError(ErrorCode.DISK, f"could not delete {model_id(spec)} from the cache: {exc}") from exc
    result["freed_bytes"] = int(strategy.expected_freed_size)
    log.info("deleted %s (%d revision(s), %d bytes)", model_id(spec), len(revisions), result["freed_bytes"])
    return result
