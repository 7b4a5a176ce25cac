#!/usr/bin/env bash
# The judge's GPU checks in one go (issue 13), on an NVIDIA machine with Python 3.12, cmake,
# pybind11, scikit-build-core, pytest and hypothesis installed; the wheels it lacks (cp312: lark,
# pyopencl and its needs, openai and its needs) in .whl/. Logs go to ${OUT:-bench/results}.
set -uo pipefail
OUT=${OUT:-bench/results}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
python3 -m pip install -q --no-build-isolation --no-deps -e . > "$OUT/install.log" 2>&1 || tail -20 "$OUT/install.log"
mkdir -p /tmp/icd && echo /usr/local/nvidia/lib/libnvidia-opencl.so.1 > /tmp/icd/nvidia.icd
export OCL_ICD_VENDORS=/tmp/icd
nvidia-smi --query-gpu=name,driver_version --format=csv | tee "$OUT/gpu.txt"
which compute-sanitizer | tee -a "$OUT/gpu.txt"
run() {  # name, time limit, pytest arguments...
  local name=$1 limit=$2; shift 2
  echo "== $name"
  timeout "$limit" python3 -m pytest -q -p no:cacheprovider "$@" > "$OUT/$name.log" 2>&1
  echo "rc=$?"; grep -E "^(FAILED|ERROR)|passed|failed" "$OUT/$name.log" | tail -12
}
run judge_gpu 200 tests/verify/test_judge_gpu.py
run cheats_cuda 240 tests/ai/cheats -k cuda
run cuda_gpu 200 -m gpu tests/targets/cuda
run cheats_opencl_nvidia 240 tests/ai/cheats -k opencl -x
run judge_accepts_templates_nvidia 240 tests/ai/test_judge_accepts_templates.py
