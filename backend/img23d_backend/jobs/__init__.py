"""The chain's jobs: image + names -> grounding -> crop -> matting -> shape -> clean-up -> GLB per name.

The engine is this package's top: ``Engine`` (engine.py, over context.py) owns the device and the model manager
for the life of the process and runs one job at a time for whoever drives it (the JSON-lines server or the CLI),
each request as its kind says in the job table (``engine.JOBS``). Each kind of job is one module in ``kinds/``
on a shared base (base.py: the run folder, stage timing, progress, cancellation, the out-of-memory retry); each
chain step a kind runs is in ``steps/``, its driver beside the work only it does. Events go out through the
job's ``emit`` callback; files go into the job's run folder.
"""

from .engine import Engine, EngineSettings, Job

__all__ = ["Engine", "EngineSettings", "Job"]
