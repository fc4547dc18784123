"""Which licences the artist accepted, and what the model manager shows and asks about them.

The licences themselves are the protocol's table (``img23d_protocol.licences``), looked up by a
model's repository: nothing here asks the backend. Consent is remembered per licence in the
add-on's preferences (``accepted_licences``, comma-separated keys) and sent with every job and
download; the backend refuses to download a model under a restricted licence without it. No bpy
here: the preferences and operators call in.
"""

from __future__ import annotations

from typing import Any

import img23d_protocol as protocol


def parse(text: str) -> list[str]:
    """The accepted keys a preference string holds, in order, without repeats or blanks."""
    keys: list[str] = []
    for key in (part.strip() for part in text.split(",")):
        if key and key not in keys:
            keys.append(key)
    return keys


def with_key(text: str, key: str) -> str:
    """The preference string once ``key`` is accepted too."""
    return ",".join(parse(text) + ([key] if key not in parse(text) else []))


def of_entry(entry: Any) -> "protocol.ModelLicence | None":
    """The licence of a model-manager entry (a ``protocol.ModelEntry``), from the shared table."""
    return protocol.model_licence(getattr(entry, "repo_id", ""))


def needs_consent(entry: Any, accepted: list[str]) -> "protocol.Licence | None":
    """The restricted licence an entry's download would need accepted; None when none is needed."""
    stated = of_entry(entry)
    if stated is None or getattr(entry, "local", False) or not stated.licence.restricted:
        return None
    return None if stated.licence.key in accepted else stated.licence


def lines(entry: Any) -> list[str]:
    """What the model list shows under a model: its licence, then each restriction."""
    stated = of_entry(entry)
    if stated is None:
        return ["Licence: unknown (not in img23d's table)"]
    head = f"Licence: {stated.licence.name}"
    if stated.replicates:
        head += f" (replicates {stated.replicates})"
    return [head, *(f"{restriction[0].upper()}{restriction[1:]}" for restriction in stated.licence.restrictions())]


def question(model: str, licence: "protocol.Licence") -> list[str]:
    """The confirmation's lines: what the licence forbids, and what accepting means."""
    return [f"{model} is licensed under the {licence.name}.",
            *(f"- {restriction[0].upper()}{restriction[1:]}" for restriction in licence.restrictions()),
            *([licence.note] if licence.note else []),
            "Accept it to download (asked once: remembered in the preferences).",
            *([f"Or use the {protocol.model_family(protocol.CLEAN).label} family instead: it needs no such licence."]
              if licence.excluded_territories else [])]
