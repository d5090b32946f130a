#!/usr/bin/env bash
# Runs every test of the project: unit, property and multi-process tests.
# The multi-process tests start the real binaries, so those are built first.
# Uses cargo-nextest (test groups keep the flood tests apart, see
# .config/nextest.toml); installs it when missing, and falls back to
# `cargo test` if it cannot be installed.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --bins
if ! command -v cargo-nextest >/dev/null 2>&1; then
  cargo install --locked cargo-nextest || true
fi
if command -v cargo-nextest >/dev/null 2>&1; then
  exec cargo nextest run --workspace --no-fail-fast "$@"
fi
echo "cargo-nextest is not available; running cargo test instead" >&2
exec cargo test --workspace --no-fail-fast "$@" -- --test-threads=2
