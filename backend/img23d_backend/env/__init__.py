"""The process's surroundings: the device, the torch shims, the failpoints tests arm, and interrupts."""
