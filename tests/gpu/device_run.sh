#!/usr/bin/env bash
# The CUDA backend's whole check on a GPU machine, in one call (issue 5). Two steps:
#
#  1. Here, on a machine with apt and the shared fixtures (no GPU needed):
#         bash tests/gpu/device_run.sh --prepare
#     fills .device/ (ignored by git, ~30 MB): .device/debs/ holds the few Debian packages the engine's nogui build
#     needs that a bare GPU machine lacks (PCRE2, nlohmann-json, SQLite, pkgconf), fetched with `apt-get download`;
#     .device/fixtures/ a copy of ../shared/fixtures/{models,refs} (the GPU tests compare against them).
#  2. On the GPU machine (CUDA 13, CMake, ninja, g++; no Qt, no package access), from the repository root:
#         bash tests/gpu/device_run.sh [all|build|test|bench]      (default all)
#     with the device tool: run(command="bash tests/gpu/device_run.sh all", carry=[".device"], timeout_s=600).
#     It unpacks the .debs into /tmp/moe-prefix (dpkg -x; nothing is installed), builds with -DMOE_GUI=OFF for
#     sm_90 into build-gpu/, runs `ctest -L gpu` and the other tests, the kernel benchmark, writes the V2-Lite-shaped
#     model (make-fixture --preset v2-lite) in BF16 and Q8_0 and the medium preset to local disk, and runs
#     `moewb bench --device cuda` on them. Logs go to $OUT (or ./device-out), five files (the device tool brings
#     back at most 8): summary.txt (the figures and verdicts), build.log, ctest_gpu.log, ctest_other.log, bench.log.
#     Should one call outrun the 10-minute limit, run `build`, `test` and `bench` as three calls in a row (the
#     build folder stays on the warm machine).
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
stage="${1:-all}"
dev="$root/.device"

prepare() {
    mkdir -p "$dev/debs" "$dev/fixtures"
    # The nogui build's libraries (top-level CMakeLists: PCRE2 through pkg-config, nlohmann_json; app/cli: SQLite3)
    # and pkg-config itself (pkgconf); runtime libraries for the .so symlinks of the -dev packages.
    (cd "$dev/debs" && apt-get download libpcre2-dev libpcre2-8-0 libpcre2-16-0 libpcre2-32-0 libpcre2-posix3 \
        nlohmann-json3-dev libsqlite3-dev libsqlite3-0 pkgconf pkgconf-bin libpkgconf3) || exit 1
    local fx="${MOE_SHARED_FIXTURES:-$root/../shared/fixtures}"
    [ -d "$fx/models" ] || { echo "no fixtures at $fx (set MOE_SHARED_FIXTURES)" >&2; exit 1; }
    rm -rf "$dev/fixtures" && mkdir -p "$dev/fixtures" && cp -r "$fx/models" "$fx/refs" "$dev/fixtures/"
    [ -f "$fx/README.md" ] && cp "$fx/README.md" "$dev/fixtures/"
    du -sh "$dev"
    exit 0
}
[ "$stage" = "--prepare" ] && prepare

out="${OUT:-$root/device-out}"
mkdir -p "$out"
summary="$out/summary.txt"
log() { echo "$*" | tee -a "$summary"; }
export PATH="/usr/local/cuda/bin:$PATH"
jobs="$(nproc)"
prefix=/tmp/moe-prefix
build="$root/build-gpu"
multiarch=x86_64-linux-gnu

unpack() {
    [ -d "$dev/debs" ] || { log "missing .device/debs: run 'bash tests/gpu/device_run.sh --prepare' first and carry .device"; exit 1; }
    mkdir -p "$prefix"
    for f in "$dev"/debs/*.deb; do dpkg -x "$f" "$prefix"; done
    export LD_LIBRARY_PATH="$prefix/usr/lib/$multiarch${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    # pkgconf from the prefix, reading the prefix's .pc files, with their /usr paths moved under the prefix.
    export PKG_CONFIG="$prefix/usr/bin/pkgconf"
    export PKG_CONFIG_LIBDIR="$prefix/usr/lib/$multiarch/pkgconfig:$prefix/usr/share/pkgconfig"
    export PKG_CONFIG_SYSROOT_DIR="$prefix"
    # Keep -I/usr/include in the output (then prefixed): pkgconf drops "system" folders by default.
    export PKG_CONFIG_SYSTEM_INCLUDE_PATH=/nonexistent PKG_CONFIG_SYSTEM_LIBRARY_PATH=/nonexistent
}

do_build() {
    local t0=$SECONDS
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMOE_GUI=OFF -DMOE_CUDA=ON \
        -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_PREFIX_PATH="$prefix/usr" -DPKG_CONFIG_EXECUTABLE="$PKG_CONFIG" \
        -DMOE_SHARED_FIXTURES="$dev/fixtures" >"$out/build.log" 2>&1 &&
        cmake --build "$build" -j "$jobs" >>"$out/build.log" 2>&1
    local rc=$?
    log "build: rc=$rc in $((SECONDS - t0)) s (log build.log)"
    [ $rc -eq 0 ] || { tail -30 "$out/build.log"; exit 1; }
}

do_test() {
    log "device: $(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null)"
    log "commit: $(git rev-parse --short HEAD 2>/dev/null) $(git status --porcelain 2>/dev/null | wc -l) changed files"
    ctest --test-dir "$build" -L gpu --output-on-failure -V >"$out/ctest_gpu.log" 2>&1
    log "ctest -L gpu: rc=$? ($(grep -E 'tests passed|tests failed' "$out/ctest_gpu.log" | tail -1))"
    grep -E "^[0-9]+: (PASS|FAIL|SKIP|Totals)|max\|dlogit\||CHECK|differs" "$out/ctest_gpu.log" | head -80 >>"$summary"
    ctest --test-dir "$build" -LE gpu -j "$jobs" >"$out/ctest_other.log" 2>&1
    log "ctest (other labels): rc=$? ($(grep -E 'tests passed|tests failed' "$out/ctest_other.log" | tail -1))"
}

# The device tool stops a call at 10 minutes: in `all`, later steps are skipped (and said so) past 8.5 minutes,
# so that what ran comes back; `bench` in a second call then does the rest (made models are kept in /tmp).
time_left() {
    [ "$stage" != all ] && return 0
    [ $SECONDS -lt 510 ] && return 0
    log "skipped $1: the call is near its 10-minute limit; run 'bash tests/gpu/device_run.sh bench' next"
    return 1
}

bench_model() {  # name path [extra moewb bench args]
    local name=$1 path=$2 tmp=/tmp/moe-bench-$1.log
    time_left "bench $name" || return 0
    shift 2
    "$build/app/cli/moewb" bench "$path" --device cuda -p 512 -n 64 -r 2 --no-db "$@" >"$tmp" 2>&1
    local rc=$?
    { echo "== moewb bench $name --device cuda $*: rc=$rc"; cat "$tmp"; } >>"$out/bench.log"
    log "bench $name (cuda $*): rc=$rc"
    grep -E "^(model|GPU|memory|pp|tg|routing)|moewb" "$tmp" | tee -a "$summary"
}

do_bench() {
    local t0=$SECONDS
    "$build/tests/bench/bench_cuda_kernels" 10 >/tmp/moe-bench-kernels.log 2>&1
    log "bench_cuda_kernels: rc=$?"
    cat /tmp/moe-bench-kernels.log >>"$summary"
    local models=/tmp/moe-models
    mkdir -p "$models"
    local mw="$build/app/cli/moewb"
    for t in bf16 q8_0; do
        time_left "make-fixture v2-lite $t" || continue
        [ -f "$models/v2-lite-$t.gguf" ] || "$mw" make-fixture --arch deepseek2 --preset v2-lite --type $t --quiet \
            "$models/v2-lite-$t.gguf" >>"$out/bench.log" 2>&1
        log "make-fixture v2-lite $t: rc=$? $(du -h "$models/v2-lite-$t.gguf" 2>/dev/null | cut -f1)"
    done
    [ -f "$models/medium-bf16.gguf" ] || "$mw" make-fixture --arch deepseek2 --preset medium --type bf16 --quiet \
        "$models/medium-bf16.gguf" >>"$out/bench.log" 2>&1
    "$mw" info "$models/v2-lite-bf16.gguf" --device cuda >/tmp/moe-info.txt 2>&1
    cat /tmp/moe-info.txt >>"$out/bench.log"
    grep -E "^(device|memory plan|parameters)" /tmp/moe-info.txt | tee -a "$summary"
    bench_model v2-lite-bf16 "$models/v2-lite-bf16.gguf"
    bench_model v2-lite-q8_0 "$models/v2-lite-q8_0.gguf"
    bench_model medium-bf16 "$models/medium-bf16.gguf"
    bench_model v2-lite-q8_0-experts-cpu "$models/v2-lite-q8_0.gguf" --experts cpu -n 16 -r 1
    log "bench: $((SECONDS - t0)) s"
}

unpack
case "$stage" in
    all) do_build; do_test; do_bench ;;
    build) do_build ;;
    test) do_test ;;
    bench) do_bench ;;
    *) echo "usage: device_run.sh --prepare | all | build | test | bench" >&2; exit 2 ;;
esac
tail -80 "$summary"
