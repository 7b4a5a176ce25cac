#!/usr/bin/env bash
# The GPU figures in one go, on an NVIDIA machine with Python 3.12, torch, cuda-bindings, nvrtc,
# cmake and pybind11 installed (the wheels it lacks, cp312: lark, pyopencl, pytools, platformdirs,
# siphash24, in .whl/). Writes logs and JSON to ${OUT:-bench/results}. NATIVE=0 skips building the
# C++ module (the OpenCL timings then use the Python launch loop); TESTS=0 skips the GPU tests;
# OPENCL=" " skips the OpenCL target; BUDGET is the timing budget per kernel in seconds.
set -uo pipefail
OUT=${OUT:-bench/results}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
if [ "${NATIVE:-1}" = 1 ]; then  # the native module (analyzer, harness) for this Python
    python3 -m pip install -q --no-build-isolation --no-deps -e . > "$OUT/install.log" 2>&1 || tail -20 "$OUT/install.log"
fi
# NVIDIA's OpenCL driver next to CUDA
mkdir -p /tmp/icd && echo /usr/local/nvidia/lib/libnvidia-opencl.so.1 > /tmp/icd/nvidia.icd
export OCL_ICD_VENDORS=/tmp/icd
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv | tee "$OUT/gpu.txt"
if [ "${TESTS:-1}" = 1 ]; then  # CUDA on the GPU, then the OpenCL templates on NVIDIA's OpenCL
    timeout "${TEST_TIMEOUT:-240}" bash -c 'python3 -m pytest -q -m gpu tests/targets/cuda -p no:cacheprovider 2>&1 | tail -15;
        python3 -m pytest -q -x tests/targets/opencl/test_templates.py tests/targets/opencl/test_conv_igemm.py \
        tests/targets/opencl/test_stencil_template.py -p no:cacheprovider 2>&1 | tail -10' | tee "$OUT/gpu_tests.log"
fi
timeout "${BENCH_TIMEOUT:-420}" python3 bench/cuda.py ${OPENCL:---opencl} --sweep --budget "${BUDGET:-2}" --out "$OUT/cuda.json" 2>&1 \
    | tee "$OUT/bench_cuda.log" | tail -75
python3 bench/anchors.py --no-cpu --cuda-json "$OUT/cuda.json" --out "$OUT/anchors_gpu.json" --plot "$OUT/roofline_gpu.png" 2>&1 \
    | tail -12 | tee "$OUT/anchors_gpu.log"
