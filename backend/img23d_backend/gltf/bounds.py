"""What a glTF's JSON says, counted and checked before any library builds an object of it (the rig's files).

pygltflib turns each JSON object into a dataclass at about 1.5 ms, and each number or index of a list at
about 25 us, on the 2-core CPU (under load): a 2.2 MB chain of 100,000 nodes took 72 s to be refused for
its depth, and an 8.4 MB file of 420,000 nodes still ran after 300 s. So the JSON document (a GLB's JSON
chunk is at most 64 MB, ``img23d_protocol.glb_images.MAX_JSON_BYTES``; a text glTF at most
``document.MAX_FILE_BYTES``) is read here as plain lists and dicts, each bound one sentence:

- ``MAX_NODES`` nodes, ``MAX_MESH_NODES`` of them placing a mesh (each gets a mesh and a skin of its own);
- ``MAX_OBJECTS`` glTF objects and ``MAX_LIST_ITEMS`` list items and fields in all, the ``extras`` and
  ``extensions`` aside (pygltflib keeps them as JSON, building nothing of them): at these bounds pygltflib
  builds the document in a few seconds; counted without recursion, and stopped at the bound;
- the node graph a forest of strict trees (glTF 2.0 section 3.5.3), no deeper than ``MAX_NODE_DEPTH``,
  walked up with a loop (never recursion), every index in range;
- no mesh compression the file needs (``COMPRESSIONS``), which img23d does not read;
- each skin at most ``img23d_protocol.MAX_BONES`` joints (the bones a rig's result may carry);
- the triangles the mesh nodes would give, from the accessors' counts (``document.node_triangles``).
"""

from __future__ import annotations

from typing import Any

from img23d_protocol import MAX_BONES

from .data import GltfUnreadable
from .document import node_triangles

# A character's file: a skeleton of up to MAX_BONES joints, its meshes and a few helpers, with room to spare.
MAX_NODES = 4_096
MAX_MESH_NODES = 1_024
# A 512-joint character with its mesh is about 600 objects and 7,000 list items (its nodes' transforms).
MAX_OBJECTS = 8_192
MAX_LIST_ITEMS = 131_072
# Deeper than any character's chain (a spine, a neck, a 100-bone tail or rope) by far, and well inside
# the recursion limit (1,000) that tree walks in Python, Blender's importer among them, run into.
MAX_NODE_DEPTH = 512
COMPRESSIONS = ("KHR_draco_mesh_compression", "EXT_meshopt_compression", "KHR_meshopt_compression")
_AS_JSON = ("extras", "extensions")   # kept by pygltflib as they are: no object is built of them


def check_document(document: dict, name: str, max_faces: int) -> None:
    """Refuse, in one sentence naming the file ``name`` (``GltfUnreadable``), a document past a bound of the
    module's docstring, before anything is built of it."""
    nodes = _objects(document, "nodes", name)
    if len(nodes) > MAX_NODES:
        raise GltfUnreadable(f"{name} has {len(nodes):,} nodes, more than the {MAX_NODES:,} img23d reads")
    placed = sum(1 for node in nodes if node.get("mesh") is not None)
    if placed > MAX_MESH_NODES:
        raise GltfUnreadable(f"{name} places a mesh on {placed:,} nodes, more than the {MAX_MESH_NODES:,} img23d "
                             "rigs: join them into fewer objects first")
    _check_size(document, name)
    required = document.get("extensionsRequired")
    needed = [extension for extension in required if extension in COMPRESSIONS] if isinstance(required, list) else []
    if needed:
        # Their accessors hold no data of their own: a Draco file was read as vertices all at the origin.
        raise GltfUnreadable(f"the file's meshes are compressed with {needed[0]}, which img23d does not read: "
                             "export it without mesh compression")
    check_nodes(document, nodes, name)
    for index, skin in enumerate(_objects(document, "skins", name)):
        joints = skin.get("joints")
        if isinstance(joints, list) and len(joints) > MAX_BONES:
            raise GltfUnreadable(f"{name}'s skin {index} has {len(joints):,} joints, more than the {MAX_BONES:,} "
                                 "bones img23d binds")
    said = node_triangles(document)
    if said is not None and said > max_faces:
        raise GltfUnreadable(f"the file has {said:,} triangles, more than the {max_faces:,} img23d reads: "
                             "decimate it first")


def _objects(document: dict, key: str, name: str) -> list:
    items = document.get(key)
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise GltfUnreadable(f"{name} is not read: its {key} are not a list of glTF objects")
    return items


def _check_size(document: dict, name: str) -> None:
    """At most ``MAX_OBJECTS`` objects and ``MAX_LIST_ITEMS`` list items and fields, the extras and
    extensions aside: walked with a stack, and stopped as soon as a bound is passed (a list of 30 million
    indices is refused from its length)."""
    objects = items = 0
    stack: list[Any] = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            objects += 1
            items += len(value)
            stack.extend(field for key, field in value.items() if key not in _AS_JSON)
        elif isinstance(value, list):
            items += len(value)
            stack.extend(value)
        if objects > MAX_OBJECTS:
            raise GltfUnreadable(f"{name} holds more than {MAX_OBJECTS:,} glTF objects (nodes, meshes, accessors, "
                                 "materials and the like), more than img23d reads")
        if items > MAX_LIST_ITEMS:
            raise GltfUnreadable(f"{name} lists more than {MAX_LIST_ITEMS:,} values (numbers, indices and fields), "
                                 "more than img23d reads")


def _index(value: object, count: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < count


def check_nodes(document: dict, nodes: list, name: str) -> None:
    """Refuse, in one sentence, a node graph that is not a forest of strict trees no deeper than
    ``MAX_NODE_DEPTH``, or a scene naming a node the file does not have: a parent cycle among nodes once made
    the skeleton's reader walk up forever. Each node's depth is found once, walking up with a loop."""
    count = len(nodes)
    parent: dict[int, int] = {}
    for index, node in enumerate(nodes):
        children = node.get("children") or []
        if not isinstance(children, list):
            raise GltfUnreadable(f"{name} is not read: node {index}'s children are not a list of node indices")
        for child in children:
            if not _index(child, count):
                raise GltfUnreadable(f"the file names node {child!r}, which it does not have")
            if child in parent or child == index:
                raise GltfUnreadable(f"node {child} is the child of two nodes or of itself, so the file's nodes "
                                     "are not a tree")
            parent[child] = index
    scenes = _objects(document, "scenes", name)
    for scene in scenes:
        roots = scene.get("nodes") or []
        for root in roots if isinstance(roots, list) else [roots]:
            if not _index(root, count):
                raise GltfUnreadable(f"the file names node {root!r}, which it does not have")
    chosen = document.get("scene")
    if scenes and chosen is not None and not _index(chosen, len(scenes)):
        raise GltfUnreadable(f"the file names scene {chosen!r}, which it does not have")
    depth: dict[int, int] = {}
    for start in range(count):
        path = []
        node: int | None = start
        while node is not None and node not in depth:
            path.append(node)
            if len(path) > count:
                raise GltfUnreadable(f"the file's nodes form a parent cycle (through node {start}), so they are "
                                     "not a tree")
            node = parent.get(node)
        base = depth[node] if node is not None else 0
        for steps, visited in enumerate(reversed(path), 1):
            depth[visited] = base + steps
        if depth[start] > MAX_NODE_DEPTH:
            raise GltfUnreadable(f"the file's node tree is {depth[start]:,} nodes deep, deeper than the "
                                 f"{MAX_NODE_DEPTH} img23d reads")
