"""SkinTokens' row (``rigger.RiggerRow``): its pinned files on the hub and its tiny replica's folder, facts with no
code, so that the model list and ``models download rigging/model`` name it without importing its networks (torch:
seconds); ``rigger.py`` rigs with them."""

from __future__ import annotations

from ...models.specs import ModelSpec
from ..facts import RiggerRow
from .config import CHECKPOINT_FILE, CHECKPOINT_SHA256, FILES, REPO_ID, REVISION

ROLE = "rigging"   # its role in the model manager (a rig job registers it on first use)
SPEC = ModelSpec(role=ROLE, repo_id=REPO_ID, revision=REVISION, allow_patterns=FILES, exact_files=True,
                 size_bytes=1_600_000_000, options={"sha256": {CHECKPOINT_FILE: CHECKPOINT_SHA256}})
ROW = RiggerRow(name="model", spec=SPEC, tiny_folder="skintokens", tiny_bytes=8 << 20)
