"""Runs a wasm32-wasip1 python.wasm under wasmtime (the `wasmtime` package from PyPI, pinned as
`wasmtime-py` in libs/pins.txt), with epoch interruption on and Cranelift at `speed`, as eryx's
engine has them. The compiled module is cached beside the .wasm.

    run_wasmtime.py PYTHON.wasm HOME [PYTHON ARGS...]   (HOME is preopened as / and PYTHONHOME)
"""

import os
import sys
from importlib.metadata import version

import wasmtime


def main():
    wasm, home, *args = sys.argv[1:]
    config = wasmtime.Config()
    config.epoch_interruption = True
    config.cranelift_opt_level = "speed"
    engine = wasmtime.Engine(config)
    cache = f"{wasm}.wasmtime-{version('wasmtime')}.cwasm"
    if os.path.exists(cache):
        module = wasmtime.Module.deserialize_file(engine, cache)
    else:
        module = wasmtime.Module.from_file(engine, wasm)
        with open(cache, "wb") as f:
            f.write(module.serialize())
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    store = wasmtime.Store(engine)
    store.set_epoch_deadline(1 << 40)
    wasi = wasmtime.WasiConfig()
    wasi.argv = ["python", *args]
    wasi.env = [("PYTHONHOME", "/"), ("PYTHONDONTWRITEBYTECODE", "1")]
    wasi.preopen_dir(home, "/")
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    store.set_wasi(wasi)
    instance = linker.instantiate(store, module)
    try:
        instance.exports(store)["_start"](store)
    except wasmtime.ExitTrap as exit_trap:
        sys.exit(exit_trap.code)


if __name__ == "__main__":
    main()
