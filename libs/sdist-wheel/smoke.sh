#!/usr/bin/env bash
# End-to-end check of libs/sdist-wheel/build.sh: builds MarkupSafe 3.0.4 from its sdist (or takes
# the wheel from the cache) and runs its C extension in eryx's sandbox.
#   libs/sdist-wheel/smoke.sh
# MarkupSafe 3 names its C function markupsafe._speedups._escape_inner (no `escape` there any
# more); markupsafe.escape is the pure-Python wrapper around it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
wheel=$("$here/build.sh" markupsafe==3.0.4 2e9ad7dd851bf45fab9f75cbff4cb493fee9979e8d8c7c9c3ee119022518edd6 "$here/target/wheels")
code='
import markupsafe, markupsafe._speedups as s
print(s._escape_inner("<a>"), markupsafe.escape("<b>&\"x\"</b>"), markupsafe.Markup("<i>%s</i>") % "<x>")
print(markupsafe._escape_inner is s._escape_inner, s.__file__)
'
expected='&lt;a&gt; &lt;b&gt;&amp;&#34;x&#34;&lt;/b&gt; <i>&lt;x&gt;</i>
True /site-packages/markupsafe/_speedups.cpython-314-wasm32-wasi.so'
got=$(cd "$root" && cargo run --quiet --release -p eryx-cli -- --wheel "$wheel" -c "$code")
echo "$got"
if [ "$got" != "$expected" ]; then
  echo "smoke: output differs from the expected:" >&2
  diff <(echo "$expected") <(echo "$got") >&2 || true
  exit 1
fi
echo "smoke: ok"
