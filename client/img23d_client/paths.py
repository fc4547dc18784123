"""Where the add-on's own files are: the backend's source, the protocol's wheel and the guide.

The built extension carries both beside this file (``backend/``, ``wheels/``); a source
checkout has them one folder up. The backend is started with both on its ``PYTHONPATH``, so
it runs the very code, and speaks the very protocol, that this add-on was built with.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent
PROTOCOL_WHEEL_GLOB = "img23d_protocol-*-py3-none-any.whl"


def backend_source_dir() -> Path:
    """The folder that contains the ``img23d_backend`` package."""
    for candidate in (_HERE / "backend", _HERE.parent / "backend"):
        if (candidate / "img23d_backend" / "__init__.py").is_file():
            return candidate
    raise FileNotFoundError(f"the backend package is missing next to {_HERE}; reinstall the add-on")


def protocol_wheel() -> Path:
    """The protocol's wheel this add-on was built with (Blender installed the same one for it)."""
    for folder in (_HERE / "wheels", _HERE.parent / "wheels"):
        found = sorted(folder.glob(PROTOCOL_WHEEL_GLOB))
        if found:
            return found[-1]
    raise FileNotFoundError(f"the protocol's wheel is missing next to {_HERE}; reinstall the add-on")


def guide_dir() -> Path:
    """The guide this add-on was built with: ``guide/`` in the extension (HTML, or Markdown where the
    build had no MkDocs), the checkout's ``docs/`` (Markdown) when run from source."""
    for candidate in (_HERE / "guide", _HERE.parent / "docs"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the guide is missing next to {_HERE}; reinstall the add-on")
