"""The model manager's list as the preferences draw it: filled by operators, only read by draw().

Fetching needs the backend (it knows the Hugging Face cache), so it happens in the
``img23d.models_refresh`` / ``model_download`` / ``model_delete`` operators; draw() shows
whatever was fetched last, and says when the preferences changed since. No bpy here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import img23d_protocol as protocol


@dataclass
class ModelCatalog:
    entries: list[Any] = field(default_factory=list)   # protocol.ModelEntry, in the backend's order
    fetched: bool = False
    offline: bool = False
    cache_dir: str = ""
    configuration: tuple[str, ...] = ()  # the model choices the list describes
    busy: str = ""                       # what runs now: "listing", "downloading", "deleting", or ""
    download_model: str = ""             # the model being downloaded
    download_job: str = ""
    message: str = ""                    # the outcome of the last action, for the user
    error: str = ""

    def update(self, data: dict[str, Any], configuration: tuple[str, ...]) -> None:
        """Take a ``models`` result (also carried by download and delete results)."""
        self.entries = [protocol.ModelEntry.from_dict(item) for item in data.get("models", [])]
        self.offline = bool(data.get("offline", False))
        self.cache_dir = str(data.get("cache_dir", ""))
        self.configuration = configuration
        self.fetched, self.error = True, ""

    def stale(self, configuration: tuple[str, ...]) -> bool:
        return self.fetched and configuration != self.configuration

    def entry(self, model_id: str) -> Any:
        return next((entry for entry in self.entries if entry.id == model_id), None)


def format_size(size: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def describe_size(entry: Any) -> str:
    """'4.2 GB' on disk, '~4.4 GB' for the registry's estimate of a model not downloaded."""
    return format_size(entry.size_bytes) if entry.size_measured else f"~{format_size(entry.size_bytes)}"
