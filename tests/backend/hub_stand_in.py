"""A stand-in for the Hugging Face hub and its cache, for the tests of what img23d downloads, lists and
checks: a cache laid out exactly as huggingface_hub writes one (blobs, snapshot links, refs), and a hub that
lists a repository's files with their digests and "downloads" them into that cache."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from types import SimpleNamespace

import pytest


def write_cached(hub: Path, repo_id: str, revision: str, files: dict[str, bytes], ref: str | None = "main",
                 etags: dict[str, str] | None = None) -> Path:
    """One cached revision: content-addressed blobs, the snapshot as links to them, a ref. A blob is
    named by ``etags[name]`` where given (huggingface_hub names it by the etag the hub sent, whatever
    bytes then arrived), else by its bytes' SHA-256."""
    repo = hub / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / revision
    for name, data in files.items():
        blob = repo / "blobs" / (etags or {}).get(name, hashlib.sha256(data).hexdigest())
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    if ref:
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / ref).write_text(revision)
    return snapshot


def hub_etag(name: str, data: bytes) -> str:
    """What the hub publishes for a file: an LFS file's (weights') SHA-256, else its git blob hash."""
    if name.endswith((".safetensors", ".bin")):
        return hashlib.sha256(data).hexdigest()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _sibling(name: str, data: bytes) -> SimpleNamespace:
    """A file as the hub's listing with ``files_metadata=True`` describes it."""
    if name.endswith((".safetensors", ".bin")):
        return SimpleNamespace(rfilename=name, size=len(data), blob_id="0" * 40,
                               lfs=SimpleNamespace(sha256=hub_etag(name, data), size=len(data)))
    return SimpleNamespace(rfilename=name, size=len(data), blob_id=hub_etag(name, data), lfs=None)


class FakeHub:
    """Stands in for the hub: lists files with sizes and digests, 'downloads' by writing the cache as
    hf does. ``delivered``: bytes that arrive instead of a published file (a transfer that damaged it),
    stored under the published file's etag as huggingface_hub stores them."""

    def __init__(self, cache_dir: Path, repo_id: str, commit: str, files: dict[str, bytes],
                 delivered: dict[str, bytes] | None = None) -> None:
        self.cache_dir, self.repo_id, self.commit, self.files = cache_dir, repo_id, commit, files
        self.delivered = delivered or {}
        self.fetched: list[str] = []
        self.asked_revisions: list[str | None] = []

    def model_info(self, repo_id, revision=None, files_metadata=False):
        assert repo_id == self.repo_id and files_metadata
        self.asked_revisions.append(revision)
        return SimpleNamespace(sha=self.commit, siblings=[_sibling(name, data) for name, data in self.files.items()])

    def hf_hub_download(self, repo_id, filename, revision=None, token=None):
        assert revision == self.commit  # every file from one commit
        self.fetched.append(filename)
        published = self.files[filename]
        write_cached(self.cache_dir, repo_id, revision, {filename: self.delivered.get(filename, published)}, ref=None,
                     etags={filename: hub_etag(filename, published)})


def use_fake_hub(patch: pytest.MonkeyPatch, fake: FakeHub) -> None:
    """huggingface_hub's listing and download answered by ``fake`` while ``patch`` holds."""
    patch.setattr("huggingface_hub.HfApi", lambda token=None: fake)
    patch.setattr("huggingface_hub.hf_hub_download", fake.hf_hub_download)
