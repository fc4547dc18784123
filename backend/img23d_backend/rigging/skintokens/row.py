"""SkinTokens as the rigging room's table reaches it (``rigger.Rigger``): its rig (``rigger.rig``) and what its
model brings beside it (``rigger.RigModel``: its role, spec, loader, time estimate and preflight, and its rig
through a network the model manager holds), so that no module outside this folder names it."""

from __future__ import annotations

from ..rigger import RigModel, Rigger
from .costs import estimate_here, preflight
from .replica import REPLICA
from .rigger import NAME, ROLE, full_size_spec, loader, model_folder, rig, rig_network, spec_for

RIGGER = Rigger(name="model", summary="SkinTokens (MIT): the skeleton and its weights predicted together", rig=rig,
                model=RigModel(name=NAME, role=ROLE, spec=spec_for, folder=model_folder, loader=loader,
                               estimate=estimate_here, preflight=preflight, rig_network=rig_network,
                               component="rigging", full_size_spec=full_size_spec, replica=REPLICA))
