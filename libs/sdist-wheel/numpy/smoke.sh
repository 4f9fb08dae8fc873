#!/usr/bin/env bash
# End-to-end check of the numpy wheel in eryx's sandbox:
#   libs/sdist-wheel/numpy/smoke.sh [WHEEL]      (builds the wheel with build.sh when not given)
# Runs numpy (matrix product, ufuncs on linspace, random Generator, linalg, fft, unique, the
# floating-point status: patch 0003) through
# `eryx --wheel` and compares the printed results with the expected ones.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
wheel=${1:-}
if [ -z "$wheel" ]; then
  wheel=$("$here/build.sh" "$here/target/wheels")
fi
code='
import numpy as np
print(np.dot(np.array([[1, 2], [3, 4]]), np.array([[5, 6], [7, 8]])))
print(f"Max sin: {np.sin(np.linspace(0, 2*np.pi, 100)).max():.2f}")
print(f"Mean: {np.random.default_rng(42).normal(0, 1, 1000).mean():.3f}")
print(f"det: {np.linalg.det(np.array([[2.0, 1.0], [1.0, 3.0]])):.1f}")
print(f"fft: {np.abs(np.fft.fft(np.ones(8))).round(3).tolist()}")
print(f"unique: {np.unique(np.array([3, 1, 3, 2])).tolist()}")
print(f"longdouble: {np.finfo(np.longdouble).bits}")
try:
    np.linalg.inv(np.array([[1.0, 2.0], [2.0, 4.0]]))
except np.linalg.LinAlgError as e:
    print(f"LinAlgError: {e}")
with np.errstate(divide="raise"):
    try:
        np.array([1]) // 0
    except FloatingPointError as e:
        print(f"FloatingPointError: {e}")
'
expected='[[19 22]
 [43 50]]
Max sin: 1.00
Mean: -0.029
det: 5.0
fft: [8.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
unique: [1, 2, 3]
longdouble: 128
LinAlgError: Singular matrix
FloatingPointError: divide by zero encountered in floor_divide'
start=$(date +%s.%N)
got=$(cd "$root" && cargo run --quiet --release -p eryx-cli -- --wheel "$wheel" -c "$code")
end=$(date +%s.%N)
echo "$got"
python3 -c "import sys; print(f'(eryx run: {float(sys.argv[2]) - float(sys.argv[1]):.1f} s)')" "$start" "$end"
if [ "$got" != "$expected" ]; then
  echo "smoke: output differs from the expected:" >&2
  diff <(echo "$expected") <(echo "$got") >&2 || true
  exit 1
fi
echo "smoke: ok"
