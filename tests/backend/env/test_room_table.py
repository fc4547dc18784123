"""The rooms' tables of swappable models (``env.room_table.RoomTable``: editors, materials, parts): a spec is
read as the model its options name, and one that names none is refused in one sentence naming the room's
models (that a row imports none of its model's code: test_model_rooms_boundary)."""

from __future__ import annotations

import pytest

from img23d_backend.editors.table import EDITOR_PACKAGES, EDITOR_TABLE
from img23d_backend.materials.table import MATERIAL_TABLE
from img23d_backend.models.specs import ModelSpec
from img23d_backend.parts.table import PARTS_PACKAGES, PARTS_TABLE, generator_of, row_of


def _spec(**options: str) -> ModelSpec:
    return ModelSpec(role="parts", repo_id="someone/something", options=dict(options))


def test_a_spec_is_the_model_its_options_name() -> None:
    [name] = PARTS_PACKAGES
    spec = _spec(parts=name)
    assert row_of(spec).name == name and generator_of(spec).name == name
    assert row_of(spec) is PARTS_TABLE.rows[name]


@pytest.mark.parametrize("table, options, sentence", [
    (PARTS_TABLE, {"parts": "partcrafter"}, "is no parts model img23d has (autopartgen)"),
    (MATERIAL_TABLE, {}, "is no material model img23d has (marigold)"),
    (EDITOR_TABLE, {"editor": "marigold"}, f"is no image editor img23d has ({', '.join(EDITOR_PACKAGES)})"),
])
def test_a_spec_naming_no_model_of_the_room_is_refused_naming_them(table, options, sentence) -> None:
    spec = _spec(**options)
    with pytest.raises(ValueError) as refused:
        table.row_of(spec)
    assert str(refused.value) == f"{spec.display} {sentence}"

