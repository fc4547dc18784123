"""Pictures and command lines the batch tests share."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from testdata import FAST_OPTIONS, HOUSE

FAST_FLAGS = ["--models", "tiny", "--device", "cpu", "--steps", str(FAST_OPTIONS["steps"]),
              "--octree-resolution", str(FAST_OPTIONS["octree_resolution"]),
              "--face-budget", str(FAST_OPTIONS["face_budget"]), "--no-texture", "--worker-threads", "1"]


def pictures(folder: Path, count: int, corrupt: bool = False) -> Path:
    """``count`` small, different pictures of the house (and a file that only claims to be one)."""
    folder.mkdir(parents=True, exist_ok=True)
    house = Image.open(HOUSE).convert("RGB")
    for index in range(count):
        house.resize((96 + 16 * index, 96 + 16 * index)).save(folder / f"picture-{index}.png")
    if corrupt:
        (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n but nothing after the signature")
    return folder


def batch(env: dict[str, str], *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "img23d_backend", "batch", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def record(out: Path) -> dict:
    return json.loads((out / "batch.json").read_text())


def by_name(out: Path) -> dict[str, dict]:
    return {Path(p["image"]).name: p for p in record(out)["pictures"]}


def manifests(out: Path) -> dict[str, dict]:
    """Every run folder's manifest, by folder name."""
    return {m.parent.name: json.loads(m.read_text()) for m in out.glob("*/manifest.json")}


# A batch through the Python API in a process of its own: at the batch's start event (every picture
# planned and hashed, none handed out yet) it deletes one picture and rewrites another, as a person or
# another program might while a long batch runs. sys.argv: folder, out, gone, changed (a picture
# whose bytes it takes), donor (the picture whose bytes), workers, ray address ("" for none), options (JSON).
CHANGED_DURING = r"""
import json, shutil, sys
from pathlib import Path
from img23d_backend import api
folder, out, gone, changed, donor, workers, ray, options = sys.argv[1:9]

def on_event(event):
    if event.kind == "start":
        Path(gone).unlink()
        shutil.copyfile(donor, changed)

report = api.batch([folder], out=out, options=api.JobOptions(**json.loads(options)),
                   models=api.Models(models="tiny", device="cpu"), workers=int(workers), threads=1,
                   ray_address=ray or None, on_event=on_event)
print(report.status)
"""


def batch_changing_pictures(env: dict[str, str], folder: Path, out: Path, gone: Path, changed: Path, donor: Path,
                            workers: int, ray: str = "", timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``CHANGED_DURING``: ``gone`` is deleted and ``changed`` takes ``donor``'s bytes once the batch
    has started."""
    try:
        return subprocess.run([sys.executable, "-c", CHANGED_DURING, str(folder), str(out), str(gone), str(changed),
                               str(donor), str(workers), ray, json.dumps(FAST_OPTIONS)],
                              env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"the batch did not end within {timeout:g} s: {exc.stderr!r}") from exc


def check_changed_during(out: Path, gone: Path, changed: Path, donor: Path) -> None:
    """After ``batch_changing_pictures``: the deleted picture failed alone, in the sentence a missing picture
    gets everywhere, every other picture was made, and the rewritten one is recorded by the bytes it was made
    from (what its run's manifest says), not by the bytes the batch first hashed."""
    entries = by_name(out)
    assert {name: entry["status"] for name, entry in entries.items()} == {
        gone.name: "failed", **{name: "done" for name in entries if name != gone.name}}, entries
    assert entries[gone.name]["error"] == {"code": "image_unreadable", "message": f"no file at {gone.resolve()}"}
    made = hashlib.sha256(donor.read_bytes()).hexdigest()
    entry = entries[changed.name]
    assert entry["sha256"] == made, "the record keeps the hash of bytes that were not the ones made"
    assert manifests(out)[entry["run_dir"]]["image"]["sha256"] == made
    assert record(out)["status"] == "finished"

