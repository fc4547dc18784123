"""Makes hy3dgen's imports work: torchvision where its compiled ops do not match torch, and no pymeshlab.

Why this exists: hy3dgen and Qwen3-VL's image processor import torchvision, but some
platforms (a CPU-only torch with the only torchvision wheel on offer being a CUDA build)
ship a torchvision whose compiled operators fail to register (``operator torchvision::nms
does not exist``). Those failures come from two modules that only register fake/autograd
kernels for the compiled ops; nothing in our chain calls those ops. Importing torchvision
with the two modules stubbed lets the pure-Python parts (transforms, io helpers) work.

pymeshlab: ``hy3dgen.shapegen`` imports its post-processors, which ``import pymeshlab`` at module
level (for type hints; only their functions call it, and img23d never does: the clean-up is its
own). pymeshlab loads libGL and weighs about 100 MB, and a headless server has no OpenGL
libraries, so the backend does not install it. Where ``import pymeshlab`` fails, a stand-in
module is registered under that name: it has the two classes the post-processors name at import
time, and anything that tries to use it gets ``PymeshlabMissing`` saying why it is absent.

This is the only place that touches ``sys.modules`` for these; call ``prepare_torchvision()``
before anything imports hy3dgen or transformers' vision processors.
"""

from __future__ import annotations

import importlib.machinery
import sys
import types
from typing import Any, NoReturn

_STUBBED = ("torchvision._meta_registrations", "torchvision._autograd_registrations")
_prepared = False


def prepare_torchvision() -> bool:
    """Import torchvision, stubbing its op registrations only if the normal import fails.

    Also stands in for pymeshlab where it is absent (``prepare_pymeshlab``): hy3dgen needs both.
    Returns True when the torchvision stubs were needed. Safe to call many times.
    """
    global _prepared
    prepare_pymeshlab()
    if _prepared:
        return torchvision_stubbed()
    _prepared = True
    try:
        import torchvision  # noqa: F401
        return False
    except ImportError:
        return False  # no torchvision at all: the callers that need it will say so
    except RuntimeError:
        # Partially imported modules would poison the retry.
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
    for name in _STUBBED:
        sys.modules[name] = _Stub(name)
    import torchvision  # noqa: F401  (the retry; a failure now is real and propagates)
    return True


def torchvision_stubbed() -> bool:
    """True when torchvision was imported with its op registrations stubbed (its compiled ops
    do not match torch): the pure-Python parts work, ``torchvision.ops`` calls do not."""
    return any(isinstance(sys.modules.get(name), _Stub) for name in _STUBBED)


class _Stub(types.ModuleType):
    """An empty module standing in for torchvision's op-registration modules."""


class PymeshlabMissing(RuntimeError):
    """Something called into the pymeshlab stand-in: only hy3dgen's unused post-processors would."""


def _missing(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise PymeshlabMissing("pymeshlab is not installed (it needs libGL; img23d cleans meshes without it): "
                           "hy3dgen's pymeshlab post-processors cannot run here")


class _NoPymeshlab(types.ModuleType):
    """Stands in for pymeshlab so that ``hy3dgen.shapegen`` imports; using it raises ``PymeshlabMissing``."""

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("__"):  # what import machinery and introspection probe for
            raise AttributeError(name)
        _missing()


def _stand_in_class(name: str) -> type:
    # A class, not a function: the post-processors use these in annotations and Union[...].
    return type(name, (), {"__init__": _missing, "__module__": "pymeshlab"})


def prepare_pymeshlab() -> bool:
    """Register the pymeshlab stand-in if ``import pymeshlab`` fails; True when it is (now) the stand-in.

    Where pymeshlab is installed and loads, it is left alone (and hy3dgen imports the real one).
    """
    if "pymeshlab" not in sys.modules:
        try:
            import pymeshlab  # noqa: F401
            return False
        except ImportError:  # not installed, or installed without the libGL it links against
            module = _NoPymeshlab("pymeshlab", "img23d's stand-in for the absent pymeshlab (env.torch_shims).")
            module.__spec__ = importlib.machinery.ModuleSpec("pymeshlab", None)
            module.MeshSet, module.Mesh = _stand_in_class("MeshSet"), _stand_in_class("Mesh")
            sys.modules["pymeshlab"] = module
    return pymeshlab_stood_in()


def pymeshlab_stood_in() -> bool:
    """True when ``import pymeshlab`` gets the stand-in."""
    return isinstance(sys.modules.get("pymeshlab"), _NoPymeshlab)
