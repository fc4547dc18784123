"""The lines a real family adds to the protocol's three files (tests/backend/families/test_family_second.py sets
them there): its family row (``families.py``), its shape model's kind (``shape_models.py``) and its licences
(``licences.py``). Its paint model's kind is the family's own (no --paint choice: ``specs``), as the licence-clean
family's is."""

from __future__ import annotations

from img23d_protocol import ModelFamily, PaintModelKind, ShapeModelKind
from img23d_protocol.licences import MIT, REPLICA, ModelLicence

NAME = "silhouette"
SHAPE_NAME = "silhouette"
PAINT_NAME = "front-projection"
SHAPE_REPO = "test/silhouette"
PAINT_REPO = "test/front-projection"

# Its replica is the model itself (a few known numbers): the tiny set shapes with the same kind.
ROW = ModelFamily(NAME, "Silhouette (a test family)", shape=SHAPE_NAME, tiny_shape=SHAPE_NAME, paints=True,
                  paint_label="Front projection")
SHAPE_KIND = ShapeModelKind(SHAPE_NAME, "Silhouette extrusion", steps=1, embedded_guidance=True, guidance=1.0,
                            family=NAME, octree=32)
PAINT_KIND = PaintModelKind(PAINT_NAME, "Front projection", steps=1, max_steps=1, turbo=False, family=NAME)
LICENCES = tuple(licence for repo in (SHAPE_REPO, PAINT_REPO) for licence in (
    ModelLicence(repo, MIT, stated_in="README.md"),
    ModelLicence(f"tiny/{repo.split('/')[1]}", REPLICA, stated_in="", replicates=repo)))
