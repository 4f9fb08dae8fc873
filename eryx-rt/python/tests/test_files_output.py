"""Files in and out, host mounts, the live output handler and SystemExit."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import eryx


def test_files_in_and_out() -> None:
    box = eryx.Sandbox()
    box.files.write("input.txt", "3 4\n")
    box.files.write("/tmp/blob.bin", b"\x00\xff")
    box.execute(
        "a, b = map(int, open('input.txt').read().split())\n"
        "import os\nos.makedirs('out', exist_ok=True)\nopen('out/sum.txt', 'w').write(str(a + b))\n"
        "print(open('/tmp/blob.bin', 'rb').read())"
    )
    assert box.files.read_text("/home/sandbox/out/sum.txt") == "7"
    assert box.files.read("/tmp/blob.bin") == b"\x00\xff"
    assert box.files.list() == [
        eryx.FileEntry("input.txt", "file", 4),
        eryx.FileEntry("out", "folder", 1),
    ]
    box.files.remove("out")
    box.files.mkdir("/tmp/a/b")
    assert [entry.name for entry in box.files.list("/tmp")] == ["a", "blob.bin"]
    assert box.execute("import os\nprint(os.path.exists('out'), os.path.isdir('/tmp/a/b'))").stdout == "False True\n"


def test_file_errors_are_clear() -> None:
    box = eryx.Sandbox()
    with pytest.raises(eryx.FilesError) as caught:
        box.files.read("missing.txt")
    assert caught.value.kind == "not-found" and "missing.txt" in str(caught.value)
    with pytest.raises(eryx.FilesError) as caught:
        box.files.write("/etc/passwd", "x")
    assert caught.value.kind == "invalid-path"


def test_mounts_read_only_and_writable(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    out.mkdir()
    (data / "in.txt").write_text("hello")
    box = eryx.Sandbox(mounts=[(data, "/data"), (str(out), "/out", True)])
    assert box.execute("print(open('/data/in.txt').read())").stdout == "hello\n"
    with pytest.raises(eryx.PythonError) as caught:
        box.execute("open('/data/new.txt', 'w')")
    assert caught.value.type_name in ("OSError", "PermissionError")
    box.execute("open('/out/result.txt', 'w').write('written')")
    assert (out / "result.txt").read_text() == "written"
    with pytest.raises(eryx.SandboxError, match="mount"):
        eryx.Sandbox(mounts=[(tmp_path / "nope", "/nope")])


def test_the_output_handler_sees_every_chunk_as_it_is_printed() -> None:
    chunks: list[tuple[str, str]] = []
    box = eryx.Sandbox(output_handler=lambda stream, text: chunks.append((stream, text)))
    result = box.execute(
        "import sys\nprint('one', flush=True)\nprint('err', file=sys.stderr)\n"
        "sys.stdout.buffer.write('é'.encode()[:1]); sys.stdout.flush()\n"
        "sys.stdout.buffer.write('é'.encode()[1:]); sys.stdout.flush()\nprint()"
    )
    assert "".join(text for stream, text in chunks if stream == "stdout") == result.stdout == "one\né\n"
    assert "".join(text for stream, text in chunks if stream == "stderr") == result.stderr == "err\n"
    # Live: the guest's writes arrive one by one (print writes the text, then the newline).
    assert chunks[:2] == [("stdout", "one"), ("stdout", "\n")]


def test_an_output_handler_that_raises_does_not_stop_the_execute(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(stream: str, text: str) -> None:
        raise RuntimeError("handler broke")

    reported: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: reported.append(unraisable.exc_value))
    box = eryx.Sandbox(output_handler=broken)
    assert box.execute("print('still printed')").stdout == "still printed\n"
    assert reported and all(isinstance(error, RuntimeError) for error in reported)


def test_system_exit_is_its_own_exception_with_the_code() -> None:
    box = eryx.Sandbox()
    with pytest.raises(eryx.SystemExitError) as caught:
        box.execute("print('bye')\nimport sys\nsys.exit(3)")
    assert caught.value.code == 3
    assert caught.value.stdout == "bye\n"
    assert isinstance(caught.value, eryx.Error)
    with pytest.raises(eryx.SystemExitError) as caught:
        box.execute("raise SystemExit")
    assert caught.value.code == 0
    assert box.execute("print('usable')").stdout == "usable\n"


def test_os_exit_is_a_system_exit_with_its_status() -> None:
    box = eryx.Sandbox()
    with pytest.raises(eryx.SystemExitError) as caught:
        box.execute("import os\nprint('bye')\nos._exit(7)")
    assert caught.value.code == 7
    assert caught.value.stdout == "bye\n"
