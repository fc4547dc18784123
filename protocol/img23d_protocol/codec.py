"""Lines to messages and back: decoding with limits, and the handshake check."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any, BinaryIO, Callable, Iterator

from .boxes import validate_boxes
from .completion import validate_completion_off
from .errors import ErrorCode, ProtocolError
from .estimates import EstimateRequest
from .messages import (Artifact, CancelRequest, Chunk, DeleteRequest, DetectRequest, DownloadRequest, Error,
                       FetchRequest, GenerateRequest, Hello, Message, ModelsRequest, Progress, RegenerateRequest,
                       PARTS_MODES, PartsRequest, Result, RetextureRequest, RetopoRequest, RIG_WEIGHTS, RigRequest,
                       RunsRequest, ShutdownRequest, StatusRequest, SuggestRequest, UploadRequest)
from .names import validate_keys, validate_targets
from .options import JobOptions
from .parted_names import validate_parts
from .parts_models import check_parts_model
from .picture import PictureRequest, check_picture_prompt
from .prints import PrintRequest, check_print_request
from .plain import NotPlainJSON, finite_number, loads
from .prompt import (check_made_from, check_picture_or_prompt, validate_image_prompt, validate_image_seed,
                     validate_prompt)
from .rig_bones import validate_bones
from .rig_levels import check_one_skeleton, validate_levels
from .version import PROTOCOL_MAJOR
from .views import validate_side_views, validate_views

MAX_LINE_BYTES = 1 << 20  # a request line above 1 MiB is refused unread


REQUEST_TYPES: dict[str, type[Message]] = {
    cls.TYPE: cls for cls in (Hello, GenerateRequest, DetectRequest, SuggestRequest, RetextureRequest, RetopoRequest,
                              PartsRequest, RigRequest, PictureRequest, PrintRequest, RegenerateRequest,
                              EstimateRequest, CancelRequest, StatusRequest, ShutdownRequest, ModelsRequest,
                              DownloadRequest, DeleteRequest, UploadRequest, FetchRequest, RunsRequest)
}
# A generate request's fields, checked alike in an estimate request (1.29), which carries the same.
_GENERATES = (GenerateRequest, EstimateRequest)
EVENT_TYPES: dict[str, type[Message]] = {
    cls.TYPE: cls for cls in (Hello, Progress, Artifact, Result, Error, Chunk)
}


@dataclass(frozen=True)
class OverlongLine:
    """A line over the limit, read and dropped in pieces: ``size`` is how many bytes it had."""

    size: int


def bounded_lines(stream: BinaryIO, limit: int = MAX_LINE_BYTES, *,
                  last_overlong: bool = False) -> Iterator[bytes | OverlongLine]:
    """The lines of ``stream`` without their line endings, the bound checked while reading: a line
    over ``limit`` bytes is never held whole (a peer printing gigabytes without a newline would
    otherwise grow this process by as much); its bytes are read and dropped ``limit`` at a time up
    to its end, and one ``OverlongLine`` stands for it. Empty lines are skipped.

    ``last_overlong``: the first piece of an over-long line ends the lines instead (its
    ``OverlongLine`` counts that piece alone), for a reader to whom such a line is the peer's last
    word: the rest of it is not waited for, and a hostile peer need never end it."""
    while True:
        piece = stream.readline(limit + 1)
        if not piece:
            return
        if piece.endswith(b"\n") or len(piece) <= limit:
            line = piece.rstrip(b"\r\n")  # at most ``limit`` bytes: readline stopped at limit + 1
            if line.strip():
                yield line
            continue
        if last_overlong:
            yield OverlongLine(len(piece))
            return
        dropped = len(piece)
        while not piece.endswith(b"\n"):
            piece = stream.readline(limit + 1)
            if not piece:
                break
            dropped += len(piece)
        yield OverlongLine(dropped)


def decode(line: str | bytes, registry: dict[str, type[Message]]) -> Message:
    """Parse one line into a message of ``registry``; raise ``ProtocolError`` on anything else."""
    if isinstance(line, bytes):
        if len(line) > MAX_LINE_BYTES:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"line is over {MAX_LINE_BYTES} bytes")
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "line is not UTF-8") from exc
    try:
        data = loads(line)
    except NotPlainJSON as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"the line {exc}") from exc
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "line is not valid JSON", str(exc)[:200]) from exc
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "a message must be a JSON object")
    version = data.get("v")
    if isinstance(version, bool) or version != PROTOCOL_MAJOR:  # true == 1 in Python
        raise ProtocolError(ErrorCode.VERSION_MISMATCH,
                            f"message is protocol version {version!r}, this side speaks {PROTOCOL_MAJOR}")
    kind = data.get("type")
    cls = registry.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"unknown message type {kind!r}")
    return _build(cls, data)


# The file and name fields a job cannot do without: a null one reached it as an internal TypeError. The others
# take null as none, as they always have (a rig's skeleton_file, a prompt's image, a parts request's mask).
NEVER_NULL = ("run", "mesh", "name")


def _build(cls: type[Message], data: dict[str, Any]) -> Message:
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name in ("v", "type"):
            continue
        if name not in known:
            continue  # newer minor versions may add fields; ignoring them keeps old peers working
        if name == "options":
            value = JobOptions.from_dict(value)
        elif name == "targets":
            value = validate_targets(value)
        elif name == "keys":
            value = validate_keys(value)
        elif name == "boxes":
            value = validate_boxes(value)
        elif name == "skeleton" and cls is RigRequest:
            value = validate_bones(value)
        elif name == "weights" and cls is RigRequest and value not in RIG_WEIGHTS:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"weights must be one of {', '.join(RIG_WEIGHTS)}")
        elif name == "also" and cls is RigRequest:
            value = validate_levels(value)
        elif name == "humanoid_names" and cls is RigRequest and not isinstance(value, bool):
            raise ProtocolError(ErrorCode.BAD_REQUEST, "humanoid_names must be true or false")
        elif name == "parts" and cls in _GENERATES:
            value = validate_parts(value)
        elif name == "model" and cls is PartsRequest:
            value = check_parts_model(value)
        elif name == "prompt" and cls in (GenerateRequest, EstimateRequest, PictureRequest):
            value = validate_prompt(value)
        elif name == "image_prompt" and cls in _GENERATES:
            value = validate_image_prompt(value)
        elif name == "image_seed" and cls in _GENERATES:
            value = validate_image_seed(value)
        elif name == "completion_off":
            value = validate_completion_off(value)
        elif name == "views":
            value = validate_views(value) if cls in _GENERATES else validate_side_views(value)
        elif name in ("id", "image", "job", "model", "mesh", "mask", "name", "run", "path", "sha256", "skeleton_file") \
                and not isinstance(value, str) and (value is not None or name in NEVER_NULL):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{name} must be a string")
        elif name == "mode" and cls is PartsRequest and value not in PARTS_MODES:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"mode must be one of {', '.join(PARTS_MODES)}")
        elif (name in ("render_size", "grid", "max_parts", "steps") and cls is PartsRequest
              or name == "parts_grid" and cls in _GENERATES) \
                and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{name} must be a whole number, 0 or more")
        elif name == "data" and cls in (UploadRequest, Chunk) and not isinstance(value, str):
            raise ProtocolError(ErrorCode.BAD_REQUEST, "data must be a base64 string")  # a result's data is an object
        elif name in ("offset", "size") and value is not None \
                and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{name} must be a whole number, 0 or more")
        elif name == "done" and not isinstance(value, bool):
            raise ProtocolError(ErrorCode.BAD_REQUEST, "done must be true or false")
        elif name == "accepted_licences" and cls is DownloadRequest \
                and not (isinstance(value, list) and all(isinstance(key, str) for key in value)):
            raise ProtocolError(ErrorCode.BAD_REQUEST, "accepted_licences must be a list of licence keys (strings)")
        elif cls in _EVENTS and not _plain_field_ok(known[name].type, value):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"its {cls.TYPE} message has a {name} of the wrong type "
                                                       f"({type(value).__name__}; {known[name].type} is meant)")
        values[name] = value
    message = cls(**values)
    if isinstance(message, GenerateRequest):
        check_picture_or_prompt(message.image, message.prompt, required=False)
        check_made_from(message.image, message.image_prompt, message.image_seed)
    elif isinstance(message, PictureRequest):
        check_picture_prompt(message.prompt)
    elif isinstance(message, RigRequest):
        check_one_skeleton(message.skeleton, message.skeleton_file)
    elif isinstance(message, PrintRequest):
        check_print_request(message)  # its numbers, names and paths, each refused in one sentence
    return message


# What the add-on reads of an event's fields, by their annotation (the messages' module defers them: strings).
# A field of another annotation (a hello's dicts, a result's data) is read by its own checked reader.
_EVENTS = frozenset(EVENT_TYPES.values())


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_FIELD_CHECKS: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "ArtifactKind | str": lambda v: isinstance(v, str),
    "str | None": lambda v: v is None or isinstance(v, str),
    "int": _whole,
    "int | None": lambda v: v is None or _whole(v),
    "bool": lambda v: isinstance(v, bool),
    "list[float] | None": lambda v: v is None or isinstance(v, list) and all(finite_number(x) for x in v),
    "list[int] | None": lambda v: v is None or isinstance(v, list) and all(_whole(x) for x in v),
}


def _plain_field_ok(annotation: Any, value: Any) -> bool:
    check = _FIELD_CHECKS.get(annotation) if isinstance(annotation, str) else None
    return check is None or check(value)


def request_id_of(line: str | bytes) -> str | None:
    """Best-effort id of a line that failed to decode, so the error can name its request. A line that is
    not UTF-8 is read with its bad bytes replaced: its id, when none of them fell in it, still names the
    refusal."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", errors="replace")  # U+FFFD where a byte was bad
    try:
        data = json.loads(line)   # not ``loads``: a line refused for a long number still names its request
    except (ValueError, RecursionError):
        return None
    value = data.get("id") if isinstance(data, dict) else None
    if not isinstance(value, str) or "\ufffd" in value:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:   # a lone surrogate: an id that could not be written back
        return None
    return value


def check_peer_hello(hello: Hello, peer: str, needed_major: int = PROTOCOL_MAJOR) -> None:
    """Raise ``version_mismatch`` with a message a user can act on."""
    # A peer's hello is not type-checked on decode: "protocol" may be anything, not just a list.
    major = hello.protocol[0] if isinstance(hello.protocol, list) and hello.protocol else None
    if major != needed_major:
        raise ProtocolError(ErrorCode.VERSION_MISMATCH, version_refusal(peer, major, hello.version, needed_major))


def version_refusal(peer: str, major: object, version: object, needed_major: int = PROTOCOL_MAJOR) -> str:
    """The one sentence for a peer of another protocol major version (its hello, or any line's ``v``)."""
    shown = version if isinstance(version, str) and version else "?"
    return (f"the {peer} speaks protocol {major!r:.20} (version {shown[:40]}), this side needs {needed_major}: "
            "reinstall so both come from the same release")


def is_known_event(line: bytes) -> bool:
    """Whether ``line`` is a JSON object of this protocol's major version naming an event type this side knows: one
    that failed to decode is then a broken backend's; an unknown type is a newer minor version's, to be skipped."""
    try:
        data = json.loads(line)
    except (ValueError, RecursionError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and data.get("v") == PROTOCOL_MAJOR and not isinstance(data.get("v"), bool) \
        and isinstance(data.get("type"), str) and data["type"] in EVENT_TYPES


def line_version(line: bytes) -> tuple[object, object]:
    """``(v, version)`` of a line that decoded as another protocol version (for ``version_refusal``)."""
    try:
        data = loads(line)
    except (ValueError, RecursionError, UnicodeDecodeError):
        return None, None
    return (data.get("v"), data.get("version")) if isinstance(data, dict) else (None, None)
