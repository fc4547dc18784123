"""An OBJ's or PLY's texture file checked from its header before trimesh decodes it (and a text glTF's
files named by their URIs as glTF names them: ``UnquotedUris``).

trimesh reads an OBJ's colour texture (its ``.mtl``'s ``map_Kd``) and a PLY's (``comment
TextureFile``) through a resolver, and decodes whatever that returns. ``CheckedTextures`` is that
resolver: it reads a texture file only after its header says img23d can hold it (the rules of a
GLB's textures: ``glb_textures.why_left_out``), and in place of one it cannot it returns a 1 x 1 PNG
and keeps one sentence (``left_out``), so the mesh is still read, without its texture. A ``.mtl``
and anything that is not a texture pass through as the plain resolver reads them.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from img23d_protocol.image_headers import Window

from .glb_textures import why_left_out

# A 1 x 1 grey PNG in place of a texture left out (the same as a GLB's: ``glb_textures._BLANK_PNG``).
BLANK_PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNoAAAAggCBd81ytgAAAABJRU5ErkJggg==")
# The largest texture file read: an uncompressed 8-bit RGBA PNG of img23d's largest texture is 0.27 GB.
MAX_TEXTURE_FILE_BYTES = 1 << 30
_NOT_TEXTURES = (".mtl",)


class CheckedTextures:
    """The files beside the mesh file ``source``, as ``plain`` (trimesh's ``FilePathResolver`` of its
    folder: wrapped, not subclassed, so that this module imports no trimesh and the command line
    that imports ``readers.meshes`` starts light) reads them, each texture checked from its header first."""

    def __init__(self, plain: Any, source: Path) -> None:
        self.plain = plain
        self.mesh_name = source.name
        self.left_out: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.plain, name)  # the rest of trimesh's resolver: keys, namespaced, write...

    def __getitem__(self, name: str) -> bytes:
        return self.get(name)

    def get(self, name: str) -> bytes:
        if Path(name.strip()).suffix.lower() in _NOT_TEXTURES:
            return self.plain.get(name)
        path = self._found(name)
        why = _why(path) if path is not None else None
        if why is None:
            return self.plain.get(name)  # a name not found (or escaping the folder) fails there, as before
        self.left_out.append(f"{self.mesh_name}: its colour texture ({name.strip()}) {why}, so it is left out")
        return BLANK_PNG

    def _found(self, name: str) -> Path | None:
        """The file ``name`` names inside the folder, found as the plain resolver finds it."""
        for candidate in (name.strip(), name.strip().lstrip("/"), Path(name).name):
            try:
                path = self.plain.absolute(candidate)
            except ValueError:
                continue
            if path.is_file():
                return path
        return None


class UnquotedUris:
    """A text glTF's files beside it, as ``plain`` (trimesh's ``FilePathResolver``) reads them, named by their
    URIs percent-decoded as glTF's URIs are (RFC 3986): trimesh asked for Blender's export of "my chair.gltf"
    as "my%20chair.bin", found nothing, and the file was refused. ``plain`` keeps every name in its folder."""

    def __init__(self, plain: Any) -> None:
        self.plain = plain

    def __getattr__(self, name: str) -> Any:
        return getattr(self.plain, name)

    def __getitem__(self, name: str) -> bytes:
        return self.get(name)

    def get(self, name: str) -> bytes:
        return self.plain.get(unquote(name))


def _why(path: Path) -> str | None:
    """Why the texture file ``path`` is left out, as a phrase; None to read it."""
    with open(path, "rb") as handle:
        size = path.stat().st_size
        if size > MAX_TEXTURE_FILE_BYTES:
            return f"is {size / (1 << 30):,.1f} GiB, more than the {MAX_TEXTURE_FILE_BYTES >> 30} GiB a texture file may be"
        return why_left_out(Window(handle, 0, size))
