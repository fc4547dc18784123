"""A model on another device than the rest: ``--device-for grounding=cpu`` (what the first design did to
fit a 10 GB card: the grounding model in RAM, the other models on the GPU).

Which roles may move (``MOVABLE_ROLES``: those whose stages send their inputs to wherever their model's
weights are), the command line's spelling of a choice (``device_for_argument``), the devices themselves
(``pick_role_devices``), and the memory a role kept in RAM takes from the RAM the other stages count on
(``ram_held``, ``check_ram_roles``): the preflight counts each device's memory apart, RAM for a role on
the CPU, the GPU's for the rest. The model manager places each role on its device (``ModelManager.device_of``).
"""

from __future__ import annotations

import argparse
from typing import Any

from img23d_protocol import ErrorCode, ProtocolError

from ..env.device import pick_device
from .preflight import GB, RESERVE_BYTES, Room

# The stages of these send their inputs to their model's own device (grounding: the model's; matting and
# depth: its first parameter's), so their model may live elsewhere than the others.
MOVABLE_ROLES = ("grounding", "matting", "depth")


def device_for_argument(text: str) -> tuple[str, str]:
    """``--device-for ROLE=DEVICE``: the role and the device's name (the device is checked when the engine
    starts: ``pick_role_devices``)."""
    role, separator, device = (part.strip() for part in text.partition("="))
    if not separator or not role or not device:
        raise argparse.ArgumentTypeError(f"must be ROLE=DEVICE, e.g. grounding=cpu, not {text!r}")
    if role not in MOVABLE_ROLES:
        raise argparse.ArgumentTypeError(f"{role!r} cannot be placed on its own device; choose from "
                                         f"{', '.join(MOVABLE_ROLES)}")
    return role, device.lower()


def pick_role_devices(device_for: dict[str, str], device: Any) -> dict[str, Any]:
    """Each role's device (``env.device.pick_device``: an unknown or absent device is one sentence), those
    equal to ``device`` left out: they are placed with the others."""
    picked: dict[str, Any] = {}
    for role, name in device_for.items():
        if role not in MOVABLE_ROLES:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{role!r} cannot be placed on its own device; choose from "
                                                       f"{', '.join(MOVABLE_ROLES)}")
        try:
            where = pick_device(name)
        except ProtocolError as exc:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"--device-for {role}={name}: {exc.message}") from exc
        if where != device:
            picked[role] = where
    return picked


def ram_held(sizes: dict[str, int], role_devices: dict[str, Any], device: Any) -> int:
    """The bytes the roles kept in RAM hold there for good beside a GPU (``sizes``: each role's weights in
    the dtype it runs in there): RAM the other stages cannot count on."""
    if getattr(device, "type", str(device)) != "cuda":
        return 0  # one memory: every model is counted in it already
    return sum(sizes.get(role, 0) for role, where in role_devices.items() if getattr(where, "type", str(where)) == "cpu")


def beside_ram(room: Room, held: int) -> Room:
    """``room`` with ``held`` bytes of RAM taken by the models kept there (the GPU's memory untouched)."""
    return Room(host=max(0, room.host - held), device=room.device, shared=room.shared)


def check_ram_roles(sizes: dict[str, int], role_devices: dict[str, Any], room: Room) -> None:
    """``out_of_memory`` when the models placed in RAM (``sizes``: their weights there) cannot all fit in
    the machine's RAM (``room.host``) beside the reserve: one sentence naming them."""
    on_cpu = [role for role, where in role_devices.items() if getattr(where, "type", str(where)) == "cpu"]
    needed = sum(sizes.get(role, 0) for role in on_cpu)
    if on_cpu and needed + RESERVE_BYTES > room.host:
        one = len(on_cpu) == 1
        raise ProtocolError(ErrorCode.OUT_OF_MEMORY,
                            f"{' and '.join(on_cpu)} on the CPU need{'s' if one else ''} about "
                            f"{(needed + RESERVE_BYTES) / GB:.1f} GB of RAM, and this machine has "
                            f"{room.host / GB:.1f} GB: leave {'it' if one else 'them'} on the GPU",
                            f"weights {needed} B; room: host {room.host} B")
