"""The riggers an artist chooses between: how a rig job finds a mesh's skeleton and skin weights (a rig
request's ``weights``), with what the add-on's panel says of each.

The add-on's Rig By is built from these rows; the backend's rigger table (``rigging/table.py``) holds one
rigger per name: tests/test_protocol_model_rows.py holds the two to each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from .licences import ModelLicence, model_licence
from .tables import by_name


@dataclass(frozen=True)
class Rigger:
    name: str                   # a rig request's ``weights``, the command line's ``--weights``
    label: str                  # what the add-on shows
    description: str            # the add-on's tooltip: what it does, its download, its licence
    repo_id: str = ""           # its model's repository (its licence row); "" for a rigger with no model
    binds_given_skeleton: bool = False   # binds the artist's armature as it is (Skin to Armature)

    @property
    def licence(self) -> ModelLicence | None:
        """Its model's licence row; None for a rigger with no model."""
        return model_licence(self.repo_id) if self.repo_id else None


# The first is a rig request's default (an older peer's rig request names none): the one with no model.
RIGGERS: dict[str, Rigger] = by_name(
    Rigger("geometric", "Geometric", "A skeleton from the shape and geodesic voxel binding: no model",
           binds_given_skeleton=True),
    Rigger("model", "SkinTokens", "SkinTokens (MIT) predicts the skeleton and its weights (downloaded on first "
                                  "use, 1.1 GB); where it cannot run, the geometric binding stands in, said",
           repo_id="VAST-AI/SkinTokens"),
)
DEFAULT_RIGGER = "model"   # what the add-on and the command line offer first


def skeleton_binder(chosen: str) -> Rigger:
    """The rigger that binds an artist's armature: ``chosen`` where it binds one as it is, else the first
    that does (a model that predicts its own skeleton cannot take the artist's)."""
    row = RIGGERS[chosen]
    return row if row.binds_given_skeleton else next(r for r in RIGGERS.values() if r.binds_given_skeleton)
