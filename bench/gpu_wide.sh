#!/usr/bin/env bash
# Issue 14's GPU checks in one go: 64-bit indices past 2^31 elements on CUDA and NVIDIA OpenCL, the wide
# templates against the reference on NVIDIA's OpenCL, and what 64-bit indices cost at small shapes.
# Needs an NVIDIA machine with Python 3.12, cmake, pybind11, scikit-build-core, pytest, hypothesis,
# cuda-bindings; the wheels it lacks (cp312: lark, pyopencl, pytools, ...) in .whl/. Logs in ${OUT:-bench/results}.
set -uo pipefail
OUT=${OUT:-bench/results}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
python3 -m pip install -q --no-build-isolation --no-deps -e . > "$OUT/install.log" 2>&1 || tail -20 "$OUT/install.log"
mkdir -p /tmp/icd && echo /usr/local/nvidia/lib/libnvidia-opencl.so.1 > /tmp/icd/nvidia.icd
export OCL_ICD_VENDORS=/tmp/icd
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
run() {  # name, time limit, pytest arguments...
  local name=$1 limit=$2; shift 2
  echo "== $name"
  timeout "$limit" python3 -m pytest -q -p no:cacheprovider "$@" > "$OUT/$name.log" 2>&1
  echo "rc=$?"; grep -E "^(FAILED|ERROR)|passed|failed" "$OUT/$name.log" | tail -8
}
run cuda_wide_gpu "${TEST_TIMEOUT:-150}" tests/cuda/test_cuda_wide_indices.py tests/cuda/test_cuda_host.py
run opencl_wide_nvidia "${TEST_TIMEOUT:-150}" tests/codegen/test_wide_indices.py tests/codegen/test_long_expressions.py -x
echo "== bench"
timeout "${BENCH_TIMEOUT:-330}" python3 bench/wide_indices.py --target cuda --target opencl --big --repeat 2 \
    --out "$OUT/wide_indices.json" 2>&1 | tee "$OUT/bench_wide.log" | tail -25
