"""How long a batch waits for anything: the defaults of its bounded waits (no heavy imports: the
command line shows them in its help before any engine loads)."""

START_TIMEOUT = 600.0      # seconds a worker may take to start (placed, its constructor run) before it is given up
PICTURE_TIMEOUT = 3600.0   # seconds one picture may run on a worker before it is stopped and tried elsewhere
MAX_TIMEOUTS = 2           # a picture that ran past the limit this often is given up (one retry elsewhere)
CANCEL_GRACE = 60.0        # seconds the running pictures get to close their manifests after Ctrl-C
