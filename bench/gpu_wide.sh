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
run cuda_wide_gpu "${TEST_TIMEOUT:-150}" tests/targets/cuda/test_cuda_wide_indices.py tests/targets/cuda/test_cuda_host.py
run opencl_wide_nvidia "${TEST_TIMEOUT:-150}" tests/targets/opencl/test_wide_indices.py tests/codegen/test_long_expressions.py -x
echo "== bench"
timeout "${BENCH_TIMEOUT:-330}" python3 bench/wide_indices.py --target cuda --target opencl --big --repeat 2 \
    --out "$OUT/wide_indices.json" 2>&1 | tee "$OUT/bench_wide.log" | tail -25
# issue 15's GPU checks: CUDA from the Python API, native CUDA timing and peaks, the stage list on CUDA
run issue15_gpu "${TEST_TIMEOUT:-150}" -m gpu tests/test_python_api.py tests/test_pipeline_stages.py \
    tests/cli/test_compile_targets.py tests/harness/test_target_timing.py tests/harness/test_cuda.py -rs
python3 -c "from uhop_cc.targets.cuda.runtime import CUDADevice; from uhop_cc import targets; d=CUDADevice.open(); print('cuda peaks', targets.get('cuda').peaks(d), d.fingerprint().get('peak_dram_gbps'))" 2>&1 | tail -2
