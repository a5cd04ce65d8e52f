#!/usr/bin/env bash
# Runs every test of gongji: formatting, clippy (warnings are errors), the whole workspace's tests, and a release build of the
# binary used by the scenario runs. This is the test command of README.md and of .ci/run.
set -euo pipefail
cd "$(dirname "$0")"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace --quiet
cargo build --release --quiet --bin gongji
