"""Stages a job can go on without: texture, depth, materials and editing, skipped with one sentence that says why.

Only grounding, matting and shape make a target's mesh, so only their failures may end a target
(and none ends the others). Texture and depth serve meshes already made: when a texture model
cannot be loaded (a missing or corrupt file, keys its model does not have, no memory for it), or
the model set has no texture models at all, every target keeps its
untextured mesh; when the depth model cannot be loaded or run, the objects are placed by their
boxes. The job says so once, in one sentence: the manifest's ``texture_skipped`` /
``depth_skipped`` / ``materials_skipped``, the result's fields of the same names (the CLI's summary and Blender's report
print them), and a progress message as it happens.

A texture model that loads but fails on one target (out of memory twice, invalid values) is that
target's failure, not the model's: the target keeps its untextured mesh and says why in its own
record, and the next target is painted as usual (``jobs.kinds.generate.GenerateRun._paint``).
"""

from __future__ import annotations

import logging
from contextlib import ExitStack, contextmanager
from typing import Any, Iterator, TypeVar

from img23d_protocol import ErrorCode, ProtocolError

from ..models import placement
from ..models.oom import is_out_of_memory
from ..models.registry import PAINT_ROLES
from .step_context import StepContext

log = logging.getLogger(__name__)

# How much of a library's message a sentence quotes: enough to name the file or key.
REASON_CHARS = 240


class TextureUnavailable(ProtocolError):
    """A texture model could not be loaded; ``message`` names it and says why (a job that only
    paints, Re-texture, fails with it; a Generate goes on untextured)."""


class MaterialsUnavailable(ProtocolError):
    """The material model could not be loaded or run; ``message`` names it and says why (the objects
    keep their colour textures: ``materials_sentence``)."""


class EditorUnavailable(ProtocolError):
    """The image editor could not be loaded or run; ``message`` names it and says why (the objects are
    made from their crops as they are: ``editor_sentence``)."""


_Stopped = TypeVar("_Stopped", TextureUnavailable, MaterialsUnavailable, EditorUnavailable)


def reason(exc: BaseException) -> str:
    """Why ``exc`` stopped a model, in words for the sentence: a ``ProtocolError``'s own message,
    "it ran out of memory", or the library's exception and its message on one line."""
    if isinstance(exc, ProtocolError):
        return exc.message
    if is_out_of_memory(exc):
        return f"it ran out of memory ({type(exc).__name__})"
    one_line = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())  # torch's key lists span lines
    return f"{type(exc).__name__}: {one_line}"[:REASON_CHARS]


def _code(exc: BaseException) -> ErrorCode:
    if isinstance(exc, ProtocolError):
        return exc.code
    return ErrorCode.OUT_OF_MEMORY if is_out_of_memory(exc) else ErrorCode.INTERNAL


@contextmanager
def texture_models(manager: Any) -> Iterator[tuple[Any, ...]]:
    """The set's texture models resident for the block, in ``PAINT_ROLES`` order (Hunyuan's delight
    and paint models; the licence-clean family's paint model alone); a model that cannot be loaded
    raises ``TextureUnavailable`` (a cancel stays a cancel). When the manager's budget cannot hold them
    together (a memory cap: ``models.memory_cap``), each is resident only while it runs (``OnCall``)."""
    roles = [role for role in PAINT_ROLES if role in manager.roles]
    if len(roles) > 1 and not _together(manager, roles):
        yield tuple(OnCall(manager, role) for role in roles)
        return
    with ExitStack() as stack:
        yield tuple(_held(manager, role, lambda: stack.enter_context(manager.use(role))) for role in roles)


def _held(manager: Any, role: str, use: Any) -> Any:
    try:
        return use()
    except ProtocolError as exc:
        if exc.code is ErrorCode.CANCELLED:
            raise
        raise _unavailable(manager, role, exc) from exc
    except Exception as exc:  # the boundary of loading one texture model: any failure skips texture
        raise _unavailable(manager, role, exc) from exc


def _together(manager: Any, roles: list[str]) -> bool:
    """Whether the managed policy keeps ``roles``' models on the device together (the others' policies do)."""
    if manager.policy.value != "managed" or manager.is_cpu and manager.budget_bytes is None:
        return True
    on_device = [role for role in roles if role not in manager.role_devices]
    return sum(sum(manager.part_sizes(role).values()) for role in on_device) <= manager.budget()


class OnCall:
    """A texture model made resident for each call only, not for the whole paint block: the delight model
    leaves the device to the paint model once it has run. Its attributes (``half``, ``full_precision``)
    are read from the model, made resident for the read."""

    def __init__(self, manager: Any, role: str) -> None:
        self._manager, self._role = manager, role

    def _use(self) -> Any:
        return self._manager.use(self._role)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with ExitStack() as stack:
            model = _held(self._manager, self._role, lambda: stack.enter_context(self._use()))
            return model(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        with ExitStack() as stack:
            return getattr(_held(self._manager, self._role, lambda: stack.enter_context(self._use())), name)


def _unavailable(manager: Any, role: str, exc: BaseException) -> TextureUnavailable:
    return _stopped(f"the {role} model ({manager.spec(role).display}) could not be loaded", exc, TextureUnavailable)


def materials_unavailable(manager: Any, exc: BaseException) -> MaterialsUnavailable:
    """``exc``, which stopped the material model (not a cancel: that stays a cancel), as
    ``MaterialsUnavailable`` naming the model and why."""
    return _stopped(_model_failed(manager, "materials"), exc, MaterialsUnavailable)


def maps_unbaked(exc: BaseException) -> MaterialsUnavailable:
    """``exc``, which stopped baking the material maps into a mesh's UV layout (not a cancel), as
    ``MaterialsUnavailable`` saying so."""
    return _stopped("the material maps could not be baked into the UV layout", exc, MaterialsUnavailable)


def editor_unavailable(manager: Any, exc: BaseException) -> EditorUnavailable:
    """``exc``, which stopped the image editor (not a cancel: that stays a cancel), as
    ``EditorUnavailable`` naming the model and why."""
    return _stopped(_model_failed(manager, "editor"), exc, EditorUnavailable)


def _model_failed(manager: Any, role: str) -> str:
    return f"the {role} model ({manager.spec(role).display}) could not be loaded or run"


def _stopped(what: str, exc: BaseException, kind: type[_Stopped]) -> _Stopped:
    """``exc``, which stopped ``what`` (a model loading or running, the material maps' bake), as ``kind`` saying
    what failed and why."""
    if is_out_of_memory(exc):
        placement.release_cached_memory()
    if isinstance(exc, ProtocolError):
        # Its sentence reaches the user as the job's or the skip's own, with its code: an error line with the
        # exception's repr as well said it twice on the command line (-v shows this one).
        log.info("%s: %s", what, exc.message)
    else:  # a library's failure: its type and whole message, for a report (the sentence quotes the start)
        log.error("%s: %r", what, exc)
    return kind(_code(exc), f"{what}: {reason(exc)}", f"{type(exc).__name__}: {exc}"[:300])


def editor_sentence(error: ProtocolError) -> str:
    """The one sentence of a job whose image editor could not be loaded or run."""
    return f"editing skipped: {error.message}; every object is made from its crop as it is"


def materials_sentence(error: ProtocolError) -> str:
    """The one sentence of a job whose material model could not be loaded or run."""
    return f"materials skipped: {error.message}; every object keeps its colour texture"


def texture_sentence(error: ProtocolError) -> str:
    """The one sentence of a Generate whose texture model could not be loaded."""
    return f"texture skipped: {error.message}; every mesh is kept untextured"


def _record_once(run: StepContext, field: str, stage: str, sentence: str) -> None:
    """The manifest's ``field`` set to ``sentence`` unless already set, said in the log and as ``stage``'s progress."""
    manifest = run.run_folder.manifest
    if getattr(manifest, field):
        return
    setattr(manifest, field, sentence)
    log.warning(sentence)
    run.progress(stage, 0, 1, sentence)
    run.run_folder.save_manifest()


def skip_texture(run: StepContext, sentence: str) -> None:
    """Record, once per job, that ``run`` (a generate job) makes untextured meshes and why."""
    _record_once(run, "texture_skipped", "paint", sentence)


def skip_materials(run: StepContext, sentence: str) -> None:
    """Record, once per job, that ``run``'s objects keep their colour textures without material maps, and why."""
    _record_once(run, "materials_skipped", "paint", sentence)


def skip_depth(run: StepContext, exc: BaseException) -> None:
    """Record, once per job, that the depth model failed (``exc``) and the objects are placed by their boxes."""
    if is_out_of_memory(exc):
        placement.release_cached_memory()
    sentence = (f"depth skipped: the depth model ({run.manager.spec('depth').display}) could not be loaded or "
                f"run: {reason(exc)}; the objects are placed by their boxes")
    _record_once(run, "depth_skipped", "depth", sentence)
