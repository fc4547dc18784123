"""What a Generate's slow optional steps (completing hidden objects, the material step) cost on the
backend's device, from the ``costs`` its hello already carried (``img23d_protocol.costs``): the
panel's lines beside Materials and Complete Hidden, and Generate's check before it sends. No bpy
here and nothing asked of the backend: the panel's draw() calls in with the hello the session holds.
"""

from __future__ import annotations

from typing import Any

import img23d_protocol as protocol


def costs_of(hello: Any) -> "protocol.StepCosts | None":
    """The step costs a backend's hello carried (None: no backend up, or one before protocol 1.18)."""
    return protocol.StepCosts.from_dict(getattr(hello, "costs", None)) if hello is not None else None


def generate_cost(hello: Any, settings: Any) -> "protocol.JobCost | None":
    """What the panel's settings (``settings``: the scene's img23d properties, or anything with the same
    names) would cost in a Generate on the backend that sent ``hello``; None without its costs."""
    names = len(protocol.split_names(settings.targets))
    return protocol.job_cost(costs_of(hello), names, completion=settings.complete_hidden != "never",
                             materials=settings.texture and settings.materials, edit_size=int(settings.edit_size),
                             variations=settings.variations, up_to=settings.complete_hidden == "auto")


def materials_note(hello: Any) -> str:
    """Beside the Materials toggle, where the backend runs on a CPU (there the material step about
    doubles the paint time): what it costs each object; empty elsewhere, or without costs."""
    costs = costs_of(hello)
    if costs is None or not costs.on_cpu or not costs.materials_s:
        return ""
    return f"Materials: {protocol.duration(costs.materials_s)} per object on {costs.device}"


def long_job_lines(cost: "protocol.JobCost | None") -> list[str]:
    """The panel's warning above Accept Long Job when the job would take hours; none otherwise."""
    if cost is None or not cost.long:
        return []
    summary = cost.summary()
    return ["This job would take hours:", summary[0].upper() + summary[1:]]


def refusal(cost: "protocol.JobCost | None", accepted: bool) -> str:
    """Generate's one sentence when the job would take hours and Accept Long Job is not ticked; empty
    when it may start."""
    if cost is None or not cost.long or accepted:
        return ""
    summary = cost.summary()
    return (f"This job would take hours: {summary}: tick {protocol.ACCEPT_LONG_CHECKBOX} to start it anyway, "
            "or turn Complete Hidden or PBR materials off")
