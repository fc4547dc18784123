"""The plate as one 3MF, through lib3mf (the 3MF Consortium's library), and the same file read back by it.

The model's unit is the millimetre (``unit="millimeter"``), so a slicer reads every number as what it is,
whatever a Blender scene's units were: Blender's own 3MF add-ons are known to write scenes 1000 times too small,
from metres taken for millimetres. Each object is a mesh object of its own, named, its vertices about its
footprint's centre with its base at Z = 0; a build item places it on the plate (a translation: slicers list each
item as an object they can move). An object with a colour has it as a base material (``<basematerials>``, the
core specification's display colour), set on the whole object.

What made the plate goes with it, as every GLB img23d writes says what made it (``gltf.made_by``): the model's
metadata names img23d (``Application``) and, under the core specification's well-known names, every model that
made any object (``Copyright``) and their licences (``LicenseTerms``); each object's own metadata group names the
models that made it (``credits``, in img23d's namespace ``CREDITS_NAMESPACE``: the specification wants every name
but its well-known ones in a namespace).

lib3mf's Python binding copies each vertex through ctypes (about a second per 100,000 vertices here): slow
beside NumPy, but it is the consortium's own writer and reader, which is why it is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

MILLIMETRE = "millimeter"
CREDITS_NAMESPACE = "urn:img23d:print:1"
CREDITS = "credits"


@dataclass
class PlateObject:
    name: str
    vertices: np.ndarray                      # (V, 3) mm about its footprint's centre, its base at Z = 0
    faces: np.ndarray                         # (T, 3)
    position: tuple[float, float]             # where its build item puts that centre on the plate (mm)
    colour: tuple[int, int, int] | None = None
    credits: str = ""                         # the models that made it, with their licences, in words


@dataclass
class PlateCredits:
    """What made the whole plate, for the model's metadata."""

    copyright: str                            # img23d and every model that made an object, each with its licence
    licence_terms: str                        # the licences' terms, each once


@dataclass
class ReadObject:
    name: str
    vertices: np.ndarray                      # on the plate: the build item's transform applied
    faces: np.ndarray
    colour: tuple[int, int, int] | None


def write_3mf(path: Path, objects: list[PlateObject], title: str, made: PlateCredits | None = None) -> None:
    import lib3mf

    wrapper = lib3mf.get_wrapper()
    model = wrapper.CreateModel()
    model.SetUnit(lib3mf.ModelUnit.MilliMeter)
    metadata = model.GetMetaDataGroup()
    metadata.AddMetaData("", "Title", title, "xs:string", False)
    metadata.AddMetaData("", "Application", "img23d", "xs:string", False)
    if made is not None:
        metadata.AddMetaData("", "Copyright", made.copyright, "xs:string", False)
        if made.licence_terms:
            metadata.AddMetaData("", "LicenseTerms", made.licence_terms, "xs:string", False)
    coloured = [item for item in objects if item.colour is not None]
    group = model.AddBaseMaterialGroup() if coloured else None
    for item in objects:
        mesh = model.AddMeshObject()
        mesh.SetName(item.name)
        if item.credits:
            mesh.GetMetaDataGroup().AddMetaData(CREDITS_NAMESPACE, CREDITS, item.credits, "xs:string", False)
        vertices = np.ascontiguousarray(item.vertices, dtype=np.float32)
        faces = np.ascontiguousarray(item.faces, dtype=np.uint32)
        mesh.SetGeometry((lib3mf.Position * len(vertices)).from_buffer(vertices),
                         (lib3mf.Triangle * len(faces)).from_buffer(faces))
        if group is not None and item.colour is not None:
            material = group.AddMaterial(item.name, wrapper.RGBAToColor(*item.colour, 255))
            mesh.SetObjectLevelProperty(group.GetUniqueResourceID(), material)
        model.AddBuildItem(mesh, wrapper.GetTranslationTransform(float(item.position[0]), float(item.position[1]),
                                                                 0.0))
    model.QueryWriter("3mf").WriteToFile(str(path))


def read_3mf(path: Path) -> tuple[str, list[ReadObject]]:
    """The file's unit (as the 3MF names it: ``millimeter``...) and its build items, each object placed."""
    import lib3mf

    wrapper = lib3mf.get_wrapper()
    model = wrapper.CreateModel()
    model.QueryReader("3mf").ReadFromFile(str(path))
    unit = {lib3mf.ModelUnit.MicroMeter: "micron", lib3mf.ModelUnit.MilliMeter: MILLIMETRE,
            lib3mf.ModelUnit.CentiMeter: "centimeter", lib3mf.ModelUnit.Inch: "inch",
            lib3mf.ModelUnit.Foot: "foot", lib3mf.ModelUnit.Meter: "meter"}.get(model.GetUnit(), "unknown")
    found: list[ReadObject] = []
    items = model.GetBuildItems()
    while items.MoveNext():
        item = items.GetCurrent()
        mesh = model.GetMeshObjectByID(item.GetObjectResourceID())
        vertices = np.array([tuple(p.Coordinates) for p in mesh.GetVertices()], dtype=np.float64).reshape(-1, 3)
        faces = np.array([tuple(t.Indices) for t in mesh.GetTriangleIndices()], dtype=np.int64).reshape(-1, 3)
        if item.HasObjectTransform():
            fields = np.array([list(row) for row in item.GetObjectTransform().Fields], dtype=np.float64)
            vertices = vertices @ fields[:3] + fields[3]  # 3MF's row-vector convention: p' = p M + t
        found.append(ReadObject(mesh.GetName(), vertices, faces, _colour(model, mesh)))
    return unit, found


def _colour(model: object, mesh: object) -> tuple[int, int, int] | None:
    import lib3mf

    resource, property_id, has = mesh.GetObjectLevelProperty()  # type: ignore[attr-defined]
    if not has:
        return None
    try:
        group = model.GetBaseMaterialGroupByID(resource)  # type: ignore[attr-defined]
    except lib3mf.ELib3MFException:  # a resource that is not a base material group: no display colour
        return None
    colour = group.GetDisplayColor(property_id)
    return int(colour.Red), int(colour.Green), int(colour.Blue)
