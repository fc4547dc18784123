"""A model whose files are all there but one is damaged: which model, which file, which folder, and
what to do, in one ``model_damaged`` sentence.

A damaged file (a safetensors cut off, a config that is not JSON or YAML, remote code that does not
compile; on a real cache a bit-rotten blob) makes a loader raise its library's exception: safetensors'
``SafetensorError``, ``json.JSONDecodeError`` (or transformers' ``OSError`` around it, or a
``ValueError`` of ours), ``yaml.YAMLError``, ``SyntaxError`` from remote code,
``weight_keys.ForeignWeights`` (a file of another model's weights, which transformers would load at
random), ``ImportError`` (a tokenizer file transformers cannot parse ends in its protobuf fallback),
torch's ``RuntimeError`` ("PytorchStreamReader failed ...") or ``EOFError`` / ``UnpicklingError`` for a
pickle (found by damaging the tiny replicas' files and loading them). The model manager catches those types around
its loaders (``load_errors``) and asks ``damaged_model`` to look at the model's files
(``file_checks``): only when one of them is damaged does the error become ``model_damaged``; when
none is, the exception was a bug or the environment and goes on as it was. A file that is absent is
``model_missing`` (the manager and ``hub`` say so before this is asked).

The repair: a hub model's repository folder in the cache is deleted and the model downloaded again
(deleting only the file is not enough: huggingface_hub links a missing snapshot entry back to the
blob it already holds, the damaged one); a tiny replica is rebuilt; any other local folder is
rebuilt or replaced by whoever made it.
"""

from __future__ import annotations

import fnmatch
import json
import os
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

from img23d_protocol import ErrorCode, ProtocolError

from .file_checks import check_file, digest_mismatch, digest_unknown, published_digest
from .registry import ModelSpec, default_tiny_root
from .weight_keys import ForeignWeights

TINY_PREFIX = "tiny/"  # the tiny replicas' repo_id labels
DOWNLOAD_COMMAND = "python -m img23d_backend models download"
REBUILD_COMMAND = "python -m img23d_backend.replicas --force"


@dataclass(frozen=True)
class DamagedFile:
    part: ModelSpec    # the model, or the further repository of it (``ModelSpec.parts``) that holds the file
    folder: Path       # that part's folder: a hub snapshot or a local folder
    name: str          # the file, relative to ``folder``
    why: str           # "is cut off (...)", "is not valid JSON (...)", ...


def load_errors() -> tuple[type[BaseException], ...]:
    """The exception types a loader raises for a damaged file (the module docstring says which raises
    which). Read when a load fails, so that importing this module imports neither safetensors nor yaml."""
    import yaml
    from safetensors import SafetensorError

    # TypeError, KeyError, AttributeError: a config that parses but is not a table ("[]", an empty YAML), as a
    # loader indexes it; checked against the files like the others (none damaged: raised as it was).
    return (SafetensorError, yaml.YAMLError, ValueError, OSError, RuntimeError, SyntaxError, ImportError,
            EOFError, pickle.UnpicklingError, zipfile.BadZipFile, TypeError, KeyError, AttributeError)


def model_files(spec: ModelSpec, folder: Path) -> list[str]:
    """``spec``'s files in ``folder``, relative and sorted. In a hub snapshot (which may hold other
    models of the repository): those its ``allow_patterns`` name, else those under its subfolder (and
    its FlashVDM VAE's). In a local folder, which holds only its replica (a replica's loader may read a
    file the published list lacks, as Step1X-3D's tiny DINO config): everything under its subfolders,
    or the whole folder."""
    subfolders = [f"{sub}/*" for sub in (spec.subfolder, spec.flashvdm_vae) if sub]
    if spec.local_path is not None:
        patterns = [*subfolders, *spec.allow_patterns] if subfolders else []
    else:
        patterns = list(spec.allow_patterns) or subfolders
    names = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        names += [Path(root, name).relative_to(folder).as_posix() for name in files]
    if patterns:
        names = [name for name in names if any(fnmatch.fnmatch(name, pattern) for pattern in patterns)]
    return sorted(names)


def _pinned(spec: ModelSpec, name: str) -> str | None:
    """The SHA-256 the spec pins for this file (keys are relative to its subfolder), if any."""
    pins = dict(spec.options.get("sha256", {}))
    prefix = f"{spec.subfolder}/" if spec.subfolder else ""
    return pins.get(name[len(prefix):]) if name.startswith(prefix) else None


def find_damage(parts: list[tuple[ModelSpec, Path]], digests: bool = False) -> list[DamagedFile]:
    """Every damaged file of a model's parts ((spec, folder) each): ``digests`` also hashes each file
    whose published digest is known (seconds per GB)."""
    found = []
    for part, folder in parts:
        for name in model_files(part, folder):
            why = check_file(folder / name, digests=digests, pinned_sha256=_pinned(part, name) if digests else None)
            if why is not None:
                found.append(DamagedFile(part, folder, name, why))
    return found


def unchecked_files(parts: list[tuple[ModelSpec, Path]]) -> list[Path]:
    """The files of a model's parts no digest can be checked for (``file_checks.digest_unknown``: copies
    of a cache's snapshot without its blobs), unless the spec pins their SHA-256."""
    return [folder / name for part, folder in parts for name in model_files(part, folder)
            if _pinned(part, name) is None and digest_unknown(folder / name)]


def refuse_arrival(spec: ModelSpec, folder: Path, name: str, published: tuple[str, str] | None = None) -> None:
    """Check a file just downloaded into ``folder`` against the digest the hub published for it
    (``published``, from the hub's file list, else the name huggingface_hub gave its blob: the etag the
    hub sent). One that differs is removed, blob and snapshot entry (else the next download would link
    the damaged blob back), and refused with ``download_failed``."""
    path = folder / name
    expected = published or published_digest(path)
    why = digest_mismatch(path, expected) if expected is not None else None
    if why is None:
        return
    blob = Path(os.path.realpath(path))
    path.unlink(missing_ok=True)
    blob.unlink(missing_ok=True)
    raise ProtocolError(ErrorCode.DOWNLOAD_FAILED, f"{spec.display}: {name} arrived damaged: it {why}; it was "
                        "removed, download it again (only what is missing is fetched)")


def damaged_model(spec: ModelSpec, parts: list[tuple[ModelSpec, Path]], exc: BaseException) -> ProtocolError | None:
    """``model_damaged`` for a load of ``spec`` that failed with ``exc``, when a file of it is damaged;
    None when none is (the exception is then not about its files)."""
    damage = _foreign(parts, exc) if isinstance(exc, ForeignWeights) else find_damage(parts)
    if not damage:
        return None
    return damage_error(spec, damage, f"{type(exc).__name__}: {exc}"[:300])


def _foreign(parts: list[tuple[ModelSpec, Path]], exc: ForeignWeights) -> list[DamagedFile]:
    """The file of another model's weights, named as the part whose folder holds it."""
    where = os.path.abspath(exc.path)
    for part, folder in parts:
        if where.startswith(os.path.join(os.path.abspath(folder), "")):
            name = Path(os.path.relpath(where, os.path.abspath(folder))).as_posix()
            return [DamagedFile(part, folder, name, exc.why)]
    part, folder = parts[0]
    return [DamagedFile(part, exc.path.parent, exc.path.name, exc.why)]


def damage_error(spec: ModelSpec, damage: list[DamagedFile], detail: str | None = None,
                 name: str | None = None) -> ProtocolError:
    """The one sentence: the model, its damaged file and folder, and what to do (``name``: what
    ``models download`` calls it, its display name by default)."""
    return ProtocolError(ErrorCode.MODEL_DAMAGED, damage_sentence(spec, damage, name), detail)


def damage_sentence(spec: ModelSpec, damage: list[DamagedFile], name: str | None = None) -> str:
    first = damage[0]
    more = f" (and {len(damage) - 1} more damaged file{'s' if len(damage) > 2 else ''})" if len(damage) > 1 else ""
    return f"{spec.display} is damaged: {first.name} in {first.folder} {first.why}{more}; {repair(spec, first, name)}"


def repair(spec: ModelSpec, damaged: DamagedFile, name: str | None = None) -> str:
    """What to do about a damaged file of ``spec``, as the end of its sentence."""
    part = damaged.part
    if part.local_path is None:
        return (f"delete {_repository_folder(damaged.folder)} and download it again "
                f"({DOWNLOAD_COMMAND} {name or spec.display}, or Download in the add-on's model list)")
    if not part.repo_id.startswith(TINY_PREFIX):
        return "rebuild or replace the folder"
    root = _tiny_root(damaged.folder)
    out = "" if root is None or _same(root, default_tiny_root()) else f" --out {root}"
    return f"rebuild it ({REBUILD_COMMAND}{out})"


def _repository_folder(snapshot: Path) -> Path:
    """``models--owner--name`` in the cache, from one of its snapshots (``.../snapshots/<commit>``)."""
    return snapshot.parent.parent if snapshot.parent.name == "snapshots" else snapshot


def _tiny_root(folder: Path) -> Path | None:
    """The tiny set's folder (the one with its manifest) that holds ``folder``."""
    for candidate in (folder, *folder.parents):
        manifest = candidate / "manifest.json"
        if manifest.is_file():
            try:
                if "models" in json.loads(manifest.read_text(encoding="utf-8")):
                    return candidate
            except (OSError, ValueError):
                return candidate  # a damaged manifest is rebuilt with the rest
    return None


def _same(a: Path, b: Path) -> bool:
    return os.path.abspath(a) == os.path.abspath(b)


def missing_file(spec: ModelSpec, folder: Path, exc: FileNotFoundError) -> ProtocolError:
    """``model_missing`` naming the file a loader could not open, relative to the model's folder."""
    name = str(exc.filename or exc)
    try:
        # abspath, not resolve: a cache's snapshot files are links to blobs, named by the link.
        name = Path(os.path.abspath(name)).relative_to(os.path.abspath(folder)).as_posix()
    except ValueError:
        pass  # a path outside the model's folder: named in full
    remedy = ("rebuild or replace the folder" if spec.local_path is not None else
              "Download it again in the add-on's model list (it fetches only what is missing)")
    return ProtocolError(ErrorCode.MODEL_MISSING, f"{spec.display}: {name} is missing from {folder}; {remedy}",
                         f"{type(exc).__name__}: {exc}"[:300])
