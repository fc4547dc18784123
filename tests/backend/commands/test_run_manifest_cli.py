"""The manifest the command line writes through the protocol's run record types is, key for key and in
the same order (but the owner's ``host``, ``pid_space``, ``pid_started`` and ``lease_seconds`` added since),
the one main wrote before them (tests/wire/manifests/main-f49deb6-generate.json, from the same command at
commit f49deb6), and reads back through the typed reader byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cli_inprocess import RunCli
from img23d_protocol import manifest_text, read_manifest
from testdata import HOUSE

BEFORE = Path(__file__).parents[2] / "wire" / "manifests" / "main-f49deb6-generate.json"
# The command that wrote BEFORE (its tiny shape settings, and a finish so each record has one), with the depth model it
# ran (Depth Anything V2 Small, the only one then; MoGe-2, the default since, records more in each depth entry).
ARGS = ("generate", str(HOUSE), "--targets", "house, chimney", "--models", "tiny", "--device", "cpu",
        "--steps", "3", "--octree-resolution", "32", "--face-budget", "2000", "--no-texture",
        "--topology", "triangles", "--faces", "200", "--bake-size", "128", "--depth", "da2-small")


def _shape(value: Any) -> Any:
    """The keys of ``value`` in order, all the way down (lists by their first item): what a reader relies on."""
    if isinstance(value, dict):
        return [(key, _shape(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [_shape(value[0])] if value and isinstance(value[0], (dict, list)) else []
    return None


def test_the_command_lines_manifest_has_mains_keys_and_reads_back_byte_for_byte(cli: RunCli, tmp_path: Path) -> None:
    out = cli(*ARGS, "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    [run] = [p for p in tmp_path.iterdir() if p.is_dir()]
    written = (run / "manifest.json").read_text(encoding="utf-8")
    now, before = json.loads(written), json.loads(BEFORE.read_text(encoding="utf-8"))
    # Keys added since, after "pid": the machine the run ran on, where its pid means something, the process's
    # start and its lease (a runs folder machines share); a reader of the same format from before ignores them
    # (tests/wire/test_run_record.py).
    owner = [now.pop(key) for key in ("host", "pid_space", "pid_started", "lease_seconds")]
    # And in the scene (issue 98): how the distances were set, and the layout's metric and measured floor settings
    # (a relative map: False and None), which an older reader's LayoutSettings(**layout) would not take: Regenerate
    # and Re-layout read them with this version.
    scale, metric, floor = now["scene"].pop("scale"), now["scene"]["layout"].pop("metric"), \
        now["scene"]["layout"].pop("floor")
    assert scale.startswith("relative") and metric is False and floor is None
    assert owner[0] and owner[2] > 0 and owner[3] == 30 and _shape(now) == _shape(before)
    assert [r["finish"]["method"] for r in now["records"]] == [r["finish"]["method"] for r in before["records"]]
    assert manifest_text(read_manifest(run)) == written
