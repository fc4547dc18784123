"""bench/chain.py's split of a target's seconds between the host and the device (issue 89: the critical path in
the JSON), on the first textured target of the lent H200's run (``bench/results/chain-full-size-gpu-h200.json``)."""

from __future__ import annotations

import json
import sys

import pytest

from testdata import REPO

sys.path.insert(0, str(REPO / "bench"))

from chain import sides  # noqa: E402  (bench/chain.py)


def test_a_targets_seconds_are_split_between_the_host_and_the_device() -> None:
    runs = json.loads((REPO / "bench" / "results" / "chain-full-size-gpu-h200.json").read_text())["runs"]
    first = next(job for job in runs["managed"] if job["textured"])["target_seconds"][0]
    split = sides(first)
    # clean-up 2.71, the UV wait 13.50, the fill 5.24, the export 2.94 on the host; delight 2.67, renders 2.30,
    # multiview 1.65, bake 2.59, materials 13.77 on the device.
    assert split["host_s"] == pytest.approx(24.3915, abs=1e-3)
    assert split["device_s"] == pytest.approx(22.9805, abs=1e-3)
    assert split["other_s"] == 0.0
    assert split["waits_s"] == pytest.approx(13.50, abs=0.01)  # the job's thread waiting for xatlas: on the path
    assert sides({"cleanup": 1.0, "something_new": 2.0}) == {"host_s": 1.0, "device_s": 0.0, "other_s": 2.0,
                                                             "waits_s": 0.0}
