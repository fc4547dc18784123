"""``python -m img23d_backend.replicas [--out DIR] [--force]``: build the tiny replicas, print the folder."""

from .build import main

raise SystemExit(main())
