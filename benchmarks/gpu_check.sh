#!/usr/bin/env bash
# The GPU verification, run once on a machine with an NVIDIA GPU, CuPy and PyTorch (CUDA):
# the CuPy-backend half of the test suite, the GPU timing benchmark, then the kernel
# profile. Each part has its own time limit; the whole finishes in under 5 minutes.
# Results go to $OUT (default ./gpu_out): device.txt, gpu_tests.txt, gpu_bench.txt,
# gpu_profile.txt (+ gpu_profile.json, written by the script itself).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-./gpu_out}
mkdir -p "$OUT"
export OUT PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
status=0
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import numpy, cupy, torch; print('numpy', numpy.__version__, 'cupy', cupy.__version__, 'torch', torch.__version__)"
} 2>&1 | tee "$OUT/device.txt"
timeout 110 python3 -m pytest -q -p no:cacheprovider -m gpu -rfE tests 2>&1 \
  | tee "$OUT/gpu_tests.txt" || status=1
timeout 80 python3 benchmarks/bench_gpu.py --rounds 3 2>&1 | tee "$OUT/gpu_bench.txt" || status=1
timeout 70 python3 benchmarks/gpu_profile.py --steps 3 --out "$OUT" 2>&1 \
  | grep -v '^USDT:' | tee "$OUT/gpu_profile_log.txt" || status=1
exit $status
