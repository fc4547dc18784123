"""The licences a rig carries from its input GLB (issue 97, item 2): a credit for a repository the licence table
knows is written from the table, whatever the input claims; one for a repository it does not know (the artist's own
model) is kept as written. An input crediting Hunyuan3D-2 under "MIT, no restriction" had that claim carried, under
img23d's name, into the rigged GLB (``gltf.made_by.credits_in``, which every job's carried credits read)."""

from __future__ import annotations

import json
from pathlib import Path

from img23d_backend.commands import cli
from img23d_backend.gltf import scene as gltf_scene
from img23d_backend.gltf.made_by import MadeBy, ModelCredit, credits_in, made_by
from img23d_backend.gltf.writer import write_gltf
import glb_credits
from rig_glb_files import _textured_biped

FORGED = "MIT, no restriction"
FORGED_HUNYUAN = ModelCredit("shape", "tencent/Hunyuan3D-2", "MIT License", FORGED, "https://example.invalid/mit")
# The same repository as the hub spells it in any case: still the table's.
FORGED_MINI = ModelCredit("shape", "Tencent/hunyuan3d-2mini", "MIT License", FORGED, "https://example.invalid/mit")
ARTISTS = ModelCredit("shape", "an-artist/own-shape-model", "CC-BY-4.0", "CC-BY-4.0: credit Ann Artist",
                      "https://example.org/ann/licence", "made on Ann's own computer")


def _forged_input(tmp_path: Path) -> Path:
    gltf = gltf_scene.load(_textured_biped(tmp_path / "plain.glb"))
    write_gltf(gltf, tmp_path / "hero.glb", MadeBy((FORGED_HUNYUAN, FORGED_MINI, ARTISTS)))
    return tmp_path / "hero.glb"


def test_a_rig_credits_a_known_model_with_the_tables_licence_not_the_inputs(tmp_path: Path, capsys) -> None:
    source = _forged_input(tmp_path)
    assert FORGED in glb_credits.credits(source)["copyright"]   # the input does claim it
    assert cli.main(["rig", str(source), "--weights", "geometric", "--out", str(tmp_path / "runs")]) == 0
    capsys.readouterr()
    [run] = (tmp_path / "runs").iterdir()
    asset = glb_credits.credits(run / "hero_rigged.glb")
    assert FORGED not in asset["copyright"] and FORGED not in json.dumps(asset["extras"])
    hunyuan, mini, artists = asset["extras"]["models"]   # the geometric binding runs no model: the input's alone
    table = made_by([("shape", "tencent/Hunyuan3D-2"), ("shape", "tencent/Hunyuan3D-2mini")]).asset()
    assert [hunyuan, mini] == table["extras"]["models"]
    assert {hunyuan["licence"], mini["licence"]} == {"Tencent Hunyuan 3D 2.0 Community License"}
    assert "not licensed in the European Union, the United Kingdom and South Korea" in asset["copyright"]
    # A repository the table does not know may be the artist's own: its credit stays as the input wrote it.
    assert artists == {"role": "shape", "model": "an-artist/own-shape-model", "licence": "CC-BY-4.0",
                       "licence_terms": "CC-BY-4.0: credit Ann Artist", "licence_url": "https://example.org/ann/licence",
                       "licence_note": "made on Ann's own computer"}


def test_a_forged_credit_read_twice_is_the_tables_credit_once() -> None:
    # The table's credit and a forged one for the same repository read as one: a re-texture of a forged GLB, whose
    # job credits Hunyuan3D-2 itself, names it once, with its one licence.
    forged = MadeBy((FORGED_HUNYUAN,
                     ModelCredit("shape", " tencent/hunyuan3d-2 ", "Apache-2.0", "Apache-2.0", "https://x.invalid")))
    read = credits_in({"asset": forged.asset()})
    assert read == made_by([("shape", "tencent/Hunyuan3D-2")])
    assert read.plus(made_by([("shape", "tencent/Hunyuan3D-2")])) == read
