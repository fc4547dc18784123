"""AutoPartGen keeps the parts role's contract (role_contracts.PartsContract) with its tiny replica from the
shared tiny set: a box 4 tall in glTF's axes, at most two parts at a coarse grid and two steps (the fewest
that make a part from the replica's random weights: one step decodes to nothing)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from img23d_backend.parts.part import PartsRequest
from role_contracts import PartsContract, PartsSubject


class TestAutoPartGenContract(PartsContract):
    @pytest.fixture(scope="class")
    @classmethod
    def parts_subject(cls, tiny_root: Path) -> PartsSubject:
        box = trimesh.creation.box((1.0, 4.0, 2.0))
        vertices, faces = np.float32(box.vertices), np.int64(box.faces)
        good = PartsRequest(vertices=vertices, faces=faces, max_parts=2, seed=3, grid=16, steps=2)
        return PartsSubject("autopartgen", tiny_root, good,
                            PartsRequest(vertices=vertices, faces=np.zeros((0, 3), np.int64), grid=16, steps=2))
