#!/usr/bin/env bash
# The GPU checks of the kernel (#6) and backend (#8) work as ONE prepared run for the lent GPU machine
# (device tool): a session there has about 15 minutes of device time, starts included, so every stage
# runs under a share of one time budget, in order of importance, and what ran is summed up last.
#
#   here:   bash benchmarks/gpu_prepare.sh          # wheels (.whl) + eval images (.data), git-ignored
#   device: run(command="VSR_COMMIT=<git describe here> bash benchmarks/gpu_check.sh",
#               carry=[".whl", ".data"], timeout_s=600)
#   then:   python benchmarks/gpu_collect.py <files_at>   # into benchmarks/results/, named and stamped
#
# Stages (default: all, in this order; name some to rerun only those):
#   env       GPU, driver, library versions, whether torch-tensorrt imports
#   tests     VSR_REQUIRE_GPU=1 pytest tests/gpu + the nvcc --ptx kernel tests (then, alone, the GPU
#             bench test, whose timed figures must agree with each other)
#   kernels   benchmarks/bench_kernels.py at 1080p                    -> $OUT/kernels.json
#   eager     bench_backends, eager, 4 models x 540p/720p/1080p x b1/b4 -> $OUT/backends-eager.json
#   compile   bench_backends at 1080p: eager vs compile@reduce-overhead vs compile@max-autotune
#             vs tensorrt, x2 and x4 fast                              -> $OUT/backends-compile.json
#   pipeline  pytest tests/integration on the GPU machine (files and streams through CUDA)
#   suite     benchmarks/bench_suite.py (clips, e2e, telemetry, sweeps) -> $OUT/suite/*.json, .png
#   drift     benchmarks/fp16_drift.py on CUDA, every shipped model    -> $OUT/drift-x2.json, drift-x4.json
# (drift is last: tests/gpu already hold every backend to eager fp32 within fp16 tolerance.)
# The pytest stages spread over the machine's cores with pytest-xdist where it is installed (the GPU
# image has it); the timed stages run alone, and so do the bench tests (GPU and CLI), which check
# that the figures they time are consistent with each other.
# At most 8 files come back from $OUT: the list above plus check.log (everything printed) is 8.
#
# VSR_GPU_CHECK_BUDGET: seconds for all stages (default 540, under the call's 600 s limit).
# VSR_GPU_CHECK_REHEARSAL=1: the same plumbing on this CPU machine with tiny sizes (no GPU claims).
set -uo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?gpu_check: set OUT (the device tool sets it; for a rehearsal, any empty folder)}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/check.log") 2>&1

budget=${VSR_GPU_CHECK_BUDGET:-540}
rehearsal=${VSR_GPU_CHECK_REHEARSAL:-0}
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(env tests kernels eager compile pipeline suite drift)
xdist=()
python3 -c 'import xdist' 2>/dev/null && xdist=(-n 8)
export PYTHONUNBUFFERED=1 VSR_CACHE_DIR=${VSR_CACHE_DIR:-/tmp/vsr-cache}
summary=()
status=0  # 1 once a stage fails, times out, is skipped or unknown: the exit status says "incomplete"

if [ -d .whl ] && [ "$rehearsal" = 0 ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "gpu_check: installing the carried wheels failed"; exit 3; }
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

# stage NAME CAP_S CMD...: runs CMD under min(CAP_S, what is left of the budget); skipped when less
# than 20 s are left.
stage() {
    local name=$1 cap=$2 left t0 rc
    shift 2
    left=$((budget - SECONDS))
    if [ "$left" -lt 20 ]; then
        summary+=("$(printf '%-9s skipped (budget spent)' "$name")")
        status=1
        return
    fi
    [ "$cap" -lt "$left" ] || cap=$left
    echo "=== $name (up to ${cap} s) $(date -u +%H:%M:%S)"
    t0=$SECONDS
    timeout -k 5 "$cap" "$@"
    rc=$?
    [ "$rc" = 0 ] || status=1
    [ "$rc" = 124 ] && rc="124 (timed out)"
    summary+=("$(printf '%-9s rc %-16s %4d s' "$name" "$rc" $((SECONDS - t0)))")
}

if [ "$rehearsal" = 1 ]; then
    dev=cpu req=0 kb_size=64x48 drift_data=(.data/eval/Set5) sizes=(64x48) batches=(1)
    models=(compact-x2-fast) big=64x48 drift_models=(-m compact-x2-fast) x4_drift=0
    suite=(--frames 2 --repeats 1 --sweep-sizes 360p --sweep-batches 1 --label rehearsal bench:360p)
    pipeline=(tests/integration/test_upscale.py -x) pipeline_timed=()
else
    dev=cuda req=1 kb_size=1920x1080 drift_data=(.data/eval/Set5 .data/eval/Set14) sizes=(960x540 1280x720 1920x1080)
    batches=(1 4) models=(compact-x2-fast compact-x4-fast compact-x2-quality compact-x4-quality) big=1920x1080
    drift_models=(-m compact-x2-fast -m compact-x2-quality -m compact-x2-fast-perceptual -m compact-x2-fast-video)
    x4_drift=1
    suite=(--frames 100 --repeats 2 --note "gpu_check.sh suite stage")
    pipeline=(tests/integration/test_upscale.py tests/integration/test_stream.py)
    pipeline_timed=(tests/integration/test_bench_cli.py tests/integration/test_bench_competitors.py)
fi

env_report() {
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,power.draw,power.limit,temperature.gpu \
        --format=csv 2>&1 || echo "nvidia-smi: not available"
    command -v nvcc >/dev/null && nvcc --version | tail -2
    python3 - <<'EOF'
import importlib, platform, warnings, torch
print("python", platform.python_version(), "| torch", torch.__version__, "cuda", torch.version.cuda,
      "| cuda available:", torch.cuda.is_available())
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print("gpu:", p.name, f"{p.total_memory / 2**30:.0f} GiB, {p.multi_processor_count} SMs, sm_{p.major}{p.minor}")
for name in ("av", "cupy", "triton", "numpy", "pynvml", "click", "safetensors", "torch_tensorrt", "tensorrt"):
    try:
        m = importlib.import_module(name)
        with warnings.catch_warnings():  # click deprecates its __version__
            warnings.simplefilter("ignore")
            print(f"{name}: {getattr(m, '__version__', 'present')}")
    except Exception as e:
        print(f"{name}: not importable ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})")
EOF
}

for s in "${stages[@]}"; do
    case $s in
    env) export -f env_report; stage env 60 bash -c env_report ;;
    tests)
        stage tests 120 env VSR_REQUIRE_GPU=$req python3 -m pytest -q -rfEs -p no:cacheprovider "${xdist[@]}" \
            tests/gpu tests/unit/test_kernels.py --ignore=tests/gpu/test_bench_gpu.py
        stage gpu-bench 60 env VSR_REQUIRE_GPU=$req python3 -m pytest -q -rfEs -p no:cacheprovider \
            tests/gpu/test_bench_gpu.py ;;
    kernels) stage kernels 60 python3 benchmarks/bench_kernels.py --size "$kb_size" --json "$OUT/kernels.json" ;;
    drift)
        stage drift-x2 50 python3 benchmarks/fp16_drift.py "${drift_models[@]}" -s 2 --device $dev \
            --data "${drift_data[@]}" --json "$OUT/drift-x2.json"
        [ "$x4_drift" = 1 ] && stage drift-x4 50 python3 benchmarks/fp16_drift.py -m compact-x4-fast \
            -m compact-x4-quality -m compact-x4-fast-perceptual -m compact-x4-fast-video -s 4 --device $dev --data "${drift_data[@]}" \
            --json "$OUT/drift-x4.json" ;;
    eager) stage eager 110 python3 benchmarks/bench_backends.py --device $dev --models "${models[@]}" \
               --sizes "${sizes[@]}" --batches "${batches[@]}" --backends eager --json "$OUT/backends-eager.json" ;;
    compile) stage compile 200 python3 benchmarks/bench_backends.py --device $dev --models compact-x2-fast \
                 compact-x4-fast --sizes $big --batches 1 \
                 --backends eager compile@reduce-overhead compile@max-autotune tensorrt \
                 --json "$OUT/backends-compile.json" ;;
    suite) stage suite 120 python3 benchmarks/bench_suite.py --device $dev "${suite[@]}" --out-dir "$OUT/suite" ;;
    pipeline)
        stage pipeline 120 python3 -m pytest -q -rfEs -p no:cacheprovider "${xdist[@]}" "${pipeline[@]}"
        [ ${#pipeline_timed[@]} -gt 0 ] && stage bench-cli 60 python3 -m pytest -q -rfEs -p no:cacheprovider \
            "${pipeline_timed[@]}" ;;
    *) echo "gpu_check: unknown stage $s"; summary+=("$s: unknown stage"); status=1 ;;
    esac
done

echo "=== summary ($SECONDS s of a ${budget} s budget; commit ${VSR_COMMIT:-unknown})"
printf '%s\n' "${summary[@]}"
ls -la "$OUT" "$OUT/suite" 2>/dev/null | grep -v '^total'
exit $status
