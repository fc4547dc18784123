"""Run folders made in tests: a job's manifest, and the temporary files an atomic write leaves."""

from __future__ import annotations

from pathlib import Path

from img23d_backend.runs.folders import Manifest


def manifest(**overrides) -> Manifest:
    values = dict(job_id="job-1", kind="generate", backend_version="0.1.0")
    values.update(overrides)
    return Manifest(**values)


def tmp_leftovers(root: Path) -> list[Path]:
    return sorted(root.rglob(".tmp-*"))
