#!/usr/bin/env bash
# Rehearses the GPU run HERE, in an environment shaped like the GPU machine's: a venv holding only the
# packages that machine's image has (of those vsr and its tests import), the project NOT installed
# (the tree is on PYTHONPATH, as there), and the wheels of .whl/ installed with gpu_check.sh's own pip
# command. It runs the gpu_check stages in rehearsal sizes (all but kernels, by default), then every integration test, so a
# package the GPU machine lacks shows up here, not in a 15-minute lease. (It did: the monitor's
# ST-LPIPS weights, from stlpips-pytorch, which gpu_prepare.sh now carries.)
#
#     bash benchmarks/gpu_prepare.sh ../shared/data && bash benchmarks/gpu_rehearse.sh [STAGE...]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d .whl ] || { echo "gpu_rehearse: no .whl/ (run benchmarks/gpu_prepare.sh first)" >&2; exit 2; }
venv=${VSR_REHEARSE_VENV:-/tmp/vsr-devlike}
# The GPU image's packages that vsr, its tests and benchmarks import (its torch is a CUDA build there;
# here the CPU build on this disk).
[ -x "$venv/bin/python3" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q torch==2.13.0 \
    numpy click pytest safetensors nvidia-ml-py matplotlib scipy pillow; }
site=$(mktemp -d) out=$(mktemp -d)
trap 'rm -rf "$site"' EXIT
"$venv/bin/python3" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl
export PATH="$venv/bin:$PATH" PYTHONPATH="$site"
stages=("$@")
# kernels needs a GPU (bench_kernels measures nothing on a CPU); pipeline is the full run below
[ ${#stages[@]} -gt 0 ] || stages=(env tests drift eager compile suite)
status=0
OUT=$out VSR_GPU_CHECK_REHEARSAL=1 VSR_COMMIT=rehearsal bash benchmarks/gpu_check.sh "${stages[@]}" || status=$?
echo "=== every integration test, as the GPU run's pipeline stage runs them"
PYTHONPATH="$PWD:$site" python3 -m pytest -q -p no:cacheprovider tests/integration || status=$?
echo "gpu_rehearse: rehearsal output in $out; exit $status"
exit $status
