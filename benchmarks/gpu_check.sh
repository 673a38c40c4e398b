#!/usr/bin/env bash
# The GPU checks of cganzoo in one script, for a CUDA machine:
#   1. the CUDA bench table: mlp-cgan fp32, bf16 and CUDA graphs against the reference pipeline,
#      a batch-size sweep, and rows for the convolutional models;
#   2. a torchrun run with NCCL on all GPUs (at most 2; one GPU is a 1-process NCCL group);
#   3. one MNIST epoch of `cganzoo run mlp-cgan` timed end to end.
# Results go to $OUT_DIR (default benchmarks/results): cuda-<gpu>.md/.csv/.json/-sweep.png from
# the bench, and gpu-check.md with the machine, the torchrun figures and the epoch timing.
# Usage, from the repository root:
#   benchmarks/gpu_check.sh                      # MNIST from the usual sources
#   DATA_DIR=/path/to/mnist benchmarks/gpu_check.sh
# Environment: DATA_DIR (MNIST IDX files, passed as --data-dir), OUT_DIR, PYTHON (default python3),
# BENCH_SECONDS (timed seconds per bench row, default 2), WORK (scratch, default a temporary dir).
# Exit codes: 0 all checks ran; 2 no CUDA device (nothing is run); 1 a check failed (the others still run).
set -u
PYTHON=${PYTHON:-python3}
OUT_DIR=${OUT_DIR:-benchmarks/results}
BENCH_SECONDS=${BENCH_SECONDS:-2}
if ! "$PYTHON" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "gpu_check: no CUDA device visible to $PYTHON's torch (torch.cuda.is_available() is False);" \
         "run this on a machine with an NVIDIA GPU and a CUDA build of torch" >&2
    exit 2
fi

WORK=${WORK:-$(mktemp -d)}
data_args=()
[ -n "${DATA_DIR:-}" ] && data_args=(--data-dir "$DATA_DIR")
mkdir -p "$OUT_DIR" "$WORK"
status=0
summary="$OUT_DIR/gpu-check.md"
ngpu=$("$PYTHON" -c "import torch; print(min(torch.cuda.device_count(), 2))")
{
    echo "# GPU check ($(date -u +%Y-%m-%dT%H:%MZ))"
    echo
    echo '```'
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>/dev/null || true
    "$PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())"
    echo '```'
} > "$summary"

echo "gpu_check: 1/3 bench table" >&2
if ! "$PYTHON" -m cganzoo bench --filter 'mlp-cgan,cdcgan,sngan-projection,acgan-resnet,biggan-32' --device cuda \
        --variants fp32,fp32+fused-adam,bf16,fp32+cuda-graphs,bf16+cuda-graphs --batch-sizes 64,256,1024,4096 \
        --seconds "$BENCH_SECONDS" --repeats 2 --out "$OUT_DIR" "${data_args[@]}" \
        --note "benchmarks/gpu_check.sh on $(hostname)"; then
    echo "gpu_check: the bench table failed" >&2; status=1
fi

# timed_run NAME TITLE ARGS...: `cganzoo run ARGS` into $WORK/NAME, timed; its figures (or its log's tail,
# on failure) are appended to the summary under the heading TITLE.
timed_run() {
    local name=$1 title=$2 start
    shift 2
    start=$(date +%s.%N)
    if "$PYTHON" -m cganzoo run "$@" --device cuda --no-progress --seed 0 --out "$WORK/$name" "${data_args[@]}" \
            > "$WORK/$name.log" 2>&1; then
        "$PYTHON" - "$WORK/$name" "$start" "$title" "cganzoo run $* --device cuda" >> "$summary" <<'PY'
import json, statistics, sys, time
run, start, title, command = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
wall = time.time() - start
rows = [json.loads(line) for line in open(f"{run}/metrics.jsonl") if '"d_loss"' in line]
backend = json.load(open(f"{run}/config.json"))["distributed"]["backend"]
group = "" if "--nproc" not in command else (
    f" Process group backend: {backend}." if backend else
    " One rank, so no process group was opened (nothing to average; NCCL needs 2 or more GPUs).")
print(f"\n## {title}\n\n`{command}`: median {statistics.median(r['images_per_s'] for r in rows):,.0f} images/s "
      f"over {len(rows)} log windows, {rows[-1]['elapsed_s']:.1f} s of training, {wall:.1f} s for the whole command "
      f"(start-up, data and checkpoints included); last losses D {rows[-1]['d_loss']:.3f}, "
      f"G {rows[-1]['g_loss']:.3f}.{group}")
PY
    else
        echo "gpu_check: $title failed; its log:" >&2; tail -20 "$WORK/$name.log" >&2; status=1
        printf '\n## %s\n\nFAILED; last lines of its log:\n\n```\n%s\n```\n' "$title" "$(tail -20 "$WORK/$name.log")" \
            >> "$summary"
    fi
}

echo "gpu_check: 2/3 torchrun on $ngpu GPU(s)" >&2
timed_run torchrun "torchrun, $ngpu process(es)" mlp-cgan --nproc "$ngpu" --max-steps 937
echo "gpu_check: 3/3 one MNIST epoch" >&2
timed_run epoch "One MNIST epoch (937 steps at batch 64)" mlp-cgan --epochs 1
echo "gpu_check: done (status $status); summary in $summary" >&2
exit $status
