#!/usr/bin/env python3
"""Hash a fixed set of campaign programs: a refactor of uhop_cc/campaign/gen_*.py must leave every
generated program (source, sizes, name, variant) identical.

    python3 bench/generator_hash.py                      # prints the count and one sha256
    python3 bench/generator_hash.py --expect SHA256      # exit 1 when it differs

The set: every category x five limits (default, tiny f32-only, wide mixed dtypes, ...) x 40 seeds
(half raw, half derive_seed), some with an explicit index; a generator error is hashed as text, so
a change in which programs fail shows too.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from uhop_cc.campaign.generator import CATEGORIES, Limits, derive_seed, generate  # noqa: E402

LIMITS = [None, Limits(), Limits(min_size=1, max_size=8, max_elements=256, dtypes=("f32",), max_depth=1),
          Limits(min_size=4, max_size=200, max_elements=100000, dtypes=("f64", "i32", "f16"), max_depth=5),
          Limits(min_size=2, max_size=16, dtypes=("f16", "f32"), max_depth=2)]


def digest() -> tuple:
    h = hashlib.sha256()
    n = 0
    for cat in CATEGORIES:
        for li, lim in enumerate(LIMITS):
            for k in range(40):
                seed = derive_seed(7, cat, k) if k % 2 else k * 7919 + li
                idx = k if k % 3 == 0 else None
                try:
                    rec = json.dumps(generate(cat, seed, lim, index=idx).to_json(), sort_keys=True)
                except Exception as e:  # noqa: BLE001  (which programs fail is part of the behaviour)
                    rec = f"ERR {cat} {seed} {type(e).__name__}: {e}"
                h.update(rec.encode() + b"\n")
                n += 1
    return n, h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--expect", help="the sha256 to compare with")
    args = ap.parse_args()
    n, sha = digest()
    print(f"{n} programs, sha256 {sha}")
    if args.expect:
        same = sha == args.expect
        print("identical" if same else "DIFFERENT")
        return 0 if same else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
