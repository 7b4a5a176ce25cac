#!/usr/bin/env python3
"""Hash every kernel source uhopc can render for the shipped examples: a refactor of the code
generators must leave every one byte-identical.

    python3 bench/render_hash.py --out /tmp/before.json           # before the change
    python3 bench/render_hash.py --compare /tmp/before.json       # after: exit 1 on any difference

Sources: every template of every target that matches each example (and two epilogue programs), at
three shapes, for every distinct schedule in its space under four device fingerprints, at 32 and
64-bit indices; and the generic lowering of every kernel for every target at both widths. Prints the
count and one hash over all of them; writes {key: sha256} as JSON.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]  # bench/cuda.py shadows `cuda`
sys.path.insert(0, str(ROOT))

from uhop_cc import ir  # noqa: E402

EXTRA = {
    "conv_epi": "kernel t(X: f32[N, C, H, W], F: f32[K, C, R, S], b: f32[K]) -> (Y: f32[N, K, H - 2, W - 2]) "
                "{ Y[n, k, y, x] = relu(b[k] + sum(c in 1..C, r in 0..3, s in 0..3) X[n, c, y + r, x + s] * F[k, c, r, s]) }",
    "sgemm_epi": "kernel t(A: f32[M, K], B: f32[K, N], b: f32[N]) -> (C: f32[M, N]) "
                 "{ C[i, j] = relu(b[j] + sum(k in 1..K) A[i, k] * B[k, j]) * 0.5 }",
}
FINGERPRINTS = {"none": None, "cpu": {"device_type": "CPU", "max_work_group_size": 4096, "local_mem_size": 65536},
                "gpu": {"device_type": "GPU", "max_work_group_size": 1024, "local_mem_size": 49152},
                "sm4": {"sm_count": 4, "max_threads_per_block": 1024}}


def _targets():
    """(target name, its templates, a renderer factory) for every C-style target."""
    from uhop_cc import targets
    return [(n, targets.get(n).templates(), targets.get(n).renderer) for n in targets.c_style()]


def _kernels():
    out = []
    for p in sorted((ROOT / "examples").glob("*.uir")):
        for k in ir.load_file(p):
            out.append((f"{p.stem}.{k.name}", k))
    out.extend((n, ir.load(t, "t.uir")[0]) for n, t in EXTRA.items())
    return out


def renders():
    """{key: source} of everything renderable."""
    out = {}
    targets = _targets()
    for name, k in _kernels():
        for tname, _tpls, make in targets:
            for bits in (32, 64):
                out[f"{name}|{tname}|generic|{bits}"] = make(bits).generic(k).source
        for base in (7, 33, 130):
            sizes = {s: base for s in k.sizes}
            if {"R", "S", "H"} <= set(sizes):
                sizes.update(R=3, S=3, H=base + 2, W=base + 3)
            try:
                b = ir.bind_shapes(k, sizes)
            except ir.UirError:
                continue
            for tname, tpls, _make in targets:
                for t in tpls:
                    m = t.match(b)
                    if m is None:
                        continue
                    seen = set()
                    for fp in FINGERPRINTS.values():
                        for params in t.space(m, fp):
                            key = repr(sorted(params.items()))
                            if key in seen:
                                continue
                            seen.add(key)
                            for bits in (32, 64):
                                src = t.render(m, dict(params, index_bits=bits)).source
                                out[f"{name}|{base}|{tname}|{t.name}|{key}|{bits}"] = src
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="write {key: sha256} here")
    ap.add_argument("--compare", help="a file written by --out: exit 1 on any difference")
    a = ap.parse_args()
    hashes = {k: hashlib.sha256(v.encode()).hexdigest() for k, v in sorted(renders().items())}
    total = hashlib.sha256("".join(f"{k}={v}\n" for k, v in hashes.items()).encode()).hexdigest()
    print(f"{len(hashes)} sources, sha256 {total}")
    if a.out:
        Path(a.out).write_text(json.dumps(hashes, indent=0, sort_keys=True))
    if a.compare:
        old = json.loads(Path(a.compare).read_text())
        changed = sorted(k for k in old if k in hashes and old[k] != hashes[k])
        gone = sorted(set(old) - set(hashes))
        new = sorted(set(hashes) - set(old))
        for label, keys in (("changed", changed), ("missing", gone), ("new", new)):
            if keys:
                print(f"{len(keys)} {label}: " + "; ".join(keys[:8]) + (" ..." if len(keys) > 8 else ""))
        if changed or gone or new:
            return 1
        print("identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
