"""The local disk's free space, shared by every file this process is receiving from a backend.

A file is refused before its first byte when the disk would be left with less than
``FREE_SPACE_RESERVE`` free (Blender saves there too). Checked one file at a time against the
free space now, that is no bound: a host that opens many transfers before finishing any gets
each of them past the check, and together they fill the disk. So the process keeps one ledger
(``LEDGER``) of what its receivers in progress are still owed, per disk (the device the folder
is on): a file's first chunk announces its size, and it is let in only when the free space, less
every receiver's bytes still to come on that disk, less its own size, leaves the reserve. Every
receiver claims here, whatever brought it: a job's fetches and Import Run from Host alike
(``transfer.Mirror``), whatever mirror they belong to.

A claim counts its file's announced size until its receiver exists, then only the bytes still to
come (what was written is in the free space already); it is released when the receiver finishes
or fails, and a receiver no longer writing never counts, whoever forgot to release it.
The ledger also says which temporary files a live receiver writes (``live_temporaries``), so
that cleaning up what a killed Blender left (``leftovers``) never takes one. No bpy here.
"""

from __future__ import annotations

import os
import shutil
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

import img23d_protocol as protocol

ErrorCode = protocol.ErrorCode
ProtocolError = protocol.ProtocolError

FREE_SPACE_RESERVE = 512 * 1024 ** 2   # what a fetch must leave free on the local disk (Blender saves there too)


def existing_folder(folder: Path) -> Path:
    """``folder``, or its nearest parent that exists (a fetch's folder is made with its first file)."""
    folder = Path(folder)
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    return folder


def free_bytes(folder: Path) -> int:
    """Free bytes on the disk that holds ``folder`` (or its nearest existing parent)."""
    return shutil.disk_usage(existing_folder(folder)).free


@dataclass(eq=False)
class Claim:
    """One file's share of its disk: its announced size, then what its receiver still awaits.

    The receiver is held weakly: a transfer dropped without being closed (its mirror forgotten)
    frees its share with its receiver, rather than holding the disk for the rest of the session."""

    disk: int
    size: int
    _receiver: "weakref.ref[protocol.Receiver] | None" = None

    def attach(self, receiver: protocol.Receiver) -> protocol.Receiver:
        self._receiver = weakref.ref(receiver)
        return receiver

    @property
    def receiver(self) -> protocol.Receiver | None:
        return self._receiver() if self._receiver is not None else None

    @property
    def writing(self) -> bool:
        """Not over yet: no receiver made so far, or one still writing."""
        if self._receiver is None:
            return True
        receiver = self._receiver()
        return receiver is not None and receiver.active

    @property
    def owed(self) -> int:
        receiver = self.receiver
        if receiver is None:
            return self.size if self._receiver is None else 0
        return max(receiver.size - receiver.received, 0) if receiver.active else 0


class DiskLedger:
    """The claims of every receiver in progress, by disk. One per process: ``LEDGER``."""

    def __init__(self) -> None:
        self._claims: dict[int, list[Claim]] = {}
        self._lock = threading.Lock()  # the main thread pumps transfers; a script's thread may too

    def claim(self, folder: Path, size: int, name: str, shown: Path) -> Claim:
        """Room for ``size`` bytes in ``folder``, or ``ProtocolError(disk)`` naming ``name`` and the
        disk of ``shown`` (the runs folder) when it would leave under the reserve, counting every
        receiver still in progress on that disk."""
        try:
            existing = existing_folder(folder)
            disk = os.stat(existing).st_dev
            free = free_bytes(existing)
        except OSError as exc:
            raise ProtocolError(ErrorCode.DISK, f"{name}: the free space here cannot be read ({exc})") from exc
        with self._lock:
            owed = self._owed(disk)
            if free - owed - size < FREE_SPACE_RESERVE:
                others = f" with {owed:,} bytes of other files still arriving," if owed else ""
                raise ProtocolError(ErrorCode.DISK, f"{name}: {size:,} bytes would leave less than "
                                                    f"{FREE_SPACE_RESERVE // 1024 ** 2} MB free on the disk of "
                                                    f"{shown}{others}: free some space")
            claim = Claim(disk, size)
            self._claims.setdefault(disk, []).append(claim)
            return claim

    def release(self, claim: Claim) -> None:
        """The file is over (finished, refused or dropped): its share is free again."""
        with self._lock:
            claims = self._claims.get(claim.disk, [])
            if claim in claims:
                claims.remove(claim)

    def owed(self, folder: Path) -> int:
        """Bytes the receivers in progress on ``folder``'s disk still await."""
        disk = os.stat(existing_folder(folder)).st_dev
        with self._lock:
            return self._owed(disk)

    def live_temporaries(self) -> set[Path]:
        """The temporary files receivers of this process are writing now."""
        with self._lock:
            receivers = [claim.receiver for claims in self._claims.values() for claim in claims]
        return {receiver.temporary for receiver in receivers if receiver is not None and receiver.temporary is not None}

    def _owed(self, disk: int) -> int:
        claims = self._claims.get(disk, [])
        # A receiver that no longer writes (finished, aborted or dropped) never counts, released or not.
        claims[:] = [claim for claim in claims if claim.writing]
        return sum(claim.owed for claim in claims)


LEDGER = DiskLedger()
