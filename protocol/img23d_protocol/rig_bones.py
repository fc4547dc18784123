"""(1.22) Bones as a rig request and its result carry them: a name, a head and a tail in the mesh's own space
(Blender's axes, as the add-on's mesh file), and the index of the parent (-1 for a root). Checked on arrival,
each way: type and size, names unique (an armature's are: Blender would rename a twin, and the weights named
for it would land on the other) and parents that end at a root (Blender drops a parent that would close a
cycle). Whether they lie on the mesh the backend says."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .errors import ErrorCode, ProtocolError
from .limits import MAX_BONES, MAX_TARGET_CHARS
from .plain import finite_number


@dataclass(frozen=True)
class RigBone:
    name: str
    head: tuple[float, float, float]
    tail: tuple[float, float, float]
    parent: int = -1

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "head": list(self.head), "tail": list(self.tail), "parent": self.parent}

    @classmethod
    def from_dict(cls, data: Any, index: int, count: int) -> "RigBone":
        where = f"bone {index + 1}"
        if not isinstance(data, dict):
            raise _bad(f"{where} must be an object of name, head, tail and parent")
        name = data.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_TARGET_CHARS:
            raise _bad(f"{where}'s name must be text of 1 to {MAX_TARGET_CHARS} characters")
        points = [_point(data.get(key), f"{where}'s {key}") for key in ("head", "tail")]
        parent = data.get("parent", -1)
        if isinstance(parent, bool) or not isinstance(parent, int) or not -1 <= parent < count:
            raise _bad(f"{where}'s parent must be the index of another bone, or -1 for a root")
        return cls(name=name.strip(), head=points[0], tail=points[1], parent=parent)


def _bad(sentence: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_REQUEST, sentence)


def _point(value: Any, what: str) -> tuple[float, float, float]:
    if not (isinstance(value, (list, tuple)) and len(value) == 3 and all(finite_number(v) for v in value)):
        raise _bad(f"{what} must be three finite numbers")
    return (float(value[0]), float(value[1]), float(value[2]))


def validate_bones(value: Any) -> list[RigBone]:
    """A request's or result's bones, each checked (None or empty: no bones)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad("the skeleton must be a list of bones")
    if len(value) > MAX_BONES:
        raise _bad(f"the skeleton has {len(value)} bones; at most {MAX_BONES}")
    bones = [item if isinstance(item, RigBone) else RigBone.from_dict(item, index, len(value))
             for index, item in enumerate(value)]
    seen: dict[str, int] = {}
    for index, bone in enumerate(bones):
        if bone.name in seen:
            raise _bad(f"bones {seen[bone.name] + 1} and {index + 1} are both named {bone.name!r}: each bone needs a "
                       "name of its own")
        seen[bone.name] = index
    looped = cycle_start([bone.parent for bone in bones])
    if looped is not None:
        raise _bad(f"the bones' parents form a cycle through {bones[looped].name!r}: each chain of parents must end "
                   "at a root (parent -1)")
    return bones


def cycle_start(parents: Sequence[int]) -> int | None:
    """The first joint whose chain of parents (each an index into ``parents``, -1 for a root) never reaches a
    root, or None where every chain does: walking up from a joint of a forest reaches its root within as many
    steps as there are joints, and a cycle never does. The backend's skeletons are checked by it too."""
    for start in range(len(parents)):
        joint, steps = start, 0
        while joint != -1:
            joint, steps = parents[joint], steps + 1
            if steps > len(parents):
                return start
    return None


__all__ = ["RigBone", "cycle_start", "validate_bones"]
