"""What the C-style targets (OpenCL, CUDA) share: the members whose answer is the same for every
dialect that the C-style renderer writes, so each target's class states only what differs."""
from __future__ import annotations

from typing import Optional, Tuple

__all__ = ["CStyleTarget", "BALANCED_PARENS"]

# balanced text, at most two levels of nested parens: kernel patterns stay bounded (a scan of a reply
# stops at the first paren that does not fit instead of running to its end)
BALANCED_PARENS = r"(?:[^()]|\((?:[^()]|\([^()]*\))*\))*"


class CStyleTarget:
    """Base of a target rendered by the C-style renderer: subclasses set `renderer_class` and their facts."""
    renderer_class: type
    runs_kernels = True
    c_style = True  # rendered by the C-style renderer (generic lowering, templates)
    memory_checked = True  # the interval analysis (analyze/bounds) checks every launch before a run
    kernel_roles: Tuple[str, ...] = ()  # one source holds every kernel (TT-Metal: one per role)
    default_size = 256  # `uhopc compile` without --shapes: every size
    compile_params: Tuple[str, ...] = ()  # CLI options that are parameters of its candidates (TT-Metal: --cores)

    def renderer(self, index_bits: int = 32):
        return self.renderer_class(index_bits)

    def unsupported(self, bound) -> Optional[str]:
        """None: the generic lowering expresses every checked program."""
        return None

    def output_names(self, bound) -> Tuple[str, ...]:
        """Nothing besides the kernel file, spec.json, report.json and host/ (output_folder.OUTPUT_NAMES)."""
        return ()

    def abi_decl(self, arg) -> str:
        """The C type of ABI argument `arg` (lower/spec.py AbiArg) in this dialect."""
        return self.renderer().abi_decl(arg)

    def prompt_baseline(self, bound):
        """(strategy, source) of a baseline for prompts when no compiled kernel is given; None here."""
        return None
