"""Where the files the add-on ships are: the backend's source, the protocol's wheel and the guide.

The built extension carries them in its own folder (``backend/``, ``wheels/``, ``guide/``), which
the add-on names when it registers (``ship_from``): this package is installed elsewhere (Blender
puts an extension's wheels in its own site-packages). A source checkout, and the bundle Install
Backend sends to an SSH host, have them two folders up from this file (``client/img23d_client/``
beside ``backend/``, ``wheels/`` and ``docs/``). The backend is started with the first two on its
``PYTHONPATH``, so it runs the very code, and speaks the very protocol, the add-on was built with.
"""

from __future__ import annotations

from pathlib import Path

PROTOCOL_WHEEL_GLOB = "img23d_protocol-*-py3-none-any.whl"
# A source checkout, or the installer's bundle on an SSH host.
_CHECKOUT = Path(__file__).resolve().parents[2]
_shipped: list[Path] = []   # the extension's folder, once the add-on has named it


def ship_from(folder: Path) -> None:
    """The add-on's files are in ``folder`` (the extension's own folder); looked in first."""
    _shipped[:] = [folder.resolve()]


def _roots() -> list[Path]:
    return [*_shipped, _CHECKOUT]


def backend_source_dir() -> Path:
    """The folder that contains the ``img23d_backend`` package."""
    for root in _roots():
        if (root / "backend" / "img23d_backend" / "__init__.py").is_file():
            return root / "backend"
    raise FileNotFoundError(f"the backend package is missing from {_where()}; reinstall the add-on")


def protocol_wheel() -> Path:
    """The protocol's wheel the add-on was built with (Blender installed the same one for it)."""
    for root in _roots():
        found = sorted((root / "wheels").glob(PROTOCOL_WHEEL_GLOB))
        if found:
            return found[-1]
    raise FileNotFoundError(f"the protocol's wheel is missing from {_where()}; reinstall the add-on")


def guide_dir() -> Path:
    """The guide the add-on was built with: ``guide/`` in the extension (HTML, or Markdown where the
    build had no MkDocs), the checkout's ``docs/`` (Markdown) when run from source."""
    for root in _roots():
        for candidate in (root / "guide", root / "docs"):
            if candidate.is_dir():
                return candidate
    raise FileNotFoundError(f"the guide is missing from {_where()}; reinstall the add-on")


def _where() -> str:
    return " and ".join(str(root) for root in dict.fromkeys(_roots()))
