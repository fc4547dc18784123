"""``python -m img23d_backend models [download NAME]``: every model, its licence, and downloading one.

``models`` lists every model the registry offers (or, with ``--models tiny``, the replicas): its
name (what ``download`` takes, ``role/choice`` as the command line's model options name it),
role, pinned revision, size, licence and restrictions, and whether it is downloaded, as a table
or (``--json``) one JSON object for scripts. Listing never touches the network.

``models --verify`` checks the files of every model that is downloaded (or, with ``--models tiny``,
built): each against the digest the hub published for it where the cache knows it (huggingface_hub
names each blob by it), else that each weights file's header and each config parse
(``models.damage``); one line per model (ok, damaged: which file and what to do, or not
downloaded), exit 1 when one is damaged.

``models download NAME`` fetches one model into the Hugging Face cache with progress on stderr
(``models.download``: resumable, file by file; Ctrl-C stops after the current file). A model whose
licence restricts territory or use is refused, with nothing fetched, unless ``--accept-licence``
is given. Exit codes: 0 done, 1 failed or damaged, 2 the command line was wrong or the licence not accepted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass
from typing import Any

from img23d_protocol import MODEL_FAMILIES, SHAPE_MODELS, TINY_MODELS, ErrorCode, Progress, ProtocolError, plain

from ..env.interrupts import Interrupts
from ..models import cache
from ..models.damage import damage_sentence, find_damage, unchecked_files
from ..catalog import (DEFAULT_EDITOR, DEFAULT_MATTING, DEFAULT_PARTS, MATTING, MODEL_TABLES, ModelSpec,
                       default_tiny_root, tiny_matting, tiny_model_set)
from ..models.download import download
from ..models.hub import offline_requested, part_folders, resolve_model_dir
from ..editors.table import EDITOR_ROWS, tiny_editor
from .options import EXIT_FAILED, EXIT_OK, failure_code, said_failure
from .progress import ProgressPrinter


@dataclass(frozen=True)
class NamedModel:
    name: str          # role/choice: what ``download`` takes
    spec: ModelSpec


def offered_models(models: str = "default") -> list[NamedModel]:
    """Every model of the registry's tables (``default``), or of the tiny replicas' set."""
    if models == "tiny":
        tiny = tiny_model_set(default_tiny_root(), parts=DEFAULT_PARTS)
        return [*(NamedModel(f"{role}/tiny", getattr(tiny, role))
                  for role in ("grounding", "matting", "shape", "delight", "paint", "depth", "materials",
                               "editor", "parts")),
                # each other shape replica (Step1X-3D's and its Label model's: --verify checks them too)
                *(NamedModel(f"shape/{name}", tiny_model_set(default_tiny_root(), family=SHAPE_MODELS[name].family,
                                                             shape=name).shape)
                  for name in TINY_MODELS if name != tiny.shape.shape_kind.name),
                # each other family's own paint model's replica (the default family's is listed above)
                *(NamedModel(f"paint/tiny-{spec.paint_kind.name}", spec) for spec in
                  (tiny_model_set(default_tiny_root(), family=name).spec("paint") for name in MODEL_FAMILIES)
                  if spec.paint_kind is not None and spec.paint_kind.family != tiny.paint.family),
                # each other matting model's replica (the default one's is listed above)
                *(NamedModel(f"matting/tiny-{choice}", tiny_matting(default_tiny_root(), choice))
                  for choice in MATTING if choice != DEFAULT_MATTING),
                # each other image editor's replica (the default one's is listed above)
                *(NamedModel(f"editor/tiny-{choice}", tiny_editor(default_tiny_root(), choice))
                  for choice in EDITOR_ROWS if choice != DEFAULT_EDITOR)]
    # Every table's (a paint model may come from several repositories: its ``sources``).
    return [NamedModel(f"{role}/{choice}", spec) for role, table in MODEL_TABLES for choice, spec in table.items()]


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    models = sub.add_parser("models", help="list every model: role, revision, size, licence, whether downloaded")
    models.add_argument("--models", default="default", choices=("default", "tiny"),
                        help="the registry's models, or the tiny offline replicas")
    models.add_argument("--json", action="store_true", help="print one JSON object (for scripts)")
    models.add_argument("--verify", action="store_true",
                        help="check every downloaded model's files: against the digests the hub published "
                             "where known, else that weights headers and configs parse; exit 1 if one is damaged")
    actions = models.add_subparsers(dest="models_action")
    download = actions.add_parser("download", help="download one model into the Hugging Face cache, with progress")
    download.add_argument("name", help="a model's name as 'models' lists it, e.g. grounding/2b or shape/2mini-turbo")
    download.add_argument("--accept-licence", action="store_true",
                          help="accept the model's licence when it restricts territory or use (Hunyuan3D-2's: "
                               "not the EU, the UK or South Korea); without it such a model is not downloaded")
    download.add_argument("--offline", action="store_true", help="never download; only say whether it is there")


def run(args: argparse.Namespace) -> int:
    try:
        listed = offered_models(args.models)
        if getattr(args, "models_action", None) == "download":
            return _download(_named(listed, args.name), args)
        if args.verify:
            return _verify(listed, args.json)
        # The cache read once (read once a row, it said each of its warnings 23 times).
        info = cache.scan_cache() if any(model.spec.local_path is None for model in listed) else None
    except ProtocolError as exc:
        return said_failure(exc)
    rows = [_row(model, info) for model in listed]
    if args.json:
        print(json.dumps(plain({"models": rows, "cache_dir": str(_cache_dir())})), flush=True)
    else:
        _print_table(rows)
    return EXIT_OK


def _named(listed: list[NamedModel], name: str) -> NamedModel:
    for model in listed:
        if name in (model.name, model.spec.display):
            return model
    raise ProtocolError(ErrorCode.BAD_REQUEST, f"no model is named {name!r}; choose from "
                        f"{', '.join(model.name for model in listed)}")


def _row(model: NamedModel, info: Any) -> dict[str, Any]:
    """One model's row; ``info``: the Hugging Face cache as ``cache.scan_cache`` read it."""
    spec = model.spec
    entry = cache.describe(spec, info if spec.local_path is None else None, [])
    stated = spec.licence
    licence = stated.licence if stated is not None else None
    return {"name": model.name, "role": spec.role, "id": spec.display, "repo_id": spec.repo_id,
            "subfolder": spec.subfolder, "revision": spec.revision, "size_bytes": entry.size_bytes,
            "size_measured": entry.size_measured, "state": entry.state, "downloaded": entry.state == "cached",
            "licence": None if licence is None else {
                "key": licence.key, "name": licence.name, "url": stated.url(spec.revision),
                "restricted": licence.restricted, "restrictions": licence.restrictions(),
                "excluded_territories": list(licence.excluded_territories),
                "monthly_user_limit": licence.monthly_user_limit, "non_commercial": licence.non_commercial,
                "note": licence.note or None, "replicates": stated.replicates or None},
            # A model read from further repositories: each one, pinned, with its own licence.
            "sources": [{"repo_id": part.repo_id, "revision": part.revision,
                         "licence": part.licence.licence.name if part.licence else None} for part in spec.sources]}


@dataclass(frozen=True)
class Verdict:
    name: str
    state: str            # ok, damaged, partial (not checked), missing
    sentence: str = ""    # for a damaged model: which file, and what to do; for one checked in part, what was not
    files: tuple[str, ...] = ()


def verify_model(model: NamedModel) -> Verdict:
    """One model's files checked, digests included (seconds per GB); a model not complete on disk is
    reported as such, unchecked."""
    spec = model.spec
    state = cache.describe(spec, cache.scan_cache() if spec.local_path is None else None, []).state
    if state != "cached":
        return Verdict(model.name, state)
    folder = resolve_model_dir(spec, offline=True)
    parts = part_folders(spec, folder)
    damage = find_damage(parts, digests=True)
    if not damage:
        unchecked = unchecked_files(parts)
        if unchecked:  # a cache copied with its links followed, without its blobs: say what was not checked
            return Verdict(model.name, "ok", f" for their kinds only: {len(unchecked)} of its files are copies, not "
                                             "links to the cache's blobs, and no blobs were copied beside them, so "
                                             "no digest could be checked (copy the cache with its links: cp -a, "
                                             "rsync -a)", tuple(str(path) for path in unchecked))
        return Verdict(model.name, "ok")
    return Verdict(model.name, "damaged", damage_sentence(spec, damage, model.name),
                   tuple(f"{item.folder / item.name}" for item in damage))


def _verify(listed: list[NamedModel], as_json: bool) -> int:
    verdicts = []
    width = max(len(model.name) for model in listed)
    for model in listed:
        verdict = verify_model(model)
        verdicts.append(verdict)
        if not as_json:  # each line as soon as its model is checked: a real cache takes minutes
            print(f"{verdict.name:<{width}}  {_VERDICT_WORDS[verdict.state]}{verdict.sentence}", flush=True)
    if as_json:
        print(json.dumps(plain({"models": [asdict(verdict) for verdict in verdicts]})), flush=True)
    return EXIT_FAILED if any(verdict.state == "damaged" for verdict in verdicts) else EXIT_OK


_VERDICT_WORDS = {"ok": "ok", "damaged": "damaged: ", "partial": "partly downloaded: not checked (models download "
                  "resumes it)", "missing": "not downloaded"}


def _print_table(rows: list[dict[str, Any]]) -> None:
    width = max([22, *(len(row["name"]) for row in rows)])  # the longest name, so the columns line up
    for row in rows:
        licence = row["licence"]
        revision = (row["revision"] or "local")[:10]
        print(f"{row['name']:<{width}} {row['role']:<9} {revision:<10} {_size(row):>9}  "
              f"{'downloaded' if row['downloaded'] else row['state']:<10}  "
              f"{licence['name'] if licence else 'licence unknown'}")
        for restriction in (licence or {}).get("restrictions", []):
            print(f"{'':<{width}} ! {restriction}")
        if licence and licence["note"] and not licence["replicates"]:  # what binds besides (use restrictions)
            print(f"{'':<{width}}   {licence['note']}")
        if licence and licence["replicates"]:
            print(f"{'':<{width}}   replicates {licence['replicates']}")
        for source in row["sources"]:
            print(f"{'':<{width}}   + {source['repo_id']}@{(source['revision'] or 'local')[:10]}  "
                  f"{source['licence'] or 'licence unknown'}")


def _size(row: dict[str, Any]) -> str:
    gb = row["size_bytes"] / (1 << 30)
    text = f"{gb:.2f} GB" if gb >= 0.1 else f"{row['size_bytes'] / (1 << 20):.0f} MB"
    return text if row["size_measured"] else "~" + text


def _cache_dir() -> Any:
    return cache.hub_cache_dir()


def _download(model: NamedModel, args: argparse.Namespace) -> int:
    accepted = frozenset({model.spec.licence.licence.key}) if args.accept_licence and model.spec.licence else frozenset()
    if args.offline:
        os.environ["HF_HUB_OFFLINE"] = "1"
    printer = ProgressPrinter(sys.stderr)
    interrupts = Interrupts().install()

    def progress(message: str, done: int, total: int) -> None:
        printer(Progress(job="download", stage="download", step=done, total=total, message=message))

    try:
        folder = download(model.spec, offline=args.offline or offline_requested(), progress=progress,
                          cancelled=lambda: interrupts.token.cancelled, accepted_licences=accepted)
    except ProtocolError as exc:
        printer.finish()
        print(f"error: {exc.message} [{exc.code.value}]", file=sys.stderr)
        return failure_code(exc)   # a licence not accepted is a refusal (2), as in every command
    finally:
        interrupts.restore()
    printer.finish()
    print(f"{model.name}: {folder}")
    return EXIT_OK

