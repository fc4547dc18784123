"""Files over the protocol, for a backend on another machine: chunks, checksums, limits.

A file travels as messages (``upload`` chunks one way, ``chunk`` events the other), each
carrying at most ``CHUNK_BYTES`` raw bytes as base64, so a line stays well under the codec's
1 MiB. The first chunk (or every upload chunk) says the whole file's size and sha256.

The receiving end trusts nothing: ``Receiver`` writes one file's chunks to a temporary file
beside its destination, refuses chunks out of order, more bytes than announced or a size over
the limit, and renames the file into place only once the size and checksum match; on any
failure the temporary file is removed. ``local_path`` turns a path the backend names into the
path of its local mirror and refuses anything that could leave the local folder.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import tempfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Iterator

from .errors import ErrorCode, ProtocolError
from .run_files import RUN_TEMP_PREFIX
from .safe_names import check_name

CHUNK_BYTES = 512 * 1024          # raw bytes per chunk: ~700 kB of base64, under the 1 MiB line limit
MAX_FILE_BYTES = 2 * 1024 ** 3    # the largest file either end accepts (a run's GLBs are tens of MB)
_SHA256 = re.compile(r"[0-9a-f]{64}")
# Control characters (NUL and newline among them) never name a run file; a backslash or a colon
# would be a separator or a drive on a Windows machine mirroring a Linux backend's files.
_ODD = re.compile(r"[\x00-\x1f\x7f]")   # in the root: only the components below it become local names
# Files are the user's ordinary files, not mkstemp's owner-only ones.
_UMASK = os.umask(0o022)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK


def _refuse(message: str) -> ProtocolError:
    return ProtocolError(ErrorCode.BAD_REQUEST, message)


def encode_chunk(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def decode_chunk(text: str) -> bytes:
    """The bytes of one chunk's ``data``; ``bad_request`` when it is not strict base64."""
    if not isinstance(text, str):
        raise _refuse("a chunk's data must be a base64 string")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise _refuse("a chunk's data is not valid base64") from exc


def check_announced(size: object, sha256: object, limit: int = MAX_FILE_BYTES) -> tuple[int, str]:
    """The announced size and checksum of a file, checked: a whole number within ``limit`` and
    64 lower-case hex digits."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise _refuse(f"a file's size must be a whole number of bytes, not {size!r}")
    if size > limit:
        raise _refuse(f"the file is {size} bytes, more than the {limit} a transfer may carry")
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise _refuse("a file's sha256 must be 64 lower-case hex digits")
    return size, sha256


def file_digest(handle: BinaryIO, chunk_bytes: int = CHUNK_BYTES) -> tuple[int, str]:
    """Size and sha256 of what ``handle`` holds from where it stands to its end."""
    digest, size = hashlib.sha256(), 0
    while block := handle.read(chunk_bytes):
        digest.update(block)
        size += len(block)
    return size, digest.hexdigest()


def iter_chunks(handle: BinaryIO, size: int, chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[int, bytes]]:
    """``(offset, bytes)`` for the first ``size`` bytes of ``handle`` from its start; always at
    least one chunk, so that an empty file still has a first chunk to carry its size and checksum.
    A file that shrank meanwhile is a ``disk`` error: its chunks ended with none marked the last, and the
    receiver waited for one (the add-on until its watchdog stopped the backend)."""
    handle.seek(0)
    offset = 0
    while True:
        block = handle.read(min(chunk_bytes, size - offset))
        if block or offset == 0:
            yield offset, block
        offset += len(block)
        if offset >= size:
            return
        if not block:
            raise ProtocolError(ErrorCode.DISK, f"the file changed while it was sent: it ended at {offset:,} of the "
                                                f"{size:,} bytes it had; send it again")


def check_file_name(name: object) -> str:
    """One path component a peer named, as ``safe_names.check_name`` accepts it."""
    return check_name(name)


def local_path(remote_root: str, remote_path: str, local_root: Path) -> Path:
    """The local mirror of ``remote_path``, a POSIX path on the backend under ``remote_root``.

    Refused (``bad_request``): a path outside ``remote_root``, the root itself, any component
    ``safe_names`` refuses (``..``, empty, a control character, a Windows device name, a hidden
    file...), and anything whose local form resolves outside ``local_root`` (a symbolic link there)."""
    if not isinstance(remote_root, str) or not remote_root.startswith("/") or _ODD.search(remote_root):
        raise _refuse(f"the backend's runs folder {remote_root!r} is not an absolute POSIX path")
    if not isinstance(remote_path, str) or not remote_path:
        raise _refuse("the backend named an empty path")
    root = remote_root.rstrip("/")
    if not remote_path.startswith(root + "/"):
        raise _refuse(f"{remote_path!r} is not inside the backend's runs folder {remote_root!r}")
    parts = remote_path[len(root) + 1:].split("/")
    for part in parts:
        check_file_name(part)  # raw components: PurePosixPath would quietly drop "." and "//"
    local_root = Path(local_root)
    local = local_root.joinpath(*PurePosixPath(*parts).parts)
    base = local_root.resolve()
    resolved = local.resolve()
    if resolved == base or base not in resolved.parents:
        raise _refuse(f"{remote_path!r} would be written outside the local runs folder {local_root}")
    return local


class Receiver:
    """Writes ONE file's chunks, in order, to a temporary file beside ``destination``; ``finish``
    checks the size and checksum and only then renames it into place (``os.replace``).

    Any refusal or failure removes the temporary file and raises ``ProtocolError``
    (``bad_request`` for what the peer sent, ``disk`` for what the disk refused); the receiver
    is then spent."""

    def __init__(self, destination: Path, size: object, sha256: object, limit: int = MAX_FILE_BYTES) -> None:
        self.size, self.sha256 = check_announced(size, sha256, limit)
        self.destination = Path(destination)
        self.received = 0
        self._digest = hashlib.sha256()
        self._handle: BinaryIO | None = None
        self._tmp: Path | None = None
        try:
            self.destination.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=self.destination.parent, prefix=RUN_TEMP_PREFIX,
                                        suffix=self.destination.suffix)
            self._tmp = Path(name)
            self._handle = os.fdopen(fd, "wb")
        except OSError as exc:
            self.abort()
            raise _disk(exc, f"cannot write {self.destination}") from exc

    @property
    def active(self) -> bool:
        return self._handle is not None

    @property
    def temporary(self) -> Path | None:
        """The temporary file being written (``.tmp-*`` beside the destination); None once over."""
        return self._tmp if self._handle is not None else None

    def write(self, offset: object, data: bytes) -> None:
        """Append one chunk that must start at ``offset`` == the bytes received so far."""
        if self._handle is None:
            raise _refuse(f"the transfer of {self.destination.name} is already over")
        if offset != self.received or isinstance(offset, bool):
            self.abort()
            raise _refuse(f"a chunk of {self.destination.name} came out of order: offset {offset!r}, "
                          f"expected {self.received}")
        if self.received + len(data) > self.size:
            self.abort()
            raise _refuse(f"{self.destination.name}: more bytes than the {self.size} announced")
        try:
            self._handle.write(data)
        except OSError as exc:
            self.abort()
            raise _disk(exc, f"cannot write {self.destination}") from exc
        self._digest.update(data)
        self.received += len(data)

    def finish(self) -> Path:
        """Check size and checksum, then move the file into place; returns ``destination``."""
        if self._handle is None or self._tmp is None:
            raise _refuse(f"the transfer of {self.destination.name} is already over")
        if self.received != self.size:
            self.abort()
            raise _refuse(f"{self.destination.name}: {self.received} bytes came, {self.size} were announced")
        if self._digest.hexdigest() != self.sha256:
            self.abort()
            raise _refuse(f"{self.destination.name}: the bytes do not match their sha256 checksum")
        try:
            self._handle.close()
            self._handle = None
            os.chmod(self._tmp, _FILE_MODE)
            os.replace(self._tmp, self.destination)
        except OSError as exc:
            self.abort()
            raise _disk(exc, f"cannot write {self.destination}") from exc
        self._tmp = None
        return self.destination

    def abort(self) -> None:
        """Drop the temporary file (never the destination). Safe to call more than once."""
        handle, self._handle = self._handle, None
        if handle is not None:
            try:
                handle.close()
            except OSError:
                pass  # the file is removed next; a close error changes nothing about that
        tmp, self._tmp = self._tmp, None
        if tmp is not None:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass  # the temporary name (.tmp-*) is what the recovery passes remove


def _disk(exc: OSError, message: str) -> ProtocolError:
    return ProtocolError(ErrorCode.DISK, f"{message}: {exc.strerror or type(exc).__name__}", str(exc))
