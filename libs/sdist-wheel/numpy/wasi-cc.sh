#!/usr/bin/env bash
# Compiler driver that the meson cross file names for C (`wasi-cc.sh cc`) and C++ (`wasi-cc.sh c++`).
# Compiling, and linking meson's check programs (executables), run clang-19 / clang++-19 with the
# toolchain's flags (--target=wasm32-wasip1 -fPIC --sysroot=..., see ERYX_WASI_CFLAGS).
# A link with -shared (every numpy extension module and nothing else) goes to the toolchain's
# wasm32-wasi-ldshared (wasm-ld --shared --experimental-pic against libpython3.14.so + libc.so +
# compiler-rt builtins), adding libc++.so, libc++abi.so, the wasi-emulated libraries, and dropping the ELF-only flags meson adds (wasm-ld rejects them).
set -euo pipefail
lang=$1; shift
tc=${ERYX_WASI_TOOLCHAIN:?source the toolchain env.sh first}
shared=0 link=1
for a in "$@"; do
  case $a in -shared) shared=1;; -c|-E|-S|-M|-MM) link=0;; esac
done
if [ $shared = 0 ]; then
  extra=()
  # A check program (executable): clang-19 would look for compiler-rt in its own resource folder,
  # which has no wasm32 build; use the sysroot's instead.
  [ $link = 1 ] && extra=(-nodefaultlibs -lc "$ERYX_WASI_SYSROOT/lib/wasm32-unknown-wasip1/libclang_rt.builtins.a")
  [ $link = 1 ] && [ "$lang" = c++ ] && extra=(-lc++ -lc++abi "${extra[@]}")
  # The toolchain's flags without its -I<CPython headers>: that -I would come before numpy's own
  # include folders, and CPython 3.14's refcount.h would then shadow numpy's refcount.h. meson
  # adds the same folder itself, in the right place, from fake-python.py's INCLUDEPY.
  flags=()
  for f in $ERYX_WASI_CFLAGS; do [ "$f" = "-I$ERYX_WASI_PYTHON_INCLUDE" ] || flags+=("$f"); done
  clang=clang-19; [ "$lang" = c++ ] && clang=clang++-19
  exec "$clang" "${flags[@]}" "$@" "${extra[@]}"
fi
args=()
for a in "$@"; do
  case $a in
    -shared|-Wl,--as-needed|-Wl,--no-as-needed|-Wl,--no-undefined|-Wl,--allow-shlib-undefined) ;;
    -Wl,--start-group|-Wl,--end-group|-Wl,-soname,*|-Wl,-rpath,*|-Wl,-rpath-link,*|-Wl,-O1) ;;
    -pthread|-lm|-lpthread|-ldl) ;;
    *) args+=("$a") ;;
  esac
done
base=$ERYX_WASI_BASE
export ERYX_WASI_EXTRA_LIBS="$base/libc++.so $base/libc++abi.so $base/libwasi-emulated-mman.so $base/libwasi-emulated-process-clocks.so $base/libwasi-emulated-getpid.so $base/libwasi-emulated-signal.so"
exec "$tc/bin/wasm32-wasi-ldshared" "${args[@]}"
