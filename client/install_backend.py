"""Install or repair the img23d backend's environment from a terminal (the add-on's Install button's code).

    python client/install_backend.py --target ~/img23d-backend
    python client/install_backend.py --plan

This folder holds the add-on's bpy-free packages (``img23d_client``, ``img23d_installer``), which
this script imports by name (Python puts a script's folder on the path). Outside Blender nobody
installed the protocol's wheel: it is put on the path here, where a pure-Python wheel imports as
a zip. Options and exit codes: ``img23d_installer/cli.py``.
"""

from __future__ import annotations

import sys

# Before any import of ours: they need 3.10 (an ImportError said so). The base's upper bound is --python's, checked
# by the installer (check_interpreter): a newer Python may run it for a 3.10 to 3.13 base.
if sys.version_info < (3, 10):
    sys.exit("error: this is Python %d.%d; the installer needs Python 3.10 or newer to run (and a base of 3.10 to "
             "3.13 for the environment: --python)" % tuple(sys.version_info[:2]))

from img23d_client import paths  # noqa: E402

sys.path.append(str(paths.protocol_wheel()))  # after the environment's own: an installed protocol wins

from img23d_installer.cli import main  # noqa: E402  (it imports the protocol)

if __name__ == "__main__":
    sys.exit(main())
