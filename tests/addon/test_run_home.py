"""One way to bring a run home: the same hostile run, played on both roads, is refused in the same
words and leaves nothing behind. Road one: Import Run from Host (``img23d_client.remote_runs.RunDownload``,
the backend's listing then each file fetched through the wire format). Road two: the batch
driver's import of a Ray worker's run folder sent back as bytes (``runs/imports.import_run``).
Both go through ``img23d_protocol.run_import``; tests/wire/test_run_import.py tests it alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from fetch_replies import played_download
from img23d_backend.runs.imports import import_run
from img23d_client import transfer

protocol = transfer.protocol

REMOTE = "/srv/gpu/img23d-runs"
RUN = f"{REMOTE}/20261124-120000-house"
MANIFEST = {"manifest.json": b'{"status": "finished"}'}


def _over_ssh(local: Path, files: dict[str, bytes], limits=None) -> str:
    """Import Run from Host of a run holding ``files``; the download's error ('' when it came home)."""
    download = played_download(transfer.Mirror(REMOTE, local), RUN, files, limits)
    assert download.done, "the download neither ended nor failed"
    return download.error


def _from_ray(out: Path, files: dict[str, bytes], limits=None) -> str:
    """The driver's import of a worker's run holding ``files``; its error ('' when it came home)."""
    try:
        import_run(out, "20261124-120000-house", files, *([limits] if limits else []))
    except protocol.ProtocolError as exc:
        return exc.message
    return ""


ROADS = [pytest.param(_over_ssh, id="ssh"), pytest.param(_from_ray, id="ray")]
HOSTILE = [  # (files besides the manifest, limits, what the refusal says)
    pytest.param({"../escape.glb": b"x"}, None, "would leave its run folder", id="traversal"),
    pytest.param({"crops/../../escape.glb": b"x"}, None, "would leave its run folder", id="traversal-inside"),
    pytest.param({"/tmp/absolute.glb": b"x"}, None, "would leave its run folder", id="absolute"),
    pytest.param({"a\\..\\escape.glb": b"x"}, None, "a separator", id="backslash"),
    pytest.param({"a/./../../x.glb": b"x"}, None, "would leave its run folder", id="dot-parts"),
    pytest.param({"C:/windows.glb": b"x"}, None, "a separator", id="drive"),
    pytest.param({"": b"x"}, None, "an empty path", id="empty"),
    pytest.param({"nul\0byte.glb": b"x"}, None, "a control character", id="nul-byte"),
    pytest.param({"nul.glb": b"x"}, None, "Windows device name", id="device"),
    pytest.param({"views/CON/v.png": b"x"}, None, "Windows device name", id="device-folder"),
    pytest.param({"a.glb.": b"x"}, None, "ends with a dot", id="trailing-dot"),
    pytest.param({".bashrc": b"x"}, None, "hidden file", id="hidden"),
    pytest.param({"House.glb": b"a", "house.glb": b"b"}, None, "only by case", id="case-twins"),
    pytest.param({"caf\u00e9.png": b"a", "cafe\u0301.png": b"b"}, None, "Unicode normalisation", id="nfc-twins"),
    pytest.param({"crops": b"a", "crops/a.png": b"b"}, None, "both as a file and as a folder", id="file-and-folder"),
    pytest.param({"a.glb": b"1", "b.glb": b"2"}, (2, 1 << 20, 1 << 20), "at most 2 files", id="too-many-files"),
    pytest.param({"a.glb": b"1" * 40}, (10, 50, 1 << 20), "one run may bring at most 50", id="too-many-bytes"),
    pytest.param({"a.glb": b"1" * 40}, (10, 1 << 20, 30), "up to 30", id="file-too-big"),
]


@pytest.mark.parametrize("road", ROADS)
@pytest.mark.parametrize("extra, limits, says", HOSTILE)
def test_a_hostile_run_is_refused_the_same_way_on_both_roads_and_writes_nothing(
        tmp_path: Path, road, extra: dict[str, bytes], limits, says: str) -> None:
    local = tmp_path / "here" / "runs"
    local.mkdir(parents=True)
    run_limits = protocol.RunLimits(*limits) if limits else None
    error = road(local, {**MANIFEST, **extra}, run_limits)
    assert says in error, error
    assert list(local.iterdir()) == [], "a refused run left a folder behind"
    assert not list(tmp_path.rglob("escape.glb")) and not Path("/tmp/absolute.glb").exists()


@pytest.mark.parametrize("road", ROADS)
def test_an_honest_run_comes_home_into_a_fresh_folder_on_both_roads(tmp_path: Path, road) -> None:
    (tmp_path / "20261124-120000-house").mkdir()
    (tmp_path / "20261124-120000-house" / "house.glb").write_bytes(b"the artist's own")
    files = {"house.glb": b"glTF" * 100, "crops/house.png": b"png", **MANIFEST,
             ".tmp-killed.glb": b"half"}  # a killed write's leftover: not a result, left behind
    error = road(tmp_path, files)
    assert error == ""
    assert (tmp_path / "20261124-120000-house" / "house.glb").read_bytes() == b"the artist's own"
    home = tmp_path / "20261124-120000-house-2"
    assert sorted(p.relative_to(home).as_posix() for p in home.rglob("*")) == [
        "crops", "crops/house.png", "house.glb", "manifest.json"]
    assert (home / "house.glb").read_bytes() == b"glTF" * 100
