// Runs a wasm32-wasip1 python.wasm under Node's WASI (V8, the engine Pyodide runs on).
//   node run.mjs PYTHON.wasm HOME [PYTHON ARGS...]     (HOME is preopened as / and PYTHONHOME)
import { WASI } from "node:wasi";
import { readFileSync } from "node:fs";

const [wasm, home, ...args] = process.argv.slice(2);
const wasi = new WASI({
  version: "preview1",
  args: ["python", ...args],
  env: { PYTHONHOME: "/", PYTHONDONTWRITEBYTECODE: "1" },
  preopens: { "/": home },
  returnOnExit: true,
});
const { instance } = await WebAssembly.instantiate(readFileSync(wasm), wasi.getImportObject());
process.exitCode = wasi.start(instance);
