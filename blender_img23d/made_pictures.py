"""A picture made from the panel's Prompt, brought into Blender: loaded as an image and picked in the panel (its
preview shown), by Make Picture and by a Generate from a prompt. Picked, it is what the next Generate, Detect and
Re-texture read, and Regenerate finds it in the run folder it came from (``input.png``). Make Picture's
variations are loaded beside it (``load``), for the artist to pick another.

Each is packed into the .blend (a moved .blend kept only a link to a run folder it no longer had) and tagged with
the prompt and seed it was made from: a Generate from it names its run and objects from the prompt, and says in
one sentence when the panel's Prompt is another (``prompt_unused``), and sends the prompt and seed with the picture
for its run's manifest to keep (``made_from``). Each is checked from its header before it is
loaded, within its job's picture budget (``texture_guard.picture_budget``), and Make Picture takes no more pictures
than it asked for (``load_made``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy
import img23d_protocol as protocol
from img23d_client import texture_guard

from . import scene_import

# On a made picture's image: the prompt and the seed it was made from (``scene_import.tag``: a seed past 32 bits as
# its digits).
PROMPT_TAG = scene_import.PROP_PREFIX + "prompt"
SEED_TAG = scene_import.PROP_PREFIX + "seed"


class TooMany(Exception):
    """A result that lists more pictures than were asked for: none is loaded (the sentence says why)."""


def pick(scene: bpy.types.Scene, path: str, notes: list[str], prompt: str = "", seed: int | None = None,
         budget: texture_guard.RunBudget | None = None) -> bpy.types.Image | None:
    """The picture at ``path`` (from the backend's ``picture`` artifact) loaded as an image (``load``) and picked in
    ``scene``'s panel; None, with one sentence in ``notes``, when it cannot be read."""
    image = load(path, notes, prompt=prompt, seed=seed, budget=budget)
    if image is not None:
        settings = scene.img23d
        settings.image_source = "DATABLOCK"
        settings.image = image
    return image


def load(path: str, notes: list[str], number: int = 1, prompt: str = "", seed: int | None = None,
         budget: texture_guard.RunBudget | None = None) -> bpy.types.Image | None:
    """The picture at ``path`` loaded as an image with its preview, packed and tagged with its ``prompt`` and
    ``seed``, not picked: Make Picture's variation ``number`` (from 1) for the artist to pick in the panel's Image;
    None, with one sentence in ``notes``, when it cannot be read or would take ``budget`` (the job's pictures',
    else one picture's) past its limit."""
    try:
        # Checked from its header first, as every image from a backend is: a 12,000 px picture took 600 MB.
        scene_import.check_image(Path(path), budget if budget is not None else texture_guard.picture_budget(1))
        image = bpy.data.images.load(str(Path(path)), check_existing=True)
    except scene_import.ImportFailed as exc:
        notes.append(f"The picture made from the prompt is not loaded: {exc}")
        return None
    except RuntimeError as exc:  # Blender's sentence for a file it cannot read
        notes.append(f"The picture made from the prompt could not be loaded from {path}: {exc}")
        return None
    # Named for its run folder: every run's picture is input.png, and the artist tells them apart by run.
    image.name = f"{Path(path).parent.name} picture" + (f" v{number}" if number > 1 else "")
    # Kept in the .blend while not picked: the ones to pick from had no user and were gone once it was reopened.
    image.use_fake_user = True
    try:
        image.pack()  # in the .blend: Generate and Re-texture write it out again when its file is gone
    except RuntimeError as exc:
        notes.append(f"The picture '{image.name}' stays linked to {path}, not packed into the .blend: {exc}")
    if prompt:
        scene_import.tag(image, prompt=prompt, seed=seed)
    image.preview_ensure()
    return image


def load_made(scene: bpy.types.Scene, pictures: list[str], seeds: list[int], asked: int, prompt: str,
              notes: list[str]) -> list[bpy.types.Image | None]:
    """Make Picture's result: its ``pictures`` (with their ``seeds``), the first picked and the others loaded
    beside it (``load``), within one budget of ``asked`` pictures. A result that lists more than ``asked`` is
    ``TooMany`` in one sentence, nothing loaded: a hostile host listed 10 for 2 asked, each loaded. Each picture
    that cannot be loaded is None, with its sentence in ``notes``."""
    if len(pictures) > asked:
        raise TooMany(f"The backend's result lists {len(pictures)} pictures for the {asked} asked, so none is "
                      "loaded: make the picture again")
    if not pictures:
        return []
    budget = texture_guard.picture_budget(asked)
    first = pick(scene, pictures[0], notes, prompt, _seed(seeds, 0), budget)
    if first is None:
        return [None]
    return [first] + [load(path, notes, number, prompt, _seed(seeds, number - 1), budget)
                      for number, path in enumerate(pictures[1:], 2)]


def _seed(seeds: list[int], index: int) -> int | None:
    return seeds[index] if index < len(seeds) else None


def made_prompt(image: bpy.types.Image) -> str:
    """The prompt ``image`` was made from (``PROMPT_TAG``), "" for any other image."""
    value = image.get(PROMPT_TAG)
    return value if isinstance(value, str) else ""


def made_from(image: bpy.types.Image) -> tuple[str, int | None]:
    """What a Generate from ``image`` sends of it (``image_prompt``, ``image_seed``): the prompt and seed img23d made
    it from, each as the backend checks it; ("", None) for any other image. A tag edited into what the backend
    refuses (a prompt of 3,000 characters, a seed of -1) is left out: it is a record, and the picture is still sent."""
    prompt = made_prompt(image)
    if not prompt.strip():
        return "", None
    try:
        prompt = protocol.validate_image_prompt(prompt)
    except protocol.ProtocolError:
        prompt = ""
    seed = image.get(SEED_TAG)
    if isinstance(seed, str) and seed.isascii() and seed.isdigit():  # a seed past 32 bits, kept as its digits
        seed = int(seed)
    try:
        return prompt, protocol.validate_image_seed(seed) if isinstance(seed, int) else None
    except protocol.ProtocolError:
        return prompt, None


def made_name(image: bpy.types.Image) -> str:
    """A made picture's short name (``protocol.name_from_prompt``: "wooden barrel beside"), by which a Generate from
    it names its run folder, its collection and, with no names, its object; "" for any other image."""
    prompt = made_prompt(image)
    return protocol.name_from_prompt(prompt) if prompt.strip() else ""


def prompt_unused(settings: Any) -> str:
    """One sentence when a Generate would leave the panel's Prompt unused: an image is picked (a file, or an
    image of the .blend) and the Prompt is not the one it was made from (a photo was made from none); else ""."""
    typed = " ".join(settings.prompt.split())
    if not typed:
        return ""
    if settings.image_source == "DATABLOCK":
        image = settings.image
        if image is None:
            return ""
        if " ".join(made_prompt(image).split()) == typed:
            return ""
        picked = f"'{image.name}'" + (" (made from another prompt)" if made_prompt(image) else "")
    else:
        if not settings.image_path.strip():
            return ""
        picked = f"'{Path(bpy.path.abspath(settings.image_path)).name}'"
    return (f"The Prompt is not used while an image is picked: Generate makes the objects from {picked}; press "
            "Make Picture for the Prompt's picture, or clear Image to make it with the objects")
