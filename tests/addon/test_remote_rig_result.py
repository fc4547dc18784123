"""Issue 73 item 5: a remote rig's result names its rigged GLB and weights file, and a parts model's result its
part mask, relative to the run; over SSH only ``manifest.json`` came back, so Rig Selected and Skin to Selected
Armature could never finish on a remote backend and the mask's preview was never shown. Each is now fetched into
the local run as every result file is (sizes and checksums checked), and every name the host sends is untrusted:
one that leaves the run is the job's error and never reaches the caller. Played against ``RemoteJob`` with the
protocol's own messages, through the wire format."""

from __future__ import annotations

from pathlib import Path

import pytest
from fetch_replies import fetch_answer, wire

from img23d_client import remote_jobs, transfer
protocol = transfer.protocol

REMOTE = "/srv/gpu/img23d-runs"
RUN = f"{REMOTE}/20261127-120000-hero-rig"
HERE = "20261127-120000-hero-rig"


def _play(local: Path, request, result: dict) -> tuple[list, list[str]]:
    """The job's messages handed on, and the host paths it fetched (each answered with its own path's bytes)."""
    job = remote_jobs.RemoteJob(request, transfer.Mirror(REMOTE, local), "gpu-box")
    out: list = []
    fetched: list[str] = []
    for message in (protocol.Artifact(job=request.id, kind="run", path=RUN), protocol.Result(id=request.id,
                                                                                               data=result)):
        send, arrived = job.handle(wire(message))
        out.extend(arrived)
        for fetch in send:
            fetched.append(fetch.path)
            for reply in fetch_answer(fetch.id, f"bytes of {fetch.path}".encode()):
                more, arrived = job.handle(reply)
                assert not more
                out.extend(arrived)
    return out, fetched


def _rig(**fields: str) -> dict:
    return {"run_dir": RUN, "manifest": f"{RUN}/manifest.json", "rigged": "hero_rigged.glb",
            "weights": "hero_weights.npz", "bones": [{"name": "root", "head": [0, 0, 0], "tail": [0, 0, 1]}],
            "source": "shape", "vertices": 8, **fields}


def _parts(**fields: str) -> dict:
    return {"run_dir": RUN, "manifest": f"{RUN}/manifest.json", "parts": [], "faces": 12, "note": "",
            "model": "AutoPartGen", "mask": "part_mask.png", **fields}


def test_a_remote_rig_brings_its_weights_and_rigged_glb_into_the_local_run(tmp_path: Path) -> None:
    out, fetched = _play(tmp_path, protocol.RigRequest(id="job-1", mesh="/srv/gpu/img23d-runs/_uploads/m.npz",
                                                       name="hero"), _rig())
    assert not [m.message for m in out if isinstance(m, protocol.Error)]
    [result] = [m for m in out if isinstance(m, protocol.Result)]
    data = protocol.RigJobResult.from_dict(result.data)
    here = tmp_path / HERE
    assert Path(data.run_dir) == here and (data.rigged, data.weights) == ("hero_rigged.glb", "hero_weights.npz")
    assert (here / data.weights).read_bytes() == f"bytes of {RUN}/hero_weights.npz".encode()
    assert (here / data.rigged).read_bytes() == f"bytes of {RUN}/hero_rigged.glb".encode()
    assert sorted(fetched) == [f"{RUN}/hero_rigged.glb", f"{RUN}/hero_weights.npz", f"{RUN}/manifest.json"]


def test_a_remote_parts_models_mask_comes_back_for_its_preview(tmp_path: Path) -> None:
    out, fetched = _play(tmp_path, protocol.PartsRequest(id="job-2", mesh="/srv/m.npz", name="hero", mode="model"),
                         _parts())
    [result] = [m for m in out if isinstance(m, protocol.Result)]
    assert protocol.PartsJobResult.from_dict(result.data).mask == "part_mask.png"
    assert (tmp_path / HERE / "part_mask.png").read_bytes() == f"bytes of {RUN}/part_mask.png".encode()
    assert f"{RUN}/part_mask.png" in fetched


@pytest.mark.parametrize("request_of, result, named", [
    ("rig", _rig(weights="../../../home/me/.ssh/id_rsa"), "'../../../home/me/.ssh/id_rsa'"),
    ("rig", _rig(rigged="/etc/passwd"), "'/etc/passwd' is not a path relative to the job's run folder"),
    ("rig", _rig(weights="sub/../../other-run/w.npz"), "'sub/../../other-run/w.npz'"),
    ("parts", _parts(mask="../20261127-110000-other/part_mask.png"), "'../20261127-110000-other/part_mask.png'"),
    ("rig", _rig(weights=".hidden.npz"), "'.hidden.npz'"),
])
def test_a_file_name_that_leaves_the_run_is_the_jobs_error_and_fetches_nothing(tmp_path: Path, request_of: str,
                                                                               result: dict, named: str) -> None:
    request = (protocol.RigRequest(id="job-3", mesh="/srv/m.npz") if request_of == "rig"
               else protocol.PartsRequest(id="job-3", mesh="/srv/m.npz", mode="model"))
    out, fetched = _play(tmp_path, request, result)
    assert not any(isinstance(m, protocol.Result) for m in out) and fetched == []
    [error] = [m for m in out if isinstance(m, protocol.Error)]
    assert named in error.message and error.message.startswith("a file could not be brought back from gpu-box")
    assert [p.name for p in (tmp_path / HERE).iterdir()] == []
