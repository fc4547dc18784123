"""The run listing an add-on reads from a backend on another machine: every field is checked
before anything uses it (protocol 1.9, ``run_list``)."""

from __future__ import annotations

import pytest

from img23d_protocol import MAX_RUN_FILES, MAX_RUNS_LISTED, ProtocolError, RunFile, RunListing, RunSummary

RUN = {"path": "/runs/20261123-101500-house", "name": "20261123-101500-house", "kind": "generate",
       "status": "finished", "image": "house scene.png", "created": "2026-11-23T10:15:00+00:00",
       "targets": ["house", "家"], "done": 2}


def test_a_listing_round_trips_and_reads_as_one_line() -> None:
    listing = RunListing(runs=(RunSummary.from_dict(RUN),))
    assert RunListing.from_dict(listing.to_dict()) == listing
    assert listing.runs[0].label == "house scene.png (2026-11-23 10:15): house, 家, 2 done, finished"
    files = RunListing(run=RUN["path"], files=(RunFile("manifest.json", 10), RunFile("crops/house.png", 5)))
    assert RunListing.from_dict(files.to_dict()) == files


@pytest.mark.parametrize("change", [{"name": ".."}, {"name": "a/b"}, {"name": ""}, {"path": 3}, {"done": -1},
                                    {"done": True}, {"targets": "house"}, {"targets": [1]}, {"image": "x" * 600},
                                    {"name": "a\nb"}])
def test_a_run_entry_with_a_bad_field_is_refused(change: dict) -> None:
    with pytest.raises(ProtocolError, match="run listing|cannot name a file"):
        RunListing.from_dict({"runs": [{**RUN, **change}]})


@pytest.mark.parametrize("path", ["../secret", "/etc/passwd", "a/../../b", "a//b", "a\\b", "C:x", "a/\x00", "./a", ""])
def test_a_run_file_that_could_leave_the_run_folder_is_refused(path: str) -> None:
    with pytest.raises(ProtocolError):
        RunListing.from_dict({"run": RUN["path"], "files": [{"path": path, "size": 1}]})


@pytest.mark.parametrize("data", [
    {"runs": [RUN] * (MAX_RUNS_LISTED + 1)},
    {"run": RUN["path"], "files": [{"path": f"f{i}", "size": 1} for i in range(MAX_RUN_FILES + 1)]},
    {"run": RUN["path"], "files": [{"path": "a", "size": 1}, {"path": "a", "size": 1}]},
    {"run": RUN["path"], "files": [{"path": f"f{i}", "size": 2 * 1024 ** 3} for i in range(5)]},
    {"run": RUN["path"], "files": [{"path": "a", "size": 3 * 1024 ** 3}]},
    {"run": "", "files": []},
    {"runs": "all"},
    [],
])
def test_listings_over_the_limits_or_malformed_are_refused(data: object) -> None:
    with pytest.raises(ProtocolError):
        RunListing.from_dict(data)
