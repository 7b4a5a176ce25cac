#!/usr/bin/env python3
"""Generated OpenCL kernels vs NumPy (and CLBlast SGEMM where libclblast is installed), same device, one run.

    python3 bench/opencl.py [--quick] [--device N] [--clblast-binding auto|pyclblast|ctypes]
                            [--out bench/results/opencl.json]

For each case: the kernel uhopc picks (`auto`: a template if one matches), the generic lowering of the
same program, NumPy on the same arrays, and for matmul CLBlast on the same OpenCL device (through pyclblast,
else ctypes on libclblast; the binding used is printed and recorded). Medians of
repeated runs; ratios against the baselines measured in this run. Prints a table, writes JSON.
"""
from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from uhop_cc import ir  # noqa: E402
from uhop_cc.ir import interpreter  # noqa: E402
from uhop_cc.pipeline import compile_bound  # noqa: E402
from uhop_cc.targets.opencl.runtime import OpenCLDevice  # noqa: E402

CASES = {
    "matmul-512": ("examples/matmul.uir", {"M": 512, "K": 512, "N": 512}),
    "matmul-1024": ("examples/matmul.uir", {"M": 1024, "K": 1024, "N": 1024}),
    "matmul-2048": ("examples/matmul.uir", {"M": 2048, "K": 2048, "N": 2048}),
    "relu-16M": ("examples/relu.uir", {"N": 1 << 24}),
    "softmax-4096x4096": ("examples/softmax.uir", {"R": 4096, "C": 4096}),
    "conv2d-64x56x56-64x3x3": ("examples/conv2d.uir", {"N": 1, "C": 64, "H": 56, "W": 56, "K": 64, "R": 3, "S": 3}),
    "jacobi2d-2050": ("examples/stencil2d.uir", {"H": 2050, "W": 2050}),
    "heat3d-130": ("examples/stencil3d.uir", {"D": 130, "H": 130, "W": 130}),
}
QUICK = {"matmul-512", "relu-16M", "softmax-4096x4096", "conv2d-64x56x56-64x3x3", "jacobi2d-2050"}


def median_time(fn, repeat=7, warmup=1, budget_s=5.0):
    for _ in range(warmup):
        fn()
    samples, t_end = [], time.perf_counter() + budget_s
    while len(samples) < repeat and (len(samples) < 3 or time.perf_counter() < t_end):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def numpy_baseline(case, inputs):
    if case.startswith("matmul"):
        A, B = inputs["A"], inputs["B"]
        return lambda: A @ B
    if case.startswith("relu"):
        X = inputs["X"]
        return lambda: np.maximum(X, 0)
    if case.startswith("softmax"):
        X = inputs["X"]

        def softmax():
            e = np.exp(X - X.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        return softmax
    if case.startswith("conv2d"):
        X, F = inputs["X"], inputs["F"]
        from numpy.lib.stride_tricks import sliding_window_view

        def conv():
            win = sliding_window_view(X, F.shape[2:], axis=(2, 3))  # N, C, H', W', R, S
            return np.tensordot(win, F, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)
        return conv
    if case.startswith("jacobi2d"):
        X = inputs["X"]
        return lambda: 0.2 * (X[1:-1, 1:-1] + X[:-2, 1:-1] + X[2:, 1:-1] + X[1:-1, :-2] + X[1:-1, 2:])
    if case.startswith("heat3d"):
        U, a = inputs["U"], inputs["alpha"]

        def heat():
            c = U[1:-1, 1:-1, 1:-1]
            return c + a * (U[:-2, 1:-1, 1:-1] + U[2:, 1:-1, 1:-1] + U[1:-1, :-2, 1:-1] + U[1:-1, 2:, 1:-1]
                            + U[1:-1, 1:-1, :-2] + U[1:-1, 1:-1, 2:] - 6.0 * c)
        return heat
    raise KeyError(case)


class CLBlast:
    """SGEMM from CLBlast on the benchmark's OpenCL queue.

    Prefers `pyclblast` (the official binding; `pip install -e ".[bench]"`, builds against Debian's
    libclblast-dev) on pyopencl arrays; falls back to CLBlastSgemm through ctypes on pyopencl handles
    (libclblast1 alone) when pyclblast is not importable. `binding` says which one is in use.
    Raises OSError when neither is available.
    """

    def __init__(self, binding: str = "auto"):
        self.binding = None
        errors = []
        if binding in ("auto", "pyclblast"):
            try:
                import pyclblast
                from importlib.metadata import version
                self.pyclblast = pyclblast
                try:
                    self.binding = f"pyclblast {version('pyclblast')}"
                except Exception:  # noqa: BLE001 - metadata missing (e.g. a source checkout)
                    self.binding = "pyclblast"
                return
            except (ImportError, OSError) as e:
                errors.append(f"pyclblast: {e}")
        if binding in ("auto", "ctypes"):
            try:
                self._open_ctypes()
                self.binding = "ctypes"
                return
            except (OSError, AttributeError) as e:
                errors.append(f"ctypes: {e}")
        raise OSError("CLBlast not available (" + "; ".join(errors or [f"unknown binding {binding!r}"]) + ")")

    def _open_ctypes(self):
        name = ctypes.util.find_library("clblast") or "libclblast.so.1"
        self.lib = ctypes.CDLL(name)
        f = self.lib.CLBlastSgemm
        f.restype = ctypes.c_int
        f.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t,
                      ctypes.c_float, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t,
                      ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_float,
                      ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t,
                      ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_void_p)]

    def sgemm_timer(self, device, A, B):
        """(run, check): `run` does C = A @ B (row-major, float32) on the device and waits for it;
        `check` copies C back."""
        if self.binding.startswith("pyclblast"):
            return self._pyclblast_timer(device, A, B)
        return self._ctypes_timer(device, A, B)

    def _pyclblast_timer(self, device, A, B):
        import pyopencl.array as cla
        M, K = A.shape
        N = B.shape[1]
        q = device.queue
        a = cla.to_device(q, np.ascontiguousarray(A, dtype=np.float32))
        b = cla.to_device(q, np.ascontiguousarray(B, dtype=np.float32))
        c = cla.empty(q, (M, N), np.float32)
        gemm = self.pyclblast.gemm

        def run():
            gemm(q, M, N, K, a, b, c, a_ld=K, b_ld=N, c_ld=N)
            q.finish()

        def check():
            return c.get()
        return run, check

    def _ctypes_timer(self, device, A, B):
        import pyopencl as cl
        M, K = A.shape
        N = B.shape[1]
        ctx, q = device.context, device.queue
        mf = cl.mem_flags
        a = cl.Buffer(ctx, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=A)
        b = cl.Buffer(ctx, mf.READ_ONLY | mf.COPY_HOST_PTR, hostbuf=B)
        c = cl.Buffer(ctx, mf.READ_WRITE, M * N * 4)
        qp = ctypes.c_void_p(q.int_ptr)

        def run():
            st = self.lib.CLBlastSgemm(101, 111, 111, M, N, K, 1.0, a.int_ptr, 0, K, b.int_ptr, 0, N, 0.0,
                                       c.int_ptr, 0, N, ctypes.byref(qp), None)
            if st != 0:
                raise RuntimeError(f"CLBlastSgemm returned {st}")
            q.finish()

        def check():
            out = np.empty((M, N), np.float32)
            cl.enqueue_copy(q, out, c)
            return out
        return run, check


def open_clblast(binding: str = "auto"):
    """A CLBlast instance, or None (with the reason on stderr) when no binding is available."""
    try:
        return CLBlast(binding)
    except OSError as e:
        print(f"({e})", file=sys.stderr)
        return None


def run_case(case, device, clblast=None):
    """One case: uhopc's pick, the generic lowering, NumPy, and CLBlast for matmul; medians in seconds."""
    path, sizes = CASES[case]
    k = ir.load_file(ROOT / path)[0]
    bound = ir.bind_shapes(k, sizes)
    print(f"[{case}] compiling...", file=sys.stderr, flush=True)
    best = compile_bound(bound, device=device, strategy="auto", time_budget_s=4.0)
    generic = compile_bound(bound, device=device, strategy="generic", validate=case.startswith(("relu",)),
                            time_budget_s=4.0)
    spec = best.spec
    inputs = interpreter.random_inputs(bound, seed=0)
    np_s = median_time(numpy_baseline(case, inputs))
    row = {"case": case, "category": spec.category, "sizes": sizes, "flops": spec.flops,
           "bytes": spec.bytes_min, "strategy": best.kernel.strategy if best.kernel else None,
           "params": best.kernel.params if best.kernel else None, "valid": best.ok,
           "uhopc_s": best.timing["median_s"] if best.timing else None,
           "generic_s": generic.timing["median_s"] if generic.timing else None, "numpy_s": np_s}
    if clblast and case.startswith("matmul"):
        run, check = clblast.sgemm_timer(device, inputs["A"], inputs["B"])
        row["clblast_s"] = median_time(run)
        row["clblast_binding"] = clblast.binding
        ref = inputs["A"].astype(np.float64) @ inputs["B"].astype(np.float64)
        row["clblast_max_abs_err"] = float(np.abs(check() - ref).max())
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller set of cases")
    ap.add_argument("--device")
    ap.add_argument("--cases", help="comma-separated case names")
    ap.add_argument("--clblast-binding", choices=("auto", "pyclblast", "ctypes"), default="auto",
                    help="auto: pyclblast when importable, else ctypes on libclblast")
    ap.add_argument("--out", default=str(ROOT / "bench/results/opencl.json"))
    args = ap.parse_args()

    device = OpenCLDevice.open(int(args.device) if args.device and args.device.isdigit() else args.device)
    clblast = open_clblast(args.clblast_binding)
    names = args.cases.split(",") if args.cases else [c for c in CASES if not args.quick or c in QUICK]
    rows = []
    print(f"device: {device.name}   numpy {np.__version__}   CLBlast: {clblast.binding if clblast else 'not installed'}",
          flush=True)
    for case in names:
        row = run_case(case, device, clblast)
        rows.append(row)
        print(_line(row), flush=True)

    print()
    print(_table(rows))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"device": device.fingerprint(), "host": platform.node(), "python": platform.python_version(),
            "numpy": np.__version__,
            "clblast_binding": clblast.binding if clblast else None, "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    print(f"\nwrote {out}")


def _rate(row, key):
    t = row.get(key)
    if not t:
        return None
    return (row["flops"] / t / 1e9) if row["category"] in ("matmul", "conv") else (row["bytes"] / t / 1e9)


def _line(row):
    unit = "GFLOP/s" if row["category"] in ("matmul", "conv") else "GB/s"
    parts = [f"{row['case']:<24} {row['strategy'] or '-':<12}"]
    for key in ("uhopc_s", "generic_s", "numpy_s", "clblast_s"):
        r = _rate(row, key)
        parts.append(f"{r:9.2f}" if r is not None else f"{'-':>9}")
    return " ".join(parts) + f"  {unit}"


def _table(rows):
    head = (f"{'case':<24} {'kernel':<12} {'uhopc':>9} {'generic':>9} {'numpy':>9} {'clblast':>9}  unit"
            f"   {'x generic':>9} {'x numpy':>8} {'x clblast':>9}")
    lines = [head, "-" * len(head)]
    for row in rows:
        ratios = []
        for key in ("generic_s", "numpy_s", "clblast_s"):
            if row.get(key) and row.get("uhopc_s"):
                ratios.append(f"{row[key] / row['uhopc_s']:9.2f}")
            else:
                ratios.append(f"{'-':>9}")
        lines.append(_line(row) + "   " + " ".join(ratios))
    lines.append("rates are GFLOP/s for matmul/conv and GB/s (minimal bytes) otherwise; x = speedup of uhopc")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
