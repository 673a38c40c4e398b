#!/bin/bash
# The paper-cgan measurements of docs/results.md, from scratch. Usage:
#   bash docs/results/paper/run.sh [DEVICE] [STEPS]      (defaults: cuda, 18000 = 30 epochs at batch 100)
# 1. the sweep: every config in docs/results/paper/configs (on top of the paper-cgan preset), seed 0,
#    evaluated every 3,000 steps (5 epochs) with all metrics (10,000 samples: the Parzen protocol);
# 2. both presets over seeds 0, 1, 2, evaluated every 1,500 steps;
# 3. Table 1's row with the paper's early-stopping rule (best Parzen validation log-likelihood).
set -euo pipefail
DEVICE=${1:-cuda}; STEPS=${2:-18000}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p runs/paper
for f in docs/results/paper/configs/*.yaml; do
  n=$(basename "$f" .yaml)
  cganzoo run paper-cgan --config "$f" --max-steps "$STEPS" --eval-interval 3000 --seed 0 --device "$DEVICE" \
    --no-progress --sample-interval 3000 --out "runs/paper/sweep-$n" || echo "sweep-$n stopped (see its output)"
  [ -f "runs/paper/sweep-$n/metrics.jsonl" ] && grep '"eval"' "runs/paper/sweep-$n/metrics.jsonl" \
    > "docs/results/paper/sweep-$n.evals.jsonl" || true
done
for m in paper-cgan paper-cgan-strong-y; do
  for s in 0 1 2; do
    cganzoo run $m --max-steps "$STEPS" --eval-interval 1500 --seed $s --device "$DEVICE" --no-progress \
      --sample-interval 3000 --out "runs/paper/$m-s$s"
    grep '"eval"' "runs/paper/$m-s$s/metrics.jsonl" > "docs/results/paper/$m-s$s.evals.jsonl"
  done
done
cd docs/results/paper
python ../paper_table1.py --summary sweep-*.evals.jsonl
for m in paper-cgan paper-cgan-strong-y; do python ../paper_table1.py --label $m $m-s?.evals.jsonl; done
