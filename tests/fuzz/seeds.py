#!/usr/bin/env python3
"""Writes the committed seed corpus of the fuzz targets (corpus/<target>/), deterministically.

Run from anywhere: `python3 tests/fuzz/seeds.py`. Wheels are built here with fixed dates and
the committed test wheels of tests/fixtures/wheels are copied in; wasm modules are written
byte by byte (and the test wheels' extensions are extracted), so no binary comes from elsewhere.
"""
import base64
import hashlib
import io
import pathlib
import shutil
import zipfile

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CORPUS = HERE / "corpus"
DATE = (2020, 1, 1, 0, 0, 0)


def wheel(name, version, files, compression=zipfile.ZIP_STORED, extra_dist_info=()):
    """A wheel zip with METADATA, RECORD (right hashes) and `files` ([(path, bytes)])."""
    dist_info = f"{name}-{version}.dist-info"
    members = list(files)
    members.append((f"{dist_info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()))
    members.append((f"{dist_info}/WHEEL", b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"))
    members.extend(extra_dist_info)
    record = io.StringIO()
    for path, data in members:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.write(f"{path},sha256={digest},{len(data)}\n")
    record.write(f"{dist_info}/RECORD,,\n")
    members.append((f"{dist_info}/RECORD", record.getvalue().encode()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for path, data in members:
            info = zipfile.ZipInfo(path, DATE)
            info.compress_type = compression
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out.getvalue()


def leb(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def name(text):
    return leb(len(text)) + text.encode()


def section(ident, payload):
    return bytes([ident]) + leb(len(payload)) + payload


def dylink(*subsections):
    """A `dylink.0` custom section; each subsection is (type, payload)."""
    body = name("dylink.0") + b"".join(bytes([ty]) + leb(len(p)) + p for ty, p in subsections)
    return section(0, body)


MODULE = b"\0asm\x01\0\0\0"
COMPONENT = b"\0asm\x0d\0\x01\0"
MEM_INFO = (1, leb(16) + leb(2) + leb(0) + leb(0))  # memory size, alignment, table size, alignment
NEEDED = (2, leb(1) + name("libc.so"))
EXPORT_INFO = (3, leb(1) + name("PyInit_m") + leb(0))
IMPORT_INFO = (4, leb(1) + name("env") + name("malloc") + leb(0))
# type section: one function type () -> i32; function section: one function; export
# "PyInit_m"; code: i32.const 0, end.
FUNCTION = (
    section(1, leb(1) + b"\x60\x00\x01\x7f")
    + section(3, leb(1) + leb(0))
    + section(7, leb(1) + name("PyInit_m") + b"\x00" + leb(0))
    + section(10, leb(1) + leb(4) + b"\x00\x41\x00\x0b")
)


def write(target, file_name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / file_name).write_bytes(data if isinstance(data, bytes) else data.encode())


def main():
    shutil.rmtree(CORPUS, ignore_errors=True)
    fixtures = sorted((ROOT / "tests/fixtures/wheels").glob("*.whl"))

    # wheel: real wheels, whole.
    for path in fixtures:
        write("wheel", path.name, path.read_bytes())
    write("wheel", "pure.whl", wheel("demo", "1.0", [("demo/__init__.py", b"X = 1\n")]))
    write("wheel", "deflated.whl", wheel("demo", "1.0", [("demo/__init__.py", b"X = 1\n" * 20)], zipfile.ZIP_DEFLATED))
    write("wheel", "data-dirs.whl", wheel("my_pkg", "0.2", [
        ("my_pkg/__init__.py", b""),
        ("my_pkg-0.2.data/purelib/extra.py", b"E = 2\n"),
        ("my_pkg-0.2.data/platlib/my_pkg/_x.cpython-314-wasm32-wasi.so", MODULE + dylink(MEM_INFO)),
        ("my_pkg-0.2.data/scripts/tool", b"#!python\n"),
    ]))
    write("wheel", "signed.whl", wheel("demo", "1.0", [("demo.py", b"")],
                                     extra_dist_info=[("demo-1.0.dist-info/RECORD.jws", b"{}")]))

    # site: scripts (see src/site.rs for the format).
    write("site", "one-wheel", "wheel demo\ndemo/__init__.py=X = 1\ndemo/_x.cpython-314-wasm32-wasi.so=\0asm\n")
    write("site", "all-kinds",
          "wheel a\na/__init__.py=\nstruct b\nb/mod.py=B\nfile site-dir\nc/__init__.py=C\nc/data.txt=\n"
          "ext\nd/_d.cpython-314-wasm32-wasi.so=\0asm\n/e.abi3.so=\0asm\n")
    write("site", "nested", "file site-dir\npkg/sub/deep/mod.py=1\npkg/sub/__init__.py=\npkg/__init__.py=\n")
    write("site", "conflict", "wheel a\nx.py=1\nfile dir\nx.py=2\n")
    write("site", "data-dir", "wheel p\np-1.0.data/purelib/p.py=1\np-1.0.data/platlib/q.py=2\n")

    # table: trimmed Cargo.toml tables as users write them.
    sha = "0" * 63 + "f"
    write("table", "url-and-path.toml",
          "[package]\nname = \"app\"\n\n[package.metadata.eryx]\nwheels = [\n"
          f"  {{ url = \"https://example.org/pkg-1.0-cp314-cp314-wasi_0_0_0_wasm32.whl\", sha256 = \"{sha}\" }},\n"
          "  { path = \"wheels/mine-0.1-py3-none-any.whl\" },\n]\npreinit = [\"json\", \"pkg.sub\"]\n")
    write("table", "path-sha.toml", f"wheels = [{{ path = \"wheels/mine-0.1-py3-none-any.whl\", sha256 = \"{sha.upper()}\" }}]\n")
    write("table", "preinit.toml", "[package.metadata.eryx]\npreinit = [\"numpy\", \"xml.etree.ElementTree\"]\n")
    write("table", "empty.toml", "[package.metadata.eryx]\n")
    write("table", "unknown-key.toml", "[package.metadata.eryx]\nwheel = []\n")
    write("table", "both.toml", f"wheels = [{{ url = \"https://e/x.whl\", path = \"x.whl\", sha256 = \"{sha}\" }}]\n")

    # native_extension: guest path, newline, module bytes.
    ok_path = b"/site-packages/m.cpython-314-wasm32-wasi.so\n"
    write("native_extension", "mem-info", ok_path + MODULE + dylink(MEM_INFO))
    write("native_extension", "function", ok_path + MODULE + dylink(MEM_INFO, NEEDED, EXPORT_INFO, IMPORT_INFO) + FUNCTION)
    write("native_extension", "abi3", b"/site-packages/pkg/_m.abi3.so\n" + MODULE + dylink(MEM_INFO) + FUNCTION)
    write("native_extension", "no-dylink", ok_path + MODULE + FUNCTION)
    write("native_extension", "wrong-python", b"/site-packages/m.cpython-313-wasm32-wasi.so\n" + MODULE + dylink(MEM_INFO))
    write("native_extension", "component", ok_path + COMPONENT + section(1, MODULE + dylink(MEM_INFO)))
    for path in fixtures:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if member.endswith(".so"):
                    write("native_extension", f"{path.name.split('-')[0]}-{member.rsplit('/', 1)[-1]}",
                          b"/site-packages/" + member.encode() + b"\n" + archive.read(member))


if __name__ == "__main__":
    main()
