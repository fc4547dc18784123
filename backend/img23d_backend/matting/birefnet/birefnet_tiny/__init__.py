"""Remote-code files for the tiny BiRefNet replica (see ``img23d_backend.replicas.build``).

These files are copied verbatim into the replica folder so that
``AutoModelForImageSegmentation.from_pretrained(folder, trust_remote_code=True)`` loads them exactly
as it loads the real BiRefNet repository's ``birefnet.py`` / ``BiRefNet_config.py``. They are a
tiny stand-in written for tests, not BiRefNet's architecture.
"""
