"""The backend installer: builds the backend's own Python environment. No bpy in this package.

The same code runs from the add-on's preferences (``img23d.install_backend``, on a worker
thread) and from a terminal (``python client/install_backend.py --target DIR``, ``cli``).
``torch_choice`` picks the torch build (``torch_kernels``: the GPUs each build has kernels
for), ``install`` runs the named steps, ``env_health`` decides between creating, rebuilding and
updating, ``env_lock`` lets one install of an environment run at a time, ``commands`` runs the
child processes (output to the log, killed on cancel), ``task`` runs an install on a thread for
the UI.
"""

from .env_health import EnvHealth, EnvState, check_env, env_python
from .install import InstallCancelled, InstallError, InstallResult, Step, install
from .torch_choice import SystemInfo, TorchChoice, plan_torch, probe_system

__all__ = ["EnvHealth", "EnvState", "InstallCancelled", "InstallError", "InstallResult", "Step", "SystemInfo",
           "TorchChoice", "check_env", "env_python", "install", "plan_torch", "probe_system"]
