#!/usr/bin/env bash
# The README's main job. Usage: bash scripts/main.sh [PHOTO ...]
# Installs deepexpr (CPU torch first), prepares the default models, and runs the job.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check torch==2.13.0
python -m pip install --quiet --disable-pip-version-check -e .
mkdir -p out
deepexpr characters sheet --out out/characters_sheet.png
