"""Names of the files in a run folder that are not results."""

# A write in progress (or cut short by a kill), and the room a running job keeps to close its
# manifest on a full disk. Whoever reads a run that no live job is writing (the backend's
# recovery pass, the add-on's Import Run) removes them.
RUN_TEMP_PREFIX = ".tmp-"
RUN_RESERVE_NAME = ".img23d-reserve"
