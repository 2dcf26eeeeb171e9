#!/usr/bin/env bash
# Installs what MoE Workbench needs on Debian 12, idempotently: packages already present are skipped.
#   install-deps.sh            build + run + tests (engine, CLI, Qt app)
#   install-deps.sh --no-gui   engine and CLI only (machines without a display / Qt)
#   install-deps.sh --fuzz     also clang-14 with the libFuzzer/ASan runtimes (MOE_FUZZ=ON)
set -euo pipefail

gui=1
fuzz=0
for arg in "$@"; do
  case "$arg" in
    --no-gui) gui=0 ;;
    --fuzz) fuzz=1 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "install-deps.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

# Engine: compiler, CMake/Ninja, PCRE2 (Unicode regexes of the tokenizer), nlohmann-json (configs,
# tokenizer.json, templates), SQLite (stores), OpenBLAS (CPU GEMM for prompt processing).
pkgs=(build-essential cmake ninja-build pkg-config git libpcre2-dev nlohmann-json3-dev libsqlite3-dev libopenblas-dev)
if [ "$gui" = 1 ]; then
  # Qt 6 app: widgets, SQL (+ the SQLite driver plugin), charts (QCustomPlot for Qt 6), local API server;
  # xvfb/xauth run the UI tests and screenshots without a display.
  pkgs+=(qt6-base-dev qt6-base-dev-tools libqt6sql6-sqlite libqcustomplot-dev libqcustomplot2.1-qt6
         qt6-httpserver-dev qt6-websockets-dev libgl-dev xvfb xauth)
fi
if [ "$fuzz" = 1 ]; then
  pkgs+=(clang-14 libclang-rt-14-dev)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
