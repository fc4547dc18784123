"""The one check before a model is downloaded: has its licence been accepted, if it restricts?

A model whose licence limits territory or use (``img23d_protocol.licences``: Tencent's for
Hunyuan3D-2) is downloaded only when the artist has accepted that licence: the add-on asks once
and sends the accepted keys with each job and download; the command line's ``--accept-licence``
accepts them for that command. A model already on disk is not downloaded, so it is never
refused here; nor is a model the licence table does not know (test stand-ins).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import fields

from img23d_protocol import ErrorCode, Licence, ProtocolError, licence_refusal

from .registry import ModelSet, ModelSpec


def needs_consent(spec: ModelSpec, accepted: Collection[str]) -> Licence | None:
    """The restricted licence ``spec`` (any of its parts: ``ModelSpec.sources``) would be downloaded
    under without consent; None when it may be."""
    for part in spec.parts:
        entry = part.licence
        if part.local_path is None and entry is not None and entry.licence.restricted \
                and entry.licence.key not in accepted:
            return entry.licence
    return None


def refusal(spec: ModelSpec, licence: Licence) -> ProtocolError:
    return ProtocolError(ErrorCode.LICENCE_NOT_ACCEPTED, licence_refusal(spec.display, licence),
                         f"licence key: {licence.key}")


def restricted_keys(models: ModelSet) -> frozenset[str]:
    """The keys of every restricted licence among a set's models: what ``--accept-licence`` accepts."""
    specs = [getattr(models, f.name) for f in fields(models)]
    return frozenset(part.licence.licence.key for spec in specs if isinstance(spec, ModelSpec) for part in spec.parts
                     if part.licence is not None and part.licence.licence.restricted)
