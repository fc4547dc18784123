"""The panel's choices of parts model and rigger, from the protocol's rows (``protocol.PARTS_MODELS``,
``protocol.RIGGERS``), as the image editors come to the preferences: Parts By, its grid and limit, Rig By,
and the licence lines said where a parts model is chosen. A second parts model or rigger is a row in the
protocol and needs no line here. No bpy: the properties build their items from it when they are defined."""

from __future__ import annotations

import img23d_protocol as protocol

SPLIT = protocol.PARTS_MODES[0]   # Parts By's first choice: cut by names with the open models, no parts model
SPLIT_ITEM = (SPLIT, "Names (open)", "Cut the mesh by the names with the open grounding and matting models: any use, "
                                     "no hidden geometry invented")

EnumItem = tuple[str, str, str]


def parts_model(method: str) -> protocol.PartsModel | None:
    """The parts model Parts By names; None for a split by names."""
    return protocol.PARTS_MODELS.get(method)


def default_parts_model() -> protocol.PartsModel:
    """The parts model that draws a Generate name's bracketed parts."""
    return protocol.PARTS_MODELS[protocol.DEFAULT_PARTS_MODEL]


def brackets_note() -> str:
    """Who draws a Generate name's bracketed parts and what its licence asks, for Names' tooltip."""
    row = default_parts_model()
    return "; ".join([row.label, *row.licence.licence.restrictions()])


def parts_method_items() -> list[EnumItem]:
    """Parts By: the split by names, then each parts model, its restrictions in its label and tooltip."""
    items = [SPLIT_ITEM]
    for row in protocol.PARTS_MODELS.values():
        licence = row.licence.licence
        label = f"{row.label} (non-commercial)" if licence.non_commercial else row.label
        items.append((row.name, label, "; ".join([f"{row.label} {row.description[:1].lower()}"
                                                  f"{row.description[1:]}", *licence.restrictions()])))
    return items


def grid_items() -> list[EnumItem]:
    """Grid: every decoding grid a parts model takes (a model's own are checked when it is sent)."""
    return [(str(n), str(n), f"Decode each part at {n} cells a side") for n in protocol.offered_grids()]


def most_parts() -> int:
    """Max Parts' upper bound: the most any parts model makes."""
    return max(row.max_parts for row in protocol.PARTS_MODELS.values())


def licence_lines(row: protocol.PartsModel) -> list[str]:
    """What the panel says where ``row`` is chosen: its licence and each restriction, for a restricted one (a
    licence may reach what its model makes); nothing for a permissive one."""
    licence = row.licence.licence
    if not licence.restricted:
        return []
    return [f"Parts by {row.label}: {licence.name}:", *licence.restrictions()]


def rigger_items() -> list[EnumItem]:
    """Rig By: each rigger, as the protocol lists them."""
    return [(row.name, row.label, row.description) for row in protocol.RIGGERS.values()]


def rig_weights(chosen: str, given_skeleton: bool) -> str:
    """The rig request's ``weights``: Rig By's rigger, or, binding the artist's armature, one that keeps it."""
    return protocol.skeleton_binder(chosen).name if given_skeleton else chosen
