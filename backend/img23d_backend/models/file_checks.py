"""Is one model file damaged: not the file that was published, or not readable as its kind?

A bit-rotten blob, a download cut short and copied by hand, a config edited into garbage, remote
code that no longer compiles: each used to surface as a library's exception deep inside a loader.
``check_file`` says in a few words what is wrong with one file, or None when nothing is:

* against the digest published for it, where one is known: the Hugging Face cache names each blob
  by the hub's etag for it (an LFS file's SHA-256, a small file's git blob hash, as huggingface_hub
  documents its cache), and a spec may pin a file's SHA-256 (``ModelSpec.options["sha256"]``); a
  file that matches is the published file, whatever its kind;
* a cache copied with its links followed (``cp -rL``, ``scp -r``, ``rsync -L``: how caches travel to a
  GPU host) holds each snapshot entry as a file, not a link to its blob: such a file is matched by
  content against the blobs copied beside it (``copied_blob``); without them it cannot be checked
  against a digest, and ``models --verify`` says so (``digest_unknown``);
* else by its kind: a safetensors file's header must parse and account for every byte of the file,
  JSON and YAML configs must parse, Python (remote code) must compile, a torch zip archive must be
  complete with every member's CRC right.

Hashing multi-GB files takes seconds each: a loader's failure is looked into with ``digests=False``
(the kind checks find what makes a loader fail); ``models --verify`` and a finished download hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile
from pathlib import Path
from typing import Callable

_SHA256 = re.compile(r"[0-9a-f]{64}")
_GIT_SHA1 = re.compile(r"[0-9a-f]{40}")
# A safetensors header larger than this is garbage, not a header (safetensors' own limit is 100 MB).
MAX_HEADER_BYTES = 100 << 20
# Python's pickle protocol 2+ starts with this byte: torch's legacy (pre-zip) format, not checkable here.
PICKLE_START = b"\x80"
ZIP_START = b"PK\x03\x04"
CONFIG_BYTES = 64 << 20  # a JSON or YAML file larger than this is not a config: left to its loader
# The files that hold a model's settings: never an empty table as published.
SETTINGS_FILES = ("config.json", "config.yaml", "config.yml", "model_index.json")


def published_digest(path: Path) -> tuple[str, str] | None:
    """("sha256" | "git-sha1", hex digest) the hub published for this cached file, read from the name of
    the blob its snapshot entry links to; None for a file outside a Hugging Face cache."""
    blob = Path(os.path.realpath(path)).name
    if _SHA256.fullmatch(blob):
        return "sha256", blob
    if _GIT_SHA1.fullmatch(blob):
        return "git-sha1", blob
    return None


def _copied_blobs(path: Path) -> Path | None:
    """The ``blobs`` folder of the cached repository whose snapshot holds ``path``, when ``path`` is a
    copy (a file, not a link) and that folder holds blobs; None otherwise."""
    if path.is_symlink():
        return None
    parts = path.absolute().parts
    if "snapshots" not in parts:
        return None
    repository = Path(*parts[:len(parts) - 1 - parts[::-1].index("snapshots")])
    blobs = repository / "blobs"
    return blobs if blobs.is_dir() and any(blobs.iterdir()) else None


def copied_blob(path: Path, blobs: Path) -> str | None:
    """For a snapshot entry copied with its link followed, beside the repository's copied ``blobs``
    (``_copied_blobs``): None when its bytes are one of the blobs the hub published (its SHA-256 or git
    blob hash names one), else what differs."""
    sha256 = file_digest(path, "sha256")  # an LFS file's etag; a small file's is its git blob hash
    if (blobs / sha256).is_file() or (blobs / file_digest(path, "git-sha1")).is_file():
        return None
    return (f"is not a file the hub published: a copy (not a link to its blob) whose sha256 "
            f"({sha256[:12]}...) and git blob hash name no blob of its repository")


def digest_unknown(path: Path) -> bool:
    """Whether ``path`` is a snapshot entry no digest can be checked for: a copy, not a link to a blob
    named by its digest, with no copied blobs beside it to match by content."""
    return (published_digest(path) is None and not path.is_symlink() and "snapshots" in path.absolute().parts
            and _copied_blobs(path) is None)


def file_digest(path: Path, kind: str) -> str:
    """The file's digest of ``kind``: SHA-256, or the git blob hash (SHA-1 of "blob <size>\\0" + bytes)."""
    digest = hashlib.sha256() if kind == "sha256" else hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def digest_mismatch(path: Path, expected: tuple[str, str]) -> str | None:
    """What differs when ``path`` is not the file of digest ``expected`` (kind, hex); None when it is."""
    kind, wanted = expected
    actual = file_digest(path, kind)
    if actual == wanted.lower():
        return None
    name = "sha256" if kind == "sha256" else "git blob hash"
    return f"is not the published file (its {name} is {actual[:12]}..., the hub's is {wanted.lower()[:12]}...)"


def check_file(path: Path, digests: bool = False, pinned_sha256: str | None = None) -> str | None:
    """What is wrong with ``path`` in a few words ("is cut off ..."), or None.

    ``digests``: compare with the published digest where one is known (``pinned_sha256``, else the
    cache's blob name), and trust a file that matches; else (and without ``digests``) check its kind."""
    try:
        size = path.stat().st_size
        if digests:
            expected = ("sha256", pinned_sha256) if pinned_sha256 else published_digest(path)
            if expected is not None:
                return digest_mismatch(path, expected)
            blobs = _copied_blobs(path)  # a walk up the path and a listing: once per file
            if blobs is not None:
                return copied_blob(path, blobs)
        if size == 0 and path.suffix in KIND_CHECKS:
            return "is empty"
        check = KIND_CHECKS.get(path.suffix)
        return check(path, size) if check is not None else None
    except OSError as exc:  # a read error is damage too: the disk under the file is failing
        return f"cannot be read ({exc.strerror or type(exc).__name__})"


def _safetensors(path: Path, size: int) -> str | None:
    """The header's length, its JSON, and the bytes its tensors' offsets account for."""
    with open(path, "rb") as stream:
        head = stream.read(8)
        if len(head) < 8:
            return f"is cut off ({size} bytes, before the end of its header's length)"
        length = int.from_bytes(head, "little")
        if length > MAX_HEADER_BYTES:
            return "is overwritten (its first bytes are not a safetensors header's length)"
        if length > size - 8:
            return f"is cut off ({size:,} bytes, inside its {length:,}-byte header)"
        try:
            header = json.loads(stream.read(length))
            ends = [int(entry["data_offsets"][1]) for key, entry in header.items() if key != "__metadata__"]
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            return "has a damaged header (not the JSON table of tensors safetensors writes)"
    expected = 8 + length + max(ends, default=0)
    if size < expected:
        return f"is cut off ({size:,} of {expected:,} bytes)"
    if size > expected:
        return f"has {size - expected:,} bytes more than its header accounts for"
    return None


def _config(path: Path, size: int, parse: Callable[[str], object], error: type[Exception],
            fault: Callable[[Exception], str]) -> str | None:
    """A JSON or YAML config must be UTF-8 text that ``parse`` reads; ``fault`` words its ``error``."""
    if size > CONFIG_BYTES:
        return None
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return "is not text (not UTF-8)"
    try:
        parsed = parse(text)
    except error as exc:
        return fault(exc)
    if not isinstance(parsed, dict):  # "[]" or an empty YAML parses, and the loader then fails with a TypeError
        return "is empty" if parsed is None else f"holds a {type(parsed).__name__}, not a table of settings"
    if not parsed and path.name.endswith(SETTINGS_FILES):
        # "{}" parses too, and then the loader guesses (transformers takes the model type from the folder's
        # name and fails on the wrong class). Only a model's settings: a tokenizer's added_tokens.json may
        # be an empty table as published.
        return "is an empty table (no settings)"
    return None


def _json(path: Path, size: int) -> str | None:
    return _config(path, size, json.loads, ValueError,
                   lambda exc: f"is not valid JSON ({getattr(exc, 'msg', exc)} at line {getattr(exc, 'lineno', '?')})")


def _yaml(path: Path, size: int) -> str | None:
    import yaml

    def fault(exc: Exception) -> str:
        lines = str(exc).strip().splitlines()
        return f"is not valid YAML ({lines[0].strip() if lines else type(exc).__name__})"

    return _config(path, size, yaml.safe_load, yaml.YAMLError, fault)


def _python(path: Path, size: int) -> str | None:
    try:
        compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        return f"does not compile ({exc.msg}, line {exc.lineno})"
    except ValueError:  # source with NUL bytes
        return "does not compile (it holds NUL bytes)"
    return None


def _torch_archive(path: Path, size: int) -> str | None:
    """torch.save's zip archive; a legacy pickle (torch before 1.6) cannot be checked without loading it."""
    with open(path, "rb") as stream:
        start = stream.read(4)
    if start.startswith(PICKLE_START):
        return None
    if start != ZIP_START:
        return "is neither a torch archive nor a pickle (overwritten?)"
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, EOFError):
        return "is cut off (its zip directory is missing or damaged)"
    return f"is damaged ({bad} fails its CRC check)" if bad else None


KIND_CHECKS = {".safetensors": _safetensors, ".json": _json, ".yaml": _yaml, ".yml": _yaml, ".py": _python,
               ".bin": _torch_archive, ".pt": _torch_archive, ".pth": _torch_archive}
