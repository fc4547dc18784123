"""Install or repair the img23d backend's environment from a terminal, from the installed add-on
(the Install Backend button's code, for a machine where Blender's own window is no help):

    python <Blender user folder>/extensions/user_default/img23d/install_backend.py --plan
    python <Blender user folder>/extensions/user_default/img23d/install_backend.py --target ~/img23d-backend

Blender installs the add-on's wheels (the client, the installer, the protocol) into its own
site-packages, which another Python does not see: this script imports them straight from the
add-on's ``wheels/`` (a pure-Python wheel imports as a zip) and tells the client that the add-on's
files (``backend/``, ``wheels/``) are in this folder. Blender never imports this file. In a
checkout, ``client/install_backend.py`` does the same. Options and exit codes: ``img23d_installer.cli``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# First on the path: the wheels this add-on was built with, not an older copy installed elsewhere.
sys.path[:0] = [str(wheel) for wheel in sorted((HERE / "wheels").glob("img23d_*-py3-none-any.whl"))]

from img23d_client import paths  # noqa: E402  (from the wheels put on the path above)
from img23d_installer.cli import main  # noqa: E402

paths.ship_from(HERE)  # the backend to install is the one beside this file

if __name__ == "__main__":
    sys.exit(main())
