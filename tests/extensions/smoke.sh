#!/usr/bin/env bash
# End-to-end check of the committed test wheels in eryx's sandbox:
#   tests/extensions/smoke.sh
# Runs every native function of eryx_test_c and eryx_test_rust (ints, str, exception, module
# state, call back into Python, and calls from one extension into the other) through
# `eryx --wheel A --wheel B` and compares the output with the expected one.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
wheels=$root/tests/fixtures/wheels
code='
import eryx_test_c as c, eryx_test_rust as r
for m in (c, r):
    print(m.implementation, m.add(2, 3), m.greet("world"), m.counter(), m.counter(), m.counter(),
          m.call(lambda x: x * 2, 21), m.add_then_greet(1, 2), m._native.__file__)
    try:
        m.fail("boom")
    except ValueError as e:
        print("ValueError", e)
print(c.call(r.greet, "c->rust"), r.call(c.greet, "rust->c"))
try:
    r.call(c.fail, "nested")
except ValueError as e:
    print("nested ValueError", e)
'
expected='c 5 hello, world 1 2 3 42 hello, 3 /site-packages/eryx_test_c/_native.cpython-314-wasm32-wasi.so
ValueError boom
rust 5 hello, world 1 2 3 42 hello, 3 /site-packages/eryx_test_rust/_native.cpython-314-wasm32-wasi.so
ValueError boom
hello, c->rust hello, rust->c
nested ValueError nested'
got=$(cd "$root" && cargo run --quiet --release -p eryx-cli -- \
  --wheel "$wheels/eryx_test_c-0.1.0-cp314-cp314-wasi_0_0_0_wasm32.whl" \
  --wheel "$wheels/eryx_test_rust-0.1.0-cp314-cp314-wasi_0_0_0_wasm32.whl" -c "$code")
echo "$got"
if [ "$got" != "$expected" ]; then
  echo "smoke: output differs from the expected:" >&2
  diff <(echo "$expected") <(echo "$got") >&2 || true
  exit 1
fi
echo "smoke: ok"
