#!/usr/bin/env bash
# make demo: show lxcplan on the demo stack.
set -euo pipefail
cd "$(dirname "$0")/.."
stack=plans/demo/stack.yaml
run() { printf '\n$ %s\n' "$*"; "$@"; }
run bin/lxcplan validate "$stack"
run bin/lxcplan config --explain "$stack"
run bin/lxcplan graph --format mermaid "$stack"
