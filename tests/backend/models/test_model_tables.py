"""Every model of every table is in ``models`` and can be named to ``models download`` (issue 87 item 8).

SkinTokens, the rigging room's model, was in no list: ``models`` named the tables by hand and missed the room, so
it could not be fetched before the first rig. The tables are found here as the backend keeps them, not from the
listing's own list: each room's ``table.py`` and its tables of rows (``ROW``: a model's facts and spec), the riggers
that run a model, each family's rows and the shared roles' tables.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

import img23d_backend
from img23d_backend.commands import cli
from img23d_backend.env.lazy_table import LazyTable
from img23d_backend.families.table import FAMILY_MODULES, facts_of
from img23d_backend.catalog import DEPTH, GROUNDING, MATTING, ModelSpec
from img23d_backend.rigging.table import RIGGERS


def _room_tables() -> list[LazyTable]:
    """Every lazy table of every ``<room>/table.py`` in the backend."""
    root = Path(img23d_backend.__file__).parent
    modules = [importlib.import_module("img23d_backend." + ".".join(path.relative_to(root).with_suffix("").parts))
               for path in sorted(root.rglob("table.py"))]
    return [value for module in modules for value in vars(module).values() if isinstance(value, LazyTable)]


def _table_specs(tmp_path: Path) -> dict[str, ModelSpec]:
    specs: list[ModelSpec] = [*GROUNDING.values(), *MATTING.values(), *DEPTH.values()]
    for table in _room_tables():
        if table._attribute == "ROW":   # a room's rows: each model's facts and spec, no code
            specs.extend(row.spec for row in table.values())
    specs.extend(rigger.model.spec("default", tmp_path) for rigger in RIGGERS.values() if rigger.model is not None)
    specs.extend(spec for family in FAMILY_MODULES for rows in facts_of(family).rows.values()
                 for spec in rows.values())
    return {spec.display: spec for spec in specs}


def test_every_table_row_is_listed(hub_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["models", "--json"]) == 0
    listed = {row["id"]: row["name"] for row in json.loads(capsys.readouterr().out)["models"]}
    expected = _table_specs(tmp_path)
    assert any(spec.role == "rigging" for spec in expected.values())  # the room the list missed
    missing = sorted(set(expected) - set(listed))
    assert not missing, f"models in a table that `models` does not list: {missing}"
    assert listed[next(display for display, spec in expected.items() if spec.role == "rigging")] == "rigging/model"


def test_the_rigging_model_can_be_named_to_models_download(hub_cache: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Offline and not in the cache: it is looked for (exit 1, not downloaded), not refused as an unknown name (2)."""
    assert cli.main(["models", "download", "rigging/model", "--offline"]) == 1
    error = capsys.readouterr().err
    assert "[model_missing]" in error and "VAST-AI/SkinTokens" in error, error


def test_the_depth_model_is_chosen_on_the_command_line_and_in_either_set(tmp_path: Path) -> None:
    """``--depth`` (issue 98): its choices are the depth room's rows, MoGe-2 the default; the real and the tiny set
    both take it, and a batch's options key names it unless it is Depth Anything V2 Small (batches keyed before the
    choice, which ran it, resume)."""
    from img23d_backend.catalog import model_set
    from img23d_backend.session import Models

    args = cli.build_parser().parse_args(["generate", "picture.png", "--depth", "moge2-vits-normal"])
    models = Models.from_args(args)
    assert models.depth == "moge2-vits-normal" and models.describe()["depth"] == "moge2-vits-normal"
    assert "depth" not in Models(depth="da2-small").describe()   # a batch keyed before --depth ran it
    assert Models().describe()["depth"] == "moge2-vits-normal"    # the default since issue 98, named
    assert model_set("default", depth="moge2-vits-normal").depth.repo_id == "Ruicheng/moge-2-vits-normal"
    tiny = model_set("tiny", tiny_root=tmp_path, depth="moge2-vits-normal").depth
    assert tiny.local_path is not None and tiny.local_path.parent == tmp_path and tiny.options["depth"] == \
        "moge2-vits-normal"
    assert model_set("tiny", tiny_root=tmp_path).depth.options["depth"] == "moge2-vits-normal"   # the default
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["generate", "picture.png", "--depth", "da2-large"])
