"""The parts models and riggers the add-on offers are the protocol's rows, and the protocol's rows are the
backend's tables (issue 75 item 1): each name the add-on can send is one the backend has, each licence the
panel states is the licence of the model that runs, and the limits the panel offers are the ones the backend
checks (they are the same row). The add-on's side (its choices built from these rows) is
tests/blender/test_addon_parts.py's."""

from __future__ import annotations

from pathlib import Path

import img23d_protocol as protocol
import pytest
from img23d_backend.depth.table import DEFAULT_DEPTH, DEPTH_PACKAGES, DEPTH_ROWS
from img23d_backend.grounding.table import DEFAULT_GROUNDING, GROUNDING_PACKAGES, GROUNDING_ROWS
from img23d_backend.matting.table import DEFAULT_MATTING, MATTING_PACKAGES, MATTING_ROWS
from img23d_backend.parts.table import DEFAULT_PARTS, PARTS_PACKAGES, PARTS_ROWS
from img23d_backend.rigging.table import RIGGER_MODULES, RIGGERS


def test_the_parts_models_rows_are_the_backends_parts_table() -> None:
    assert list(protocol.PARTS_MODELS) == list(PARTS_PACKAGES)
    assert protocol.DEFAULT_PARTS_MODEL == DEFAULT_PARTS
    for name, row in protocol.PARTS_MODELS.items():
        assert row.repo_id == PARTS_ROWS[name].spec.repo_id, name   # the licence the panel says is the model's
        assert row.licence.licence.non_commercial == protocol.model_licence(row.repo_id).licence.non_commercial
        # What the panel offers is what the backend takes: every request is checked against this row
        # (parts.part.check_limits; tests/backend/parts/test_parts_model.py's second model has limits of its own).
        assert row.default_grid in row.grids and row.max_parts >= 1, name


def test_the_riggers_rows_are_the_backends_rigger_table() -> None:
    assert set(protocol.RIGGERS) == set(RIGGER_MODULES)
    assert protocol.RIG_WEIGHTS == tuple(protocol.RIGGERS)   # what a rig request may name
    for name, row in protocol.RIGGERS.items():
        model = RIGGERS[name].model   # a model's files: the hub's spec (the tiny root is not read for it)
        assert row.repo_id == (model.spec("default", Path()).repo_id if model is not None else ""), name
        assert row.licence is None if not row.repo_id else row.licence.repo_id == row.repo_id


def test_an_armature_is_bound_by_a_rigger_that_keeps_it() -> None:
    binders = [row.name for row in protocol.RIGGERS.values() if row.binds_given_skeleton]
    assert binders, "some rigger must bind an artist's armature (Skin to Armature)"
    for name, row in protocol.RIGGERS.items():
        assert protocol.skeleton_binder(name).name == (name if row.binds_given_skeleton else binders[0])


def test_a_rig_request_naming_no_rigger_the_protocol_has_is_one_sentence() -> None:
    line = protocol.RigRequest(id="r1", mesh="m.npz", weights="model").to_line().replace('"model"', '"unirig"')
    with pytest.raises(protocol.ProtocolError, match="weights must be one of geometric, model"):
        protocol.decode(line, protocol.REQUEST_TYPES)


@pytest.mark.parametrize("rows, packages, backend_rows, default, backend_default", [
    (protocol.GROUNDING_MODELS, GROUNDING_PACKAGES, GROUNDING_ROWS, protocol.DEFAULT_GROUNDING_MODEL, DEFAULT_GROUNDING),
    (protocol.MATTING_MODELS, MATTING_PACKAGES, MATTING_ROWS, protocol.DEFAULT_MATTING_MODEL, DEFAULT_MATTING),
    (protocol.DEPTH_MODELS, DEPTH_PACKAGES, DEPTH_ROWS, protocol.DEFAULT_DEPTH_MODEL, DEFAULT_DEPTH),
], ids=["grounding", "matting", "depth"])
def test_the_shared_models_rows_are_the_backends_rooms(rows, packages, backend_rows, default, backend_default) -> None:
    """The add-on's Grounding and Matting choices (and the command line's help) are the protocol's rows: each names
    a model of the backend's room, its repository the one whose licence applies, the defaults the same."""
    assert list(rows) == list(packages) and default == backend_default
    for name, row in rows.items():
        assert row.repo_id == backend_rows[name].spec.repo_id, name
        assert row.licence is not None and row.licence.repo_id == row.repo_id, name
