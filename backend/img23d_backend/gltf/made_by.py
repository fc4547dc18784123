"""What a GLB says made it: img23d, and each model that made what it holds, with that model's licence.

glTF 2.0 gives every file an ``asset`` object (section 5.1): ``generator`` ("the tool that generated this
glTF model"), ``copyright`` ("a copyright message suitable for display to credit the content creator") and
``extras`` (application data). Every GLB img23d writes (``gltf.writer``) carries:

- ``generator``: ``img23d <version>``;
- ``copyright``: one plain paragraph naming each model and its licence, with what the licence restricts and
  where to read it (Tencent's, for one, reaches the models' output: section 5.c of Hunyuan3D-2's licence);
- ``extras``: ``{"generator": "img23d", "models": [{"role", "model", "licence", "licence_terms",
  "licence_url", and "licence_note" where the licence has one} ...]}``, the same facts for a program, one entry a model (its further repositories too: the
  clean paint model reads SDXL base and its VAE beside Step1X-3D's adapter, each under its own licence).

The licences come from the table both sides read (``img23d_protocol.licences``), keyed by each model's
repository. A file a job makes from a GLB it reads itself (a rig of a Generate GLB) keeps the models its input
names (``carried_from``): a licence that reaches the output still reaches it after a rig. (Parts, a
re-texture and a retopology read the add-on's mesh file, which names no model.) What an
input says is untrusted: only entries of the right shape are kept, each field a bounded string, and a model the
licence table knows is credited with the table's licence, not the one the input claims for it.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable

from img23d_protocol import ProtocolError
from img23d_protocol.glb_images import read_glb
from img23d_protocol.licences import MODEL_LICENCES, NOT_OFFERED, ModelLicence, model_licence

from .. import __version__

GENERATOR = f"img23d {__version__}"
_FIELDS = ("role", "model", "licence", "licence_terms", "licence_url")
_NOTE = "licence_note"        # a field only a licence with a note has
_MOST_CARRIED = 64          # models an input may name (a real chain names about ten)
_LONGEST_FIELD = 1000       # characters of one field an input may give


@dataclass(frozen=True)
class ModelCredit:
    """One model that made (part of) a file: its role in the chain, its repository, and its licence."""

    role: str
    model: str                 # the repository id (``tiny/<name>`` for a test replica)
    licence: str               # the licence's name
    licence_terms: str         # the name and its restrictions, or that it has none (``Licence.summary``)
    licence_url: str           # the licence's own text
    licence_note: str = ""     # what an artist needs besides (Tencent's: its output is not licensed outside its Territory)

    def sentence(self) -> str:
        note = f" {self.licence_note}" if self.licence_note else ""
        return f"{self.model} ({self.role}), under the {self.licence_terms} ({self.licence_url}).{note}"


@dataclass(frozen=True)
class MadeBy:
    """img23d and the models that made a file, each once, in the order they were named."""

    models: tuple[ModelCredit, ...] = ()

    def plus(self, other: "MadeBy") -> "MadeBy":
        """Both files' models, each once (an input's first, then this job's)."""
        return MadeBy(tuple(dict.fromkeys((*self.models, *other.models))))

    def copyright(self) -> str:
        """The asset's ``copyright``: who made it, and under which licences its models put it."""
        if not self.models:
            return f"Made with {GENERATOR}; no model made it."
        return " ".join((f"Made with {GENERATOR} by {len(self.models)} model(s):",
                         *(credit.sentence() for credit in self.models)))

    def asset(self) -> dict[str, Any]:
        """The glTF ``asset`` object (see the module's docstring)."""
        return {"version": "2.0", "generator": GENERATOR, "copyright": self.copyright(),
                "extras": {"generator": "img23d", "models": [{key: value for key, value in asdict(credit).items()
                                                              if value or key != _NOTE} for credit in self.models]}}


def made_by(models: Iterable[tuple[str, str]]) -> MadeBy:
    """The credits of ``(role, repository id)`` pairs, each with its licence from the protocol's table (a model
    the table lacks is named with an unknown licence: every model of every set has one, a test checks)."""
    credits = []
    for role, repo_id in models:
        entry = model_licence(repo_id)
        if entry is None:
            credits.append(ModelCredit(role, repo_id, "unknown", "unknown licence", ""))
            continue
        credits.append(_from_table(role, entry))
    return MadeBy(tuple(dict.fromkeys(credits)))


def _from_table(role: str, entry: ModelLicence) -> ModelCredit:
    licence = entry.licence
    return ModelCredit(role, entry.repo_id, licence.name, licence.summary(), licence.text_url, licence.note)


def credits_in(document: dict[str, Any]) -> MadeBy:
    """The models a glTF document's ``asset.extras`` names as img23d writes them (each known model with the licence
    table's licence: ``_credit_read``); nothing for any other file."""
    asset = document.get("asset")
    extras = asset.get("extras") if isinstance(asset, dict) else None
    entries = extras.get("models") if isinstance(extras, dict) and extras.get("generator") == "img23d" else None
    if not isinstance(entries, list):
        return MadeBy()
    credits = []
    for entry in entries[:_MOST_CARRIED]:
        if isinstance(entry, dict) and all(_fits(entry.get(key)) for key in _FIELDS) and _fits(entry.get(_NOTE, "")):
            credits.append(_credit_read(entry))
    return MadeBy(tuple(dict.fromkeys(credits)))


def _credit_read(entry: dict[str, str]) -> ModelCredit:
    """One credit an input names (its fields checked): for a repository the licence table knows, that table's
    licence, whatever the entry claims; for any other, the entry as written."""
    known = _in_table(entry["model"])
    if known is not None:
        # An input is anyone's file: one crediting Hunyuan3D-2 under "MIT, no restriction" had that claim carried,
        # under img23d's name, into the rig made from it, hiding the territory Tencent's licence excludes.
        return _from_table(entry["role"], known)
    # A repository the table does not know may be the artist's own model (or one made after this img23d): only
    # the file says its licence, so it is kept as written rather than dropped or called unknown.
    return ModelCredit(**{key: entry[key] for key in _FIELDS}, licence_note=entry.get(_NOTE, ""))


def _in_table(repo_id: str) -> ModelLicence | None:
    """The licence table's entry for ``repo_id``, offered or not; the hub's repository ids ignore case (one
    repository answers to "Tencent/hunyuan3d-2" too), so a credit spelled otherwise is still the table's."""
    wanted = repo_id.strip().casefold()
    return next((entry for table in (MODEL_LICENCES, NOT_OFFERED) for entry in table.values()
                 if entry.repo_id.casefold() == wanted), None)


def _fits(value: object) -> bool:
    return isinstance(value, str) and len(value) <= _LONGEST_FIELD


def carried_from(path: Path | str) -> MadeBy:
    """The models an input GLB (img23d's) names; nothing for another kind of file, or one that cannot be read
    (its reader says what is wrong with it: this only carries credits)."""
    path = Path(path)
    if path.suffix.lower() != ".glb":
        return MadeBy()
    try:
        with open(path, "rb") as handle:
            document, _ = read_glb(handle, os.fstat(handle.fileno()).st_size, path.name)
    except (OSError, ProtocolError):
        return MadeBy()
    return credits_in(document)
