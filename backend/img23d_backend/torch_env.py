"""Makes torchvision importable where its compiled ops do not match torch.

Why this exists: hy3dgen and Qwen3-VL's image processor import torchvision, but some
platforms (a CPU-only torch with the only torchvision wheel on offer being a CUDA build)
ship a torchvision whose compiled operators fail to register (``operator torchvision::nms
does not exist``). Those failures come from two modules that only register fake/autograd
kernels for the compiled ops; nothing in our chain calls those ops. Importing torchvision
with the two modules stubbed lets the pure-Python parts (transforms, io helpers) work.

This is the only place that touches ``sys.modules`` for this; call ``prepare_torchvision()``
before anything imports hy3dgen or transformers' vision processors.
"""

from __future__ import annotations

import sys
import types

_STUBBED = ("torchvision._meta_registrations", "torchvision._autograd_registrations")
_prepared = False


def prepare_torchvision() -> bool:
    """Import torchvision, stubbing its op registrations only if the normal import fails.

    Returns True when the stubs were needed. Safe to call many times.
    """
    global _prepared
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
