#!/usr/bin/env bash
# The `full` SQuAD benchmark on one CUDA GPU with bf16 (sized to end within 9 minutes on one H100).
#   scripts/gpu_bench.sh OUT_DIR [extra Hydra overrides...]
# Writes OUT_DIR/squad-full-cuda-bf16.json and OUT_DIR/README.md (run dirs: OUT_DIR/../runs/).
# Copy the JSON into benchmarks/results/ and run `python scripts/bench_table.py` to update
# benchmarks/README.md. Expects the repo installed (`make install`); uses .venv when present.
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 OUT_DIR [hydra overrides...]" >&2
    exit 2
fi
OUT_DIR=$1
shift
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

if [ -x .venv/bin/python ]; then
    PY=.venv/bin/python
else
    PY=${PYTHON:-python3}
fi
if ! "$PY" -c "import rom_cli" 2>/dev/null; then
    echo "gpu_bench: rom_cli is not importable with $PY; installing the repo (pip install -e .)" >&2
    "$PY" -m pip install --quiet -e .
fi
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'gpu_bench: no CUDA device visible to torch ' + torch.__version__)"

mkdir -p "$OUT_DIR"
if [ -z "${DATA_ROOT:-}" ]; then  # the SQuAD files: squad/train-v1.1-subset-du2017test.json, squad/dev-v1.1.json
    for d in ../shared/data shared/data data; do
        if [ -f "$d/squad/dev-v1.1.json" ]; then DATA_ROOT=$d; break; fi
    done
fi
if [ -z "${DATA_ROOT:-}" ]; then
    echo "gpu_bench: no squad/dev-v1.1.json under ../shared/data, shared/data or data: set DATA_ROOT" >&2
    exit 2
fi
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# A hard stop at 9 minutes: the JSON is rewritten after every system, so a run cut
# short still leaves what it measured (marked "complete": false).
exec timeout --signal=TERM --kill-after=15 540 "$PY" scripts/bench_squad.py --profile full \
    --data-root "$DATA_ROOT" --out-dir "$OUT_DIR" --name squad-full-cuda-bf16 \
    trainer.device=cuda trainer.precision=bf16 "$@"
