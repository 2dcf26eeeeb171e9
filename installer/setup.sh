#!/usr/bin/env bash
# The two set-up commands of the README, for a fresh Debian 12 machine:
#   installer/setup.sh run    install dependencies, build (release), run MoE Workbench on the bundled model
#   installer/setup.sh test   install dependencies, build (release + tests), run every test with ctest
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
mode="${1:-run}"

# nvcc is not on PATH by default; with it, CMake builds the CUDA plugin (MOE_CUDA defaults to ON).
[ -d /usr/local/cuda/bin ] && export PATH="/usr/local/cuda/bin:$PATH"
jobs="$(nproc)"

case "$mode" in
  run)
    installer/install-deps.sh
    cmake --preset release >/dev/null
    cmake --build --preset release -j "$jobs"
    model="resources/models/demo-deepseek-v3-tiny-q8_0.gguf"
    build/release/app/cli/moewb info "$model"
    build/release/app/cli/moewb tokenize --pieces "$model" "Hello, DeepSeek! 你好 123"
    ;;
  test)
    installer/install-deps.sh
    cmake --preset release >/dev/null
    cmake --build --preset release -j "$jobs"
    ctest --preset release -j "$jobs"
    ;;
  *)
    echo "usage: installer/setup.sh run|test" >&2
    exit 2
    ;;
esac
