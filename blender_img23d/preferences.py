"""Add-on preferences: which backend, which models, which device, where runs are kept."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import bpy
import img23d_protocol as protocol
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty
from img23d_client.process import LaunchSettings
from img23d_client.remote import RemoteHost
from img23d_installer.torch_choice import CUDA_TAGS

from . import licence_consent, preferences_draw
from .user_folders import ADDON_ID, installed_env_python, user_dir

# Each family's shape models, each menu item its protocol row's name, label and description (what the command
# line's --shape help says of it too). Built here, not in the annotation: Blender evaluates annotations where a
# comprehension cannot see this module's names.
SHAPE_ITEMS_BY_FAMILY = {
    family: [(kind.name, kind.label, kind.description)
             for kind in protocol.SHAPE_MODELS.values()
             if kind.name not in protocol.TINY_MODELS and kind.family == family]
    for family in protocol.MODEL_FAMILIES}
# Each family's paint models an artist chooses between (none: its one paint model is its own), from their rows.
PAINT_ITEMS_BY_FAMILY = {
    family: [(kind.name, kind.label, kind.description) for kind in protocol.PAINT_MODELS.values()
             if kind.family == family]
    for family in protocol.MODEL_FAMILIES}


def shape_property(family: str) -> str:
    """The preference that holds ``family``'s shape choice: ``shape`` for the default family (its
    name since before there were families), ``<family>_shape`` for each other."""
    return "shape" if family == protocol.DEFAULT_FAMILY else f"{family}_shape"


# The model families (protocol.families): Hunyuan3D-2, or the licence-clean Step1X-3D.
FAMILY_ITEMS = [(family.name, family.label, family.description) for family in protocol.MODEL_FAMILIES.values()]
# The image editors (protocol.editors): FLUX.2 [klein] 4B, or Qwen-Image-Edit-2511 for a large GPU.
EDITOR_ITEMS = [(editor.name, editor.label, editor.description) for editor in protocol.IMAGE_EDITORS.values()]
# The grounding and matting models (protocol.shared_models), with what each reads and its size.
GROUNDING_ITEMS = [(row.name, row.label, row.description) for row in protocol.GROUNDING_MODELS.values()]
MATTING_ITEMS = [(row.name, row.label, row.description) for row in protocol.MATTING_MODELS.values()]
DEPTH_ITEMS = [(row.name, row.label, row.description) for row in protocol.DEPTH_MODELS.values()]
# What the real model set downloads: the chosen grounding and matting models (the defaults named) and the family's.
REAL_MODELS = (f"{protocol.GROUNDING_MODELS[protocol.DEFAULT_GROUNDING_MODEL].label}, "
               f"{protocol.MATTING_MODELS[protocol.DEFAULT_MATTING_MODEL].label} and the family's models")
# The paint models an artist chooses between (the turbo one, the default, is upstream's own default).
PAINT_ITEMS = [item for items in PAINT_ITEMS_BY_FAMILY.values() for item in items]


def _least_cap(prefs: "Img23dPreferences", _context: bpy.types.Context) -> None:
    """A Memory Cap above 0 and below the least the backend runs in is raised to that least: the backend would refuse
    it at start, in its log, where the artist never reads it (0 stays: no cap)."""
    if 0 < prefs.memory_cap_gb < protocol.BUDGET_GB_MIN:
        prefs.memory_cap_gb = protocol.BUDGET_GB_MIN


class Img23dPreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    python_path: StringProperty(  # type: ignore[valid-type]
        name="Backend Python", subtype="FILE_PATH",
        description="Python interpreter of an environment that has the img23d backend's packages. "
                    "Empty: the environment made by 'Install backend'")
    backend: EnumProperty(  # type: ignore[valid-type]
        name="Backend", default="LOCAL",
        items=[("LOCAL", "This Computer", "The backend runs here, with the environment Install Backend made"),
               ("SSH", "SSH", "The backend runs on another machine (a workstation, a server, a rented GPU), "
                              "started with your system's ssh: its keys, agent and ~/.ssh/config")])
    ssh_host: StringProperty(  # type: ignore[valid-type]
        name="Host", description="As ssh understands it: user@host, host, or an alias from your ~/.ssh/config. "
                                 "Keys and host keys are ssh's own: no password is stored")
    ssh_port: IntProperty(name="Port", default=0, min=0, max=65535,  # type: ignore[valid-type]
                          description="0: ssh's own (your ~/.ssh/config, else 22)")
    ssh_config: StringProperty(  # type: ignore[valid-type]
        name="SSH Config File", subtype="FILE_PATH",
        description="Optional: an ssh config file of its own (ssh -F), e.g. a studio's. Empty: your ~/.ssh/config")
    ssh_python: StringProperty(  # type: ignore[valid-type]
        name="Host's Python", default="~/.local/share/img23d/backend-env/bin/python",
        description="The backend environment's Python on the host (Install Backend with SSH chosen makes it)")
    ssh_install_python: StringProperty(  # type: ignore[valid-type]
        name="Host's Python for Install", default="python3",
        description="The host's Python (3.10 to 3.13) that Install Backend builds the environment on, "
                    "by name or path")
    ssh_runs_dir: StringProperty(  # type: ignore[valid-type]
        name="Host's Runs Folder", default="~/img23d-runs",
        description="Where the backend keeps its run folders on the host; each comes back to the Runs Folder here")
    family: EnumProperty(  # type: ignore[valid-type]
        name="Model Family", default=protocol.DEFAULT_FAMILY, items=FAMILY_ITEMS,
        description="Which shape (and texture) models make the objects. Hunyuan3D-2's licence excludes the "
                    "European Union, the United Kingdom and South Korea; the licence-clean family does not")
    model_set: EnumProperty(  # type: ignore[valid-type]
        name="Models", default="DEFAULT",
        items=[("DEFAULT", "Real models", f"{REAL_MODELS} from the Hugging Face hub"),
               ("TINY", "Tiny (offline test)", "Tiny random-weight replicas: fast, offline, garbage shapes")])
    grounding: EnumProperty(  # type: ignore[valid-type]
        name="Grounding", default=protocol.DEFAULT_GROUNDING_MODEL, items=GROUNDING_ITEMS)
    paint: EnumProperty(  # type: ignore[valid-type]
        name="Paint", default=protocol.DEFAULT_PAINT_MODEL,
        items=PAINT_ITEMS)
    matting: EnumProperty(  # type: ignore[valid-type]
        name="Matting", default=protocol.DEFAULT_MATTING_MODEL, items=MATTING_ITEMS)
    depth: EnumProperty(  # type: ignore[valid-type]
        name="Depth", default=protocol.DEFAULT_DEPTH_MODEL, items=DEPTH_ITEMS)
    # The backend's --editor choices (protocol.editors), with the size and card each needs.
    editor: EnumProperty(  # type: ignore[valid-type]
        name="Image Editor", default=protocol.DEFAULT_IMAGE_EDITOR, items=EDITOR_ITEMS)
    device: EnumProperty(  # type: ignore[valid-type]
        name="Device", default="auto",
        items=[("auto", "Automatic", "CUDA, then Apple MPS, then CPU"), ("cuda", "CUDA GPU", ""),
               ("mps", "Apple MPS", ""), ("cpu", "CPU (slow)", "")])
    grounding_on_cpu: BoolProperty(  # type: ignore[valid-type]
        name="Grounding on CPU", default=False,
        description="Run the grounding model on the CPU, in RAM, and the others on the GPU: it fits a "
                    "smaller card, at the cost of slower grounding")
    warm_up: BoolProperty(  # type: ignore[valid-type]
        name="Warm Up", default=False,
        description="When the backend starts, run one small job on a made-up picture, so the first real job does "
                    "not pay for loading kernels and caches (the seconds it took are shown in the status)")
    budget_gb: FloatProperty(  # type: ignore[valid-type]
        name="Memory Budget (GB)", default=0.0, min=0.0, max=protocol.BUDGET_GB_MAX,
        description="Device memory the models may use. 0: free memory minus 1 GB")
    # The backend's --memory-cap-gb: 0 is no cap, else at least the least it runs in (``_least_cap``).
    memory_cap_gb: FloatProperty(  # type: ignore[valid-type]
        name="Memory Cap (GB)", default=0.0, min=0.0, max=protocol.BUDGET_GB_MAX, update=_least_cap,
        description="Device memory the whole backend may use, models and working memory together (a GPU's "
                    "allocator is held to it): models that do not fit under it together take turns, slower. "
                    f"0: no cap; else at least {protocol.BUDGET_GB_MIN:g}")
    runs_dir: StringProperty(  # type: ignore[valid-type]
        name="Runs Folder", subtype="DIR_PATH",
        description="Where each job's folder is kept. Empty: the add-on's user folder")
    watchdog_seconds: FloatProperty(  # type: ignore[valid-type]
        name="Watchdog (s)", default=600.0, min=0.0, max=86400.0,
        description="A busy backend that reports nothing for this long is stopped and the job fails "
                    "(0: never). Loading big models from a slow disk can take minutes")
    offline: BoolProperty(  # type: ignore[valid-type]
        name="Offline", default=False, description="Never download models, even when online access is allowed")
    hf_token: StringProperty(  # type: ignore[valid-type]
        name="Hugging Face Token", subtype="PASSWORD",
        description="Only for gated or private models. Given to the backend in its environment (HF_TOKEN), "
                    "never on its command line or in logs; kept in Blender's preferences file")
    accepted_licences: StringProperty(  # type: ignore[valid-type]
        name="Accepted Licences", options={"HIDDEN"},
        description="Keys of the model licences you accepted (asked before a restricted model's first "
                    "download), comma-separated; sent with every job and download")
    install_python: StringProperty(  # type: ignore[valid-type]
        name="Python for Install", subtype="FILE_PATH",
        description="The Python (3.10 to 3.13) that Install Backend builds the environment on. "
                    "Empty: Blender's own Python")
    torch_build: EnumProperty(  # type: ignore[valid-type]
        name="PyTorch Build", default="auto",
        description="Which PyTorch build Install Backend puts in the environment",
        items=[("auto", "Automatic", "CUDA for the NVIDIA driver found, Apple's GPU on Apple Silicon, else CPU"),
               ("cpu", "CPU only", "No GPU (slow)"),
               *((tag, f"CUDA {major}.{minor} ({tag})", f"For NVIDIA drivers that support CUDA {major}.{minor}")
                 for (major, minor), tag in CUDA_TAGS),
               ("pypi", "PyPI default", "Whatever pip installs by default on this system")])

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.operator("img23d.open_guide", text="Help: installing the backend", icon="HELP").place = "preferences"
        preferences_draw.draw_backend_setup(layout, self)
        layout.prop(self, "family")
        layout.prop(self, "model_set")
        column = layout.column()
        column.enabled = self.model_set == "DEFAULT"
        column.prop(self, "grounding")
        for family in protocol.MODEL_FAMILIES.values():  # each family's choices, the chosen family's enabled
            choices = column.column()
            choices.enabled = self.family == family.name
            choices.prop(self, shape_property(family.name))
            if PAINT_ITEMS_BY_FAMILY[family.name]:
                choices.prop(self, "paint")
            else:  # its one paint model is its own
                choices.label(text=f"Paint: {family.paint_label}")
        column.prop(self, "matting")
        column.prop(self, "depth")
        column.prop(self, "editor")
        layout.prop(self, "device")
        layout.prop(self, "grounding_on_cpu")
        layout.prop(self, "warm_up")
        layout.prop(self, "budget_gb")
        layout.prop(self, "memory_cap_gb")
        layout.prop(self, "runs_dir")
        layout.prop(self, "watchdog_seconds")
        if not bpy.app.online_access:
            layout.label(text="Online access is off in Blender (System > Network): models are only "
                              "loaded from the local cache", icon="ERROR")
        layout.prop(self, "hf_token")
        preferences_draw.draw_models(layout, self)

    def install_interpreter(self) -> Path | None:
        """The interpreter Install Backend builds on; None means Blender's own."""
        return Path(bpy.path.abspath(self.install_python)) if self.install_python.strip() else None

    def accepted_licence_keys(self) -> list[str]:
        return licence_consent.parse(self.accepted_licences)

    def accept_licence(self, key: str) -> None:
        """Remember that the artist accepted this licence (saved with Blender's preferences)."""
        self.accepted_licences = licence_consent.with_key(self.accepted_licences, key)

    def shape_name(self) -> str:
        """The shape model the backend is started with: the chosen one of the family."""
        return getattr(self, shape_property(self.family))

    def shape_model(self) -> "protocol.ShapeModelKind":
        """The shape model the backend will run: the chosen one, or the tiny replica's."""
        family = protocol.model_family(self.family)
        if self.model_set != "TINY":
            return protocol.shape_model_kind(self.shape_name())
        if protocol.shape_model_kind(self.shape_name()).labels:  # the tiny set has the Label model's replica too
            return protocol.shape_model_kind(protocol.TINY_STEP1X_LABEL_MODEL)
        return protocol.shape_model_kind(family.tiny_shape)

    def model_configuration(self) -> tuple[str, ...]:
        """The choices that decide which models the backend lists (the catalog is for these)."""
        shapes = tuple(getattr(self, shape_property(family)) for family in protocol.MODEL_FAMILIES)
        return (self.model_set, self.family, self.grounding, *shapes, self.paint, self.matting, self.depth,
                self.editor)

    def launch_settings(self) -> LaunchSettings:
        python = Path(bpy.path.abspath(self.python_path)) if self.python_path else installed_env_python()
        # Absolute, once: the backend starts inside its runs folder and is told to write there, so a relative
        # one ("runs", or "//runs" in a .blend not saved yet) nested each run in a second "runs", and every
        # object was tagged with a run folder that did not exist.
        runs = Path(bpy.path.abspath(self.runs_dir)).expanduser().absolute() if self.runs_dir else user_dir() / "runs"
        return LaunchSettings(
            python=python, runs_dir=runs, models=self.model_set.lower(), grounding=self.grounding,
            family=self.family, shape=self.shape_name(), paint=self.paint, matting=self.matting, depth=self.depth,
            editor=self.editor,
            device=self.device, budget_gb=self.budget_gb, memory_cap_gb=self.memory_cap_gb,
            device_for={"grounding": "cpu"} if self.grounding_on_cpu else {},
            warm_up=self.warm_up,
            # Blender's own switch wins: no download unless the user allowed online access.
            offline=self.offline or not bpy.app.online_access, watchdog_seconds=self.watchdog_seconds,
            log_path=user_dir() / "logs" / "backend.log",
            extra_env={"HF_TOKEN": self.hf_token.strip()} if self.hf_token.strip() else {},
            remote=self.remote_host())

    def remote_host(self) -> RemoteHost | None:
        """The SSH backend's settings, or None for a backend on this computer."""
        if self.backend != "SSH":
            return None
        # As typed (~ expanded), never made absolute against the open .blend: a "//" path is refused
        # by RemoteHost.check, in one sentence, rather than meaning another file in every project.
        config = Path(os.path.expanduser(self.ssh_config.strip())) if self.ssh_config.strip() else None
        return RemoteHost(host=self.ssh_host, python=self.ssh_python, runs_dir=self.ssh_runs_dir, port=self.ssh_port,
                          config_file=config)



def _shape_choice(family: protocol.ModelFamily) -> Any:  # a property Blender builds at registration
    name = "Shape" if family.name == protocol.DEFAULT_FAMILY else f"{family.label.split(' (')[0]} Shape"
    return EnumProperty(name=name, default=family.shape, items=SHAPE_ITEMS_BY_FAMILY[family.name],
                        description=f"The shape model of the family {family.label}")


# One shape choice per model family (protocol.MODEL_FAMILIES), added before the class is registered.
for _family in protocol.MODEL_FAMILIES.values():
    Img23dPreferences.__annotations__[shape_property(_family.name)] = _shape_choice(_family)


def get(context: bpy.types.Context | None = None) -> Img23dPreferences:
    context = context or bpy.context
    return context.preferences.addons[ADDON_ID].preferences


classes = (Img23dPreferences,)
