"""Test inputs from several distributions, so that no kernel passes by the luck of narrow data.

Inputs uniform in [-1, 1) let `clamp(x, 0, 1)` pass for relu and hide cancellation; a
validation therefore draws each input set from one of these distributions:

| name     | floats                                              | i32                    |
| uniform  | U[-1, 1)                                            | U[-8, 8)               |
| normal   | N(0, 1)                                             | U[-100, 100)           |
| wide     | U[-100, 100)                                        | U[-1000, 1000)         |
| heavy    | Student t, 2 degrees of freedom (heavy tails)       | U[-8, 8)               |
| large    | sign * 10^U[2, 4) (magnitudes 100 .. 10000)         | U[-10^4, 10^4)         |
| constant | one random value per tensor                         | one value per tensor   |
| sparse   | 90% zeros, the rest N(0, 1)                         | 90% zeros              |
| special  | N(0, 1) with -0.0 and denormals; NaN and +-Inf too  | U[-8, 8)               |
|          | where the program's float operations propagate them |                        |
|          | as IEEE C does (no max/min/relu/select/comparison)  |                        |

Float scalars are drawn like the tensors but kept in [0.5, 1.5) for 'uniform' (the old
default); i32 scalars stay in [1, 4): they are often strides or divisors.
"""
from __future__ import annotations

from typing import Dict, Tuple, Union

import numpy as np

from ..ir import nodes as N
from ..ir.typed import NUMPY_DTYPE

__all__ = ["DISTRIBUTIONS", "make_inputs", "ieee_transparent"]

DISTRIBUTIONS: Tuple[str, ...] = ("uniform", "normal", "wide", "heavy", "large", "constant", "sparse", "special")
# operations whose NaN/Inf behaviour in C (fmax ignores NaN, comparisons are false) differs from NumPy's
_OPAQUE_CALLS = {"max", "min", "relu", "select", "floor", "ceil", "pow", "i32"}
_OPAQUE_OPS = {"==", "!=", "<", "<=", ">", ">=", "and", "or", "%"}


def ieee_transparent(checked) -> bool:
    """True when NaN and Inf inputs give the same results in C as in the reference."""
    for s in checked.body:
        for e in N.walk(s.value):
            if isinstance(e, N.Call) and e.fn in _OPAQUE_CALLS:
                return False
            if isinstance(e, N.Binary) and e.op in _OPAQUE_OPS:
                return False
            if isinstance(e, N.Reduce) and e.op in ("max", "min"):
                return False
    return True


def _floats(rng: np.random.Generator, kind: str, shape, transparent: bool) -> np.ndarray:
    if kind == "uniform":
        return rng.uniform(-1.0, 1.0, size=shape)
    if kind == "normal":
        return rng.standard_normal(size=shape)
    if kind == "wide":
        return rng.uniform(-100.0, 100.0, size=shape)
    if kind == "heavy":
        return np.clip(rng.standard_t(2, size=shape), -1e4, 1e4)
    if kind == "large":
        return rng.choice([-1.0, 1.0], size=shape) * 10.0 ** rng.uniform(2.0, 4.0, size=shape)
    if kind == "constant":
        return np.full(shape, rng.uniform(-2.0, 2.0))
    if kind == "sparse":
        return np.where(rng.random(size=shape) < 0.9, 0.0, rng.standard_normal(size=shape))
    if kind == "special":
        x = rng.standard_normal(size=shape)
        flat = x.reshape(-1)
        specials = [-0.0, 1e-40, -3e-39] + ([np.nan, np.inf, -np.inf] if transparent else [])
        if flat.size:
            picks = rng.choice(flat.size, size=min(flat.size, 2 * len(specials)), replace=False)
            for k, at in enumerate(picks):
                flat[at] = specials[k % len(specials)]
        return x
    raise ValueError(f"unknown input distribution {kind!r} (known: {', '.join(DISTRIBUTIONS)})")


def _ints(rng: np.random.Generator, kind: str, shape) -> np.ndarray:
    lim = {"normal": 100, "wide": 1000, "large": 10_000}.get(kind, 8)
    if kind == "constant":
        return np.full(shape, int(rng.integers(-8, 8)), np.int32)
    x = rng.integers(-lim, lim, size=shape)
    if kind == "sparse":
        x = np.where(rng.random(size=shape) < 0.9, 0, x)
    return x.astype(np.int32)


def make_inputs(bound, kind: str = "uniform", seed: int = 0) -> Dict[str, Union[np.ndarray, float, int]]:
    """Inputs for `interpreter.run` and the devices, drawn from distribution `kind`."""
    if kind == "uniform":
        from ..ir import interpreter
        return interpreter.random_inputs(bound, seed)  # the historical default, unchanged
    rng = np.random.default_rng([seed & 0xFFFFFFFF, DISTRIBUTIONS.index(kind)])
    transparent = kind == "special" and ieee_transparent(bound.checked)
    out: Dict[str, Union[np.ndarray, float, int]] = {}
    with np.errstate(over="ignore", under="ignore"):
        for p in bound.checked.inputs:
            if p.is_scalar:
                if p.dtype == "i32":
                    out[p.name] = int(rng.integers(1, 4))
                else:
                    v = float(_floats(rng, kind if kind != "special" else "normal", (), False))
                    out[p.name] = float(np.asarray(v).astype(NUMPY_DTYPE[p.dtype]))
                continue
            shape = tuple(bound.shapes[p.name])
            if p.dtype == "i32":
                out[p.name] = _ints(rng, kind, shape)
            else:
                out[p.name] = _floats(rng, kind, shape, transparent).astype(NUMPY_DTYPE[p.dtype])
    return out
