#!/usr/bin/env bash
# The two set-up commands of the README, for a fresh Debian 12 machine:
#   installer/setup.sh run    install dependencies, build (release), open MoE Workbench (extra arguments go
#                             to it: --data-dir DIR, --model PATH)
#   installer/setup.sh test   install dependencies, build (release + tests), run every test with ctest
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
mode="${1:-run}"
[ $# -gt 0 ] && shift

# nvcc is not on PATH by default; with it, CMake builds the CUDA plugin (MOE_CUDA defaults to ON).
[ -d /usr/local/cuda/bin ] && export PATH="/usr/local/cuda/bin:$PATH"
jobs="$(nproc)"

case "$mode" in
  run)
    installer/install-deps.sh
    cmake --preset release >/dev/null
    cmake --build --preset release -j "$jobs"
    app="build/release/app/gui/moe-workbench"
    # The bundled random-weight model is listed on the Models page at first start (labelled "random
    # weights"); select it and press Load (Ctrl+L).
    if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
      exec "$app" "$@"
    fi
    echo "MoE Workbench is built, but there is no display to open its window on (DISPLAY and WAYLAND_DISPLAY are unset)." >&2
    echo "Run it on a desktop session:   $root/$app" >&2
    echo "or under a virtual X server:   xvfb-run -a -s '-screen 0 1280x800x24' $root/$app" >&2
    echo "(xvfb-run comes with the xvfb package: sudo apt-get install xvfb xauth)" >&2
    exit 0
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
