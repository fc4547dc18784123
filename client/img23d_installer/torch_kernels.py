"""Which GPUs each PyTorch CUDA build has kernels for, from PyTorch's published support matrix.

A build carries native code for some compute capabilities: the code for X.Y runs on X.Y and on the later minors of
the same major (sm_86's on an 8.9), never on another major. PTX, where a build carries it, is compiled by the driver
for any later capability. A GPU with neither fails at its first CUDA call ("no kernel image is available").
"""

from __future__ import annotations

# pip installs the newest torch an index holds, so each tag's entry is its newest release's: (native code's compute
# capabilities, PTX's or None). Where each fact comes from:
# - cu130, cu128, cu126: PyTorch's CUDA support matrix for 2.10 and 2.11 (pytorch/pytorch#172352, the table of
#   RELEASE.md's "PyTorch CUDA Support Matrix"): 12.6 Maxwell (5.0), Pascal (6.0), Volta (7.0), Turing (7.5), Ampere
#   (8.0, 8.6), Hopper (9.0); 12.8 Turing to Blackwell (7.5 to 10.0, 12.0); 13.0 the same with PTX for 12.0 "on
#   Linux builds only". torch.cuda.get_arch_list() of 2.11.0+cu126 and 2.11.0+cu128, quoted in pytorch/pytorch#182250,
#   says the same. Maxwell and Pascal left cu128 in 2.8 (pytorch/pytorch#157517, pytorch/pytorch#158700) and Volta in
#   2.11 (#172352); PyTorch's notice that 2.14 is the last release with cu126 wheels (dev-discuss.pytorch.org, "CUDA
#   12.6 wheels will no longer be published from PyTorch 2.15") leaves that index serving 2.14's 5.0 to 9.0.
# - cu124 (newest 2.6), cu121 (2.5.1), cu118 (2.7): get_arch_list() of those releases as tabled by
#   github.com/moi90/pytorch_compute_capabilities (its table.md): 5.0 to 9.0 each.
# - Kepler (3.x) is in none: its last driver branch, R470 (NVIDIA's data-center driver lifecycle, quoted in
#   NixOS/nixpkgs#142565), runs CUDA 11.4, older than every index here, and cu118's sm_37 is on record only for its
#   conda packages.
KERNELS: dict[str, tuple[tuple[float, ...], float | None]] = {
    "cu130": ((7.5, 8.0, 8.6, 9.0, 10.0, 12.0), 12.0),
    "cu128": ((7.5, 8.0, 8.6, 9.0, 10.0, 12.0), None),
    "cu126": ((5.0, 6.0, 7.0, 7.5, 8.0, 8.6, 9.0), None),
    "cu124": ((5.0, 6.0, 7.0, 7.5, 8.0, 8.6, 9.0), None),
    "cu121": ((5.0, 6.0, 7.0, 7.5, 8.0, 8.6, 9.0), None),
    "cu118": ((5.0, 6.0, 7.0, 7.5, 8.0, 8.6, 9.0), None),
}
PTX_PLATFORMS = ("linux",)  # sys.platform values whose wheels carry the PTX above (the matrix's note)


def runs_on(tag: str, capability: float, platform: str) -> bool:
    """Whether the CUDA build ``tag`` has kernels for a GPU of compute ``capability`` on ``platform``."""
    native, ptx = KERNELS[tag]
    wanted = _tenths(capability)
    if any(_tenths(code) // 10 == wanted // 10 and _tenths(code) <= wanted for code in native):
        return True
    return ptx is not None and platform in PTX_PLATFORMS and wanted >= _tenths(ptx)


def _tenths(capability: float) -> int:
    """6.1 as 61: whole numbers, as nvidia-smi's one-decimal capabilities compare exactly then."""
    return round(capability * 10)
