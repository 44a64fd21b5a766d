#!/usr/bin/env bash
# Builds llama.cpp's own `llama-server`, the reference of bench/batching_reference.py, from the
# llama.cpp source vendored in the pinned llama-cpp-python sdist (the same C++ corral runs), with
# the Makefile's flags: GGML_NATIVE, no AMX. Output: bench/llama_server/build/bin/llama-server
# (git-ignored).
#
#     bench/build_llama_server.sh            # -j2: the machine is shared
#     JOBS=8 bench/build_llama_server.sh
set -euo pipefail
cd "$(dirname "$0")/.."
here=bench/llama_server
version=$(sed -n 's/^llama-cpp-python==\([0-9.]*\).*/\1/p' requirements.lock)
sdist=$here/llama_cpp_python-$version.tar.gz
hash=$(grep -A1 "^llama-cpp-python==$version" requirements.lock | sed -n 's/.*--hash=sha256:\([0-9a-f]*\).*/\1/p')
mkdir -p "$here"
if [ ! -f "$sdist" ]; then
    .venv/bin/python -m pip download --quiet --disable-pip-version-check --no-deps \
        --no-binary :all: "llama-cpp-python==$version" -d "$here"
fi
# The hash of the lock: the source built here is exactly the one pip built corral's copy from.
echo "$hash  $sdist" | sha256sum --check --quiet
src=$here/llama_cpp_python-$version/vendor/llama.cpp
[ -d "$src" ] || tar -xzf "$sdist" -C "$here"
flags=""
if [ "$(uname -m)" = x86_64 ]; then flags="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"; fi
cmake -S "$src" -B "$here/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
    "-DCMAKE_C_FLAGS=$flags" "-DCMAKE_CXX_FLAGS=$flags" -DLLAMA_BUILD_SERVER=ON \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF \
    >"$here/cmake.log"
cmake --build "$here/build" --target llama-server -j "${JOBS:-2}"
"$here/build/bin/llama-server" --version
