"""The Python API: `uhop_cc.compile(...)` returns a kernel you call on NumPy arrays.

    mm = uhop_cc.compile("examples/matmul.uir")          # shapes bound at call time
    C = mm(A, B)
    sm = uhop_cc.compile(text, shapes="R=64,C=1000")      # or bound up front (validated and timed now)

Each distinct set of sizes is bound, generated, built and validated once and
then cached on the object.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple, Union

import numpy as np

from . import ir, targets
from .ir import sizes_from_arrays
from .ir.typed import NUMPY_DTYPE


class KernelError(RuntimeError):
    """A kernel that could not be generated, built or validated."""


def _read_source(source_or_path: Union[str, Path]) -> Tuple[str, str]:
    """A path (a Path, or a one-line string naming an existing file or ending in `.uir`) is read;
    anything else is UIR text. A path may contain the word `kernel` (`/tmp/my_kernels/relu.uir`)."""
    if isinstance(source_or_path, Path):
        return source_or_path.read_text(encoding="utf-8"), str(source_or_path)
    text = str(source_or_path)
    if "\n" not in text and "{" not in text and (text.strip().endswith(".uir") or Path(text).is_file()):
        path = Path(text.strip())
        if not path.is_file():
            raise FileNotFoundError(f"no UIR file {path}")
        return path.read_text(encoding="utf-8"), str(path)
    return text, "<string>"


class CompiledKernel:
    def __init__(self, checked: ir.CheckedKernel, target: str, device, strategy: str, validate: bool):
        self.checked = checked
        self.target = target
        self.strategy = strategy
        self.validate = validate
        self._device = device
        self._cache: Dict[Tuple[Tuple[str, int], ...], Any] = {}

    @property
    def name(self) -> str:
        return self.checked.name

    @property
    def device(self):
        """The target's device (opened on first use; an int or str picks one, as `uhopc devices` lists)."""
        if self._device is None or isinstance(self._device, (int, str)):
            self._device = targets.get(self.target).open_device(self._device)
        return self._device

    def specialize(self, sizes: Mapping[str, int], time: bool = False):
        """Bind, generate, build and validate for these sizes (cached); returns the CompileResult."""
        from .pipeline import compile_bound  # here: `import uhop_cc` does not load the verify and ai stacks
        key = tuple(sorted((k, int(v)) for k, v in sizes.items()))
        if key not in self._cache:
            bound = ir.bind_shapes(self.checked, dict(sizes))
            # use_cache=False: a cached LLM kernel is untrusted and never runs in this process
            result = compile_bound(bound, target=self.target, device=self.device, strategy=self.strategy,
                                   validate=self.validate, time=time, use_cache=False)
            if not result.ok:
                raise KernelError(f"{self.name}: {result.reason}")
            self._cache[key] = (bound, result)
        return self._cache[key][1]

    def _sizes_from(self, arrays: Dict[str, np.ndarray]) -> Dict[str, int]:
        return sizes_from_arrays(self.checked, {name: a.shape for name, a in arrays.items()})

    def __call__(self, *args, **kwargs):
        params = list(self.checked.inputs)
        if len(args) > len(params):
            raise TypeError(f"{self.name}() takes {len(params)} inputs, got {len(args)}")
        values: Dict[str, Any] = {}
        for p, a in zip(params, args):
            values[p.name] = a
        for k, v in kwargs.items():
            if k in values:
                raise TypeError(f"{self.name}() got `{k}` twice")
            if k not in {p.name for p in params}:
                raise TypeError(f"{self.name}() has no input `{k}`")
            values[k] = v
        missing = [p.name for p in params if p.name not in values]
        if missing:
            raise TypeError(f"{self.name}() is missing input(s): {', '.join(missing)}")
        arrays = {p.name: np.ascontiguousarray(values[p.name], dtype=NUMPY_DTYPE[p.dtype])
                  for p in params if not p.is_scalar}
        sizes = self._sizes_from(arrays)
        result = self.specialize(sizes)
        bound = self._cache[tuple(sorted(sizes.items()))][0]
        inputs = dict(arrays)
        inputs.update({p.name: values[p.name] for p in params if p.is_scalar})
        run = self.device.run(result.program, result.stages, bound, inputs)
        bad = run.oob_writes
        if bad:
            raise KernelError(f"{self.name}: out-of-bounds write detected: {bad[0].describe()}")
        outs = tuple(run.outputs[p.name] for p in self.checked.outputs)
        return outs[0] if len(outs) == 1 else outs

    def source(self, sizes: Optional[Mapping[str, int]] = None) -> str:
        if sizes is None:
            if not self._cache:
                raise ValueError("no specialisation yet: pass sizes or call the kernel first")
            return next(iter(self._cache.values()))[1].kernel.source
        return self.specialize(sizes).kernel.source


def _check_runs(target: str) -> None:
    """KernelError unless `target` can run kernels on this machine: the API returns callables."""
    t = targets.get(target)
    mode, why = t.mode()
    if not t.runs_kernels or mode != "run":
        raise KernelError(f"target `{target}` cannot run kernels here: {why}")


def compile(source_or_path: Union[str, Path], target: str = targets.DEFAULT,
            shapes: Union[str, Mapping[str, int], None] = None, kernel: Optional[str] = None, device=None,
            strategy: str = "auto", validate: bool = True) -> CompiledKernel:
    """Compile a UIR kernel; raises `ir.UirError` for bad UIR and `KernelError` for kernels that fail,
    or for a target that cannot run kernels here (CUDA without a GPU: the CLI's compile check is
    `uhopc compile --target cuda`)."""
    if device is None or isinstance(device, (int, str)):
        _check_runs(target)
    text, filename = _read_source(source_or_path)
    checked = ir.select_kernel(ir.load(text, filename), kernel)
    ck = CompiledKernel(checked, target, device, strategy, validate)
    if shapes is not None:
        sizes = ir.parse_shapes(shapes, checked) if isinstance(shapes, str) else dict(shapes)
        ck.specialize(sizes)
    return ck
