"""Front-end commands: check, fmt, run."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from .. import ir
from ..ir import printer
from ..ir.comments import format_program
from ..ir.parser import decode, parse, read_source


def register(sub) -> None:
    p = sub.add_parser("check", help="parse and check a UIR file; print the inferred shapes",
                       description="Parse and type-check every kernel of FILE. With --shapes, bind the sizes, "
                                   "print concrete shapes and run the bounds check.")
    p.add_argument("file")
    p.add_argument("--shapes", help="sizes: M=1024,N=2048 or one shape per input tensor: 1024x512,512x2048")
    p.add_argument("--kernel", help="the kernel to bind (needed with --shapes when the file holds several)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("fmt", help="print a UIR file in canonical form",
                       description="Print FILE in canonical form (the printer's output parses back to the same IR); "
                                   "comments stay above the statement or kernel they precede, or at the end of its line.")
    p.add_argument("file")
    p.add_argument("-w", "--write", action="store_true", help="rewrite the file in place")
    p.add_argument("--check", action="store_true", help="exit 1 if the file is not in canonical form")
    p.set_defaults(func=cmd_fmt)

    p = sub.add_parser("run", help="run a kernel on random inputs and summarise its outputs",
                       description="Run a kernel on random inputs (fixed seed) and print a summary of each output.")
    p.add_argument("file")
    p.add_argument("--shapes", required=True, help="sizes: M=1024,N=2048 or 1024x512,512x2048")
    p.add_argument("--kernel")
    p.add_argument("--backend", default="reference", choices=["reference"],
                   help="the reference interpreter (NumPy) defines the meaning of every program")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_run)


def _shape_text(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def cmd_check(args) -> int:
    kernels = ir.load_file(args.file)
    report = []
    if args.shapes:
        k = ir.select_kernel(kernels, args.kernel)
        b = ir.bind_shapes(k, args.shapes)
        report.append({"kernel": k.name, "sizes": b.sizes, "scalars": k.scalars,
                       "tensors": {t.name: {"role": t.role, "dtype": t.dtype, "shape": list(b.shapes[t.name])}
                                   for t in k.tensors.values()}})
    else:
        for k in kernels:
            report.append({"kernel": k.name, "sizes": list(k.sizes), "scalars": k.scalars,
                           "tensors": {t.name: {"role": t.role, "dtype": t.dtype, "shape": printer.dims(t.shape)}
                                       for t in k.tensors.values()}})
    if args.json:
        print(json.dumps({"ok": True, "kernels": report}, indent=2))
        return 0
    for r in report:
        sizes = r["sizes"]
        sizes_text = ", ".join(f"{k}={v}" for k, v in sizes.items()) if isinstance(sizes, dict) else ", ".join(sizes)
        print(f"kernel {r['kernel']}: ok  (sizes: {sizes_text or 'none'})")
        for name, dtype in r["scalars"].items():
            print(f"  scalar {name}: {dtype}")
        for name, t in r["tensors"].items():
            shape = t["shape"] if isinstance(t["shape"], str) else _shape_text(t["shape"])
            print(f"  {t['role']:<6} {name}: {t['dtype']}{shape}")
    return 0


def cmd_fmt(args) -> int:
    data = read_source(args.file)
    program = parse(data, args.file)
    original = decode(data, args.file).replace("\r\n", "\n")
    text = format_program(program, original)  # canonical, with the comments kept in place
    if args.check:
        if original != text:
            print(f"{args.file}: not in canonical form", file=sys.stderr)
            return 1
        return 0
    if args.write:
        if original != text:
            Path(args.file).write_text(text, encoding="utf-8")
        return 0
    sys.stdout.write(text)
    return 0


def cmd_run(args) -> int:
    from ..ir import interpreter

    from ..verify import memory

    k = ir.select_kernel(ir.load_file(args.file), args.kernel)
    b = ir.bind_shapes(k, args.shapes)
    why = memory.refusal(memory.estimate(b, "run"))  # before the first array is drawn
    if why:
        print(f"{args.file}: error: {k.name} ({', '.join(f'{s}={v}' for s, v in b.sizes.items())}) {why}",
              file=sys.stderr)
        return 2
    inputs = interpreter.random_inputs(b, seed=args.seed)
    try:
        outputs = interpreter.run(b, inputs)
    except interpreter.InterpreterError as e:
        print(f"{args.file}: error: {e}", file=sys.stderr)
        return 2
    summary = {}
    for name, arr in outputs.items():
        a = np.asarray(arr, dtype=np.float64)
        finite = a[np.isfinite(a)]
        summary[name] = {"dtype": k.tensors[name].dtype, "shape": list(arr.shape),
                         "min": float(finite.min()) if finite.size else None,
                         "max": float(finite.max()) if finite.size else None,
                         "mean": float(finite.mean()) if finite.size else None,
                         "nonfinite": int(a.size - finite.size),
                         "head": [float(v) for v in a.reshape(-1)[:4]]}
    if args.json:
        print(json.dumps({"kernel": k.name, "sizes": b.sizes, "seed": args.seed, "outputs": summary}, indent=2))
        return 0
    print(f"kernel {k.name} on the reference backend (seed {args.seed}, "
          + ", ".join(f"{s}={v}" for s, v in b.sizes.items()) + ")")
    for name, s in summary.items():
        stats = "empty" if s["min"] is None else f"min {s['min']:.6g}  max {s['max']:.6g}  mean {s['mean']:.6g}"
        extra = f"  non-finite {s['nonfinite']}" if s["nonfinite"] else ""
        head = ", ".join(f"{v:.6g}" for v in s["head"])
        print(f"  {name}: {s['dtype']}{_shape_text(s['shape'])}  {stats}{extra}  [{head}{', ...' if len(s['head']) == 4 else ''}]")
    return 0
