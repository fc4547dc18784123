"""What a Generate costs on the backend's device, as the backend itself estimates it: the panel's lines above
Accept Long Job, Generate's check before it sends, and the note beside Materials. No bpy here.

The whole estimate (every stage: the picture from a prompt, grounding, completion, shape, paint, materials, the
finish, the names made in parts, the models' moves under a memory cap, the GLBs' writing) is the backend's to make,
from most of the job's options and the models it runs (protocol 1.29, ``estimates.py``): the add-on asks it with an
``EstimateRequest`` of the very fields the Generate would send, and the backend answers with the figure it weighs
that Generate by. Once the add-on multiplied the hello's costs of completion and materials itself: the panel said
nothing of a job the backend then refused for its paint, and the two could disagree either way. One estimate is
asked at a time, by the panel, again when the settings or the backend change; its answer comes through the
session's replies (pumped by a job's runner or the add-on's idle drain, which draws the panel again). Nothing here
waits: Generate refuses a long job before sending it when the panel's estimate of the very same fields has come;
otherwise (a script, a click before the answer) the backend weighs the job as it arrives, by the same estimate,
and refuses it in the same sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import img23d_protocol as protocol

ESTIMATES_SINCE = (1, 29)  # the first protocol whose backend answers an estimate request
PANEL_STAGES = 3           # the panel's lines under a long job's total: its largest stages


@dataclass
class EstimateAsk:
    """The whole estimate last asked of a backend (its ``hello``), for the request fields ``key`` says."""

    hello: Any
    key: str
    request_id: str
    estimate: "protocol.JobEstimate | None" = None
    answered: bool = False


_last: EstimateAsk | None = None
# Estimates asked and then left for newer settings before they came: their answers are taken and dropped when they
# come, so the session keeps no reply nobody will read.
_left: set[str] = set()


def costs_of(hello: Any) -> "protocol.StepCosts | None":
    """The step costs a backend's hello carried (None: no backend up, or one before protocol 1.18)."""
    return protocol.StepCosts.from_dict(getattr(hello, "costs", None)) if hello is not None else None


def answers_estimates(hello: Any) -> bool:
    """Whether the backend that sent ``hello`` answers an estimate request (1.29 and later)."""
    version = getattr(hello, "protocol", None)
    return isinstance(version, list) and len(version) >= 2 and all(isinstance(part, int) for part in version[:2]) \
        and tuple(version[:2]) >= ESTIMATES_SINCE


def whole_estimate(session: Any, request: "protocol.EstimateRequest | None",
                   ask: bool = True) -> "protocol.JobEstimate | None":
    """The running backend's whole estimate of a Generate of ``request``'s fields, once it has answered: asked once
    for these fields (and this backend) when ``ask``, never waited for (Blender's interface never blocks on the
    backend). None: no backend is up, it is older than 1.29, the answer has not come, or the backend could not
    estimate this request (the Generate will hear why)."""
    global _last
    hello = session.current_hello() if session is not None else None
    if request is None or hello is None or not answers_estimates(hello):
        return None
    key = _key(request)
    if _last is None or _last.hello is not hello or _last.key != key:
        if not ask:
            return None
        if _last is not None and not _last.answered:
            _left.add(_last.request_id)
        _last = EstimateAsk(hello=hello, key=key, request_id=session.request(request))
    _taken(session, _last)
    return _last.estimate


def estimate_arrived(session: Any) -> bool:
    """Whether the estimate asked last has just been answered (the idle drain redraws the panel then)."""
    ask = _last
    return ask is not None and not ask.answered and _taken(session, ask)


def materials_note(hello: Any) -> str:
    """Beside the Materials toggle, where the backend runs on a CPU (there the material step about
    doubles the paint time): what it costs each object; empty elsewhere, or without costs."""
    costs = costs_of(hello)
    if costs is None or not costs.on_cpu or not costs.materials_s:
        return ""
    return f"Materials: {protocol.duration(costs.materials_s)} per object on {costs.device}"


def long_job_lines(estimate: "protocol.JobEstimate | None") -> list[str]:
    """The panel's warning above Accept Long Job when the job would take hours: its total on the device, then its
    largest stages; none otherwise."""
    if estimate is None or not estimate.long:
        return []
    largest = sorted(estimate.stages, key=lambda stage: -stage.seconds)[:PANEL_STAGES]
    total = protocol.duration(estimate.total_s)
    return ["This job would take hours:", f"{total[0].upper()}{total[1:]} on {estimate.device}",
            *(f"{stage.stage} {protocol.duration(stage.seconds)}" for stage in largest)]


def refusal(estimate: "protocol.JobEstimate | None", accepted: bool) -> str:
    """Generate's one sentence when the job would take hours and Accept Long Job is not ticked (the backend's own,
    ``JobEstimate.refusal``); empty when it may start."""
    if estimate is None or not estimate.long or accepted:
        return ""
    sentence = estimate.refusal()
    return sentence[0].upper() + sentence[1:]


def _key(request: "protocol.EstimateRequest") -> str:
    """What an estimate depends on of ``request``: every field but its id and the picture's path (only whether
    there is a picture counts: without one it is made from the prompt)."""
    fields = request.to_dict()
    fields.pop("id", None)
    fields["image"] = bool(fields.get("image"))
    return protocol.dumps(fields)


def _taken(session: Any, ask: EstimateAsk) -> bool:
    """Whether ``ask`` is answered, taking its reply from the session when it has come."""
    for left in [request_id for request_id in _left if session.take_reply(request_id) is not None]:
        _left.discard(left)
    if ask.answered:
        return True
    reply = session.take_reply(ask.request_id)
    if reply is None:
        return False
    ask.answered = True
    if isinstance(reply, protocol.Result) and reply.ok:
        try:
            ask.estimate = protocol.JobEstimate.from_dict(reply.data)
        except protocol.ProtocolError:
            ask.estimate = None   # not an estimate: none is shown, and the backend weighs the Generate itself
    return True
