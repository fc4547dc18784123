"""The overlay environments ``scripts/setup_env.sh`` gives each clone: finding the shared cached
environment one stands over (its ``pyvenv.cfg`` names it)."""

from __future__ import annotations

from pathlib import Path


def cached_environment(overlay: Path) -> Path | None:
    """The cached environment under ``overlay``, as its ``pyvenv.cfg`` spells it, or None when
    ``overlay`` is not an overlay (an environment made in place, or none at all)."""
    try:
        config = (overlay / "pyvenv.cfg").read_text(encoding="utf-8")
    except OSError:
        return None
    for line in config.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "img23d-environment":
            return Path(value.strip())
    return None
