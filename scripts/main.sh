#!/usr/bin/env bash
# The README's main job. Usage: bash scripts/main.sh [PHOTO ...]
# Installs deepexpr (CPU torch first), prepares the default models and the default character
# index (cached), then retrieves the character expressions that read like each face of
# skimage's astronaut photo and of any PHOTO given: out/<photo>_retrieval.png + .json.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check torch==2.13.0
python -m pip install --quiet --disable-pip-version-check -e ".[web]"
mkdir -p out
deepexpr setup
deepexpr characters sheet --out out/characters_sheet.png
deepexpr demo --out out "$@"
