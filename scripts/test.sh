#!/usr/bin/env bash
# Runs every test of the project: unit, property and multi-process tests.
# The multi-process tests start the real binaries, so those are built first.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --bins
cargo nextest run --workspace --no-fail-fast "$@"
