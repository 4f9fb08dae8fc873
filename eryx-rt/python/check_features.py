"""Checks that building this crate alone gives its dependencies the workspace's features.

    python3 eryx-rt/python/check_features.py

`pip install eryx-rt/python` makes maturin build the `eryx-python` crate on its own. Cargo then
resolves features for that crate only, and any dependency whose features differ from those of
`cargo build --workspace --all-features --release` (and of `cargo test`) is compiled again, with
everything above it: wasmtime and Cranelift, 10 to 30 minutes on two cores. The crate's
Cargo.toml pins the workspace's features; this script compares the two resolutions with
`cargo tree` (no compiling, about a second) and names every dependency that drifted, with the fix.
Exit status 0 when they agree, 1 otherwise.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def features(*selection: str, edges: str) -> dict[str, set[str]]:
    """Maps each resolved package (`name version`, plus `(proc-macro)`) to its feature lists."""
    listing = subprocess.run(
        ["cargo", "tree", *selection, "--all-features", "-e", edges, "--prefix", "none", "-f", "{p} {f}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    resolved: dict[str, set[str]] = {}
    for line in listing.splitlines():
        words = line.replace(" (*)", "").split()
        if not words:
            continue
        # `name vX.Y.Z [(path) | (proc-macro)] [features]`: the package's id is all but the features.
        id_words = 2 + sum(1 for word in words[2:] if word.startswith("("))
        package = " ".join(words[:id_words])
        resolved.setdefault(package, set()).add(" ".join(words[id_words:]))
    return resolved


def main() -> int:
    alone = features("-p", "eryx-python", edges="normal,build")
    drifted = []
    for label, edges in (("cargo build --workspace", "normal,build"), ("cargo test --workspace", "normal,build,dev")):
        workspace = features("--workspace", edges=edges)
        for package, lists in sorted(alone.items()):
            if package in workspace and workspace[package] != lists:
                drifted.append(f"  {package}: alone {sorted(lists)}, {label} {sorted(workspace[package])}")
    if drifted:
        print("eryx-python built alone (as `pip install` builds it) resolves other features than the workspace:")
        print("\n".join(drifted))
        print(
            "Fix: add the missing features to the pinned dependencies in eryx-rt/python/Cargo.toml, or wasmtime "
            "compiles a second time for the Python package."
        )
        return 1
    print(f"eryx-python alone resolves the workspace's features ({len(alone)} packages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
