"""The chain's jobs: image + names -> grounding -> crop -> matting -> shape -> clean-up -> GLB per name.

``Engine`` (engine.py, over context.py) owns the device and the model manager for the life of the process and
runs one job at a time for whoever drives it (the JSON-lines server or the CLI). Each kind of
job is one module (generate, detect, retexture) on a shared base (base.py: the run folder,
stage timing, progress, cancellation, the out-of-memory retry). Events go out through the
job's ``emit`` callback; files go into the job's run folder.
"""

from .engine import Engine, EngineSettings, Job

__all__ = ["Engine", "EngineSettings", "Job"]
