// Pyodide side of the eryx side-by-side benchmarks.
//
//   node bench.mjs [--rounds N] [--programs startup,import,compute,jinja2] [--wheel PATH]... [--out FILE]
//
// Every measurement is a fresh `node` process (no state carried between rounds). For each
// program and round the parent records
//   first_ms: process spawn -> the result line arriving on the child's stdout,
//   exit_ms:  process spawn -> the child's exit,
// and the child reports what it measured itself (performance.now() counts from the child's
// process start): load_ms (loadPyodide() done), and for the timed programs the Python-side
// time of the timed part (inner_ms, from time.perf_counter() inside the program).
// One warm-up process per program runs first and is not recorded (warm OS file cache).
// Prints medians (and the samples) as JSON on stdout, or writes them to --out.
// (bench/run.sh does not use this parent mode: bench/measure.py spawns the `--child` processes
// itself, interleaved with eryx's, so that both sides are timed by the same code.)
//
// The programs are read from ../programs.json, shared with the eryx side. `jinja2` needs the
// MarkupSafe and Jinja2 wheels (--wheel, twice); they are unpacked into Pyodide's
// site-packages, since loadPackage() would fetch Pyodide's own builds from a CDN.

import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const PROGRAMS = JSON.parse(readFileSync(join(HERE, "..", "programs.json"), "utf8"));

function codeOf(name) {
  const code = PROGRAMS[name].code;
  return Array.isArray(code) ? code.join("\n") + "\n" : code;
}

function parseArgs(argv) {
  const args = { rounds: 7, programs: null, wheels: [], out: null, child: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === "--rounds") args.rounds = Number.parseInt(next(), 10);
    else if (a === "--programs") args.programs = next().split(",").filter(Boolean);
    else if (a === "--wheel") args.wheels.push(resolve(next()));
    else if (a === "--out") args.out = next();
    else if (a === "--child") args.child = next();
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(args.rounds) || args.rounds < 1) throw new Error("--rounds must be a positive integer");
  return args;
}

// ---- child: one fresh process, one program ------------------------------------------------

async function child(name, wheels) {
  const { loadPyodide } = await import("pyodide");
  const py = await loadPyodide({
    stdout: (line) => process.stdout.write(line + "\n"),
    stderr: (line) => process.stderr.write(line + "\n"),
  });
  const loadMs = performance.now();
  const report = { program: name, load_ms: loadMs, version: py.version };
  if (name === "startup") {
    const value = py.runPython("1+1");
    process.stdout.write(`${value}\n`);
    report.first_result_ms = performance.now();
  } else {
    if (PROGRAMS[name].wheels) {
      const site = py.runPython("import sysconfig; sysconfig.get_path('purelib')");
      for (const wheel of wheels) py.unpackArchive(new Uint8Array(readFileSync(wheel)), "wheel", { extractDir: site });
      report.wheels_ms = performance.now() - loadMs;
    }
    py.runPython(codeOf(name));
    report.first_result_ms = performance.now();
  }
  process.stdout.write(`CHILD ${JSON.stringify(report)}\n`);
  process.exit(0);
}

// ---- parent: spawn fresh processes, time them, take medians -------------------------------

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function runOnce(name, wheels) {
  return new Promise((resolvePromise, reject) => {
    const argv = [fileURLToPath(import.meta.url), "--child", name];
    for (const w of wheels) argv.push("--wheel", w);
    const start = process.hrtime.bigint();
    const proc = spawn(process.execPath, argv, { cwd: HERE, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let firstMs = null;
    const isResult = (line) => (name === "startup" ? line.trim() === String(PROGRAMS.startup.expect) : line.startsWith("RESULT "));
    proc.stdout.on("data", (chunk) => {
      out += chunk;
      if (firstMs === null && out.split("\n").slice(0, -1).some(isResult)) {
        firstMs = Number(process.hrtime.bigint() - start) / 1e6;
      }
    });
    proc.stderr.on("data", (chunk) => (err += chunk));
    proc.on("error", reject);
    proc.on("close", (code) => {
      const exitMs = Number(process.hrtime.bigint() - start) / 1e6;
      if (code !== 0 || firstMs === null) {
        reject(new Error(`pyodide ${name}: exit ${code}, no result\n${out.slice(-2000)}\n${err.slice(-2000)}`));
        return;
      }
      const lines = out.split("\n");
      const childLine = lines.find((l) => l.startsWith("CHILD "));
      const report = childLine ? JSON.parse(childLine.slice(6)) : {};
      const sample = { first_ms: firstMs, exit_ms: exitMs, load_ms: report.load_ms, version: report.version };
      if (report.wheels_ms !== undefined) sample.wheels_ms = report.wheels_ms;
      const resultLine = lines.find((l) => l.startsWith("RESULT "));
      if (resultLine) {
        const result = JSON.parse(resultLine.slice(7));
        sample.inner_ms = result.ms;
        sample.result = result;
        const expect = PROGRAMS[name].expect;
        if (expect !== undefined && result.check !== expect) {
          reject(new Error(`pyodide ${name}: check ${JSON.stringify(result.check)} != ${JSON.stringify(expect)}`));
          return;
        }
      }
      resolvePromise(sample);
    });
  });
}

async function parent(args) {
  let names = args.programs ?? Object.keys(PROGRAMS).filter((k) => !k.startsWith("_"));
  const skipped = {};
  if (args.wheels.length === 0) {
    for (const n of names) if (PROGRAMS[n].wheels) skipped[n] = "no --wheel given";
    names = names.filter((n) => !PROGRAMS[n].wheels);
  }
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (const n of names) await runOnce(n, args.wheels); // warm-up, not recorded
  // Rounds interleave the programs, so slow drift of the machine spreads over all of them.
  for (let r = 0; r < args.rounds; r++) {
    for (const n of names) {
      samples[n].push(await runOnce(n, args.wheels));
      process.stderr.write(`pyodide ${n} round ${r + 1}/${args.rounds}: ${samples[n].at(-1).first_ms.toFixed(1)} ms\n`);
    }
  }
  const programs = {};
  let version = null;
  for (const n of names) {
    const s = samples[n];
    version = s[0].version;
    const entry = {
      title: PROGRAMS[n].title,
      first_ms: median(s.map((x) => x.first_ms)),
      exit_ms: median(s.map((x) => x.exit_ms)),
      load_ms: median(s.map((x) => x.load_ms)),
      samples: s.map(({ version: _v, ...rest }) => rest),
    };
    if (s[0].inner_ms !== undefined) entry.inner_ms = median(s.map((x) => x.inner_ms));
    if (s[0].wheels_ms !== undefined) entry.wheels_ms = median(s.map((x) => x.wheels_ms));
    if (s[0].result && "speedups" in s[0].result) entry.markupsafe_speedups = s[0].result.speedups;
    if (s[0].result && "import_ms" in s[0].result) {
      entry.import_ms = median(s.map((x) => x.result.import_ms));
      entry.render_ms = median(s.map((x) => x.result.render_ms));
    }
    programs[n] = entry;
  }
  const pkg = JSON.parse(readFileSync(join(HERE, "package.json"), "utf8"));
  const result = {
    runtime: "pyodide",
    pyodide_version: version,
    pyodide_npm: pkg.dependencies.pyodide,
    node_version: process.version,
    rounds: args.rounds,
    programs,
    skipped,
  };
  const text = JSON.stringify(result, null, 2) + "\n";
  if (args.out) writeFileSync(args.out, text);
  else process.stdout.write(text);
}

const args = parseArgs(process.argv.slice(2));
if (args.child) await child(args.child, args.wheels);
else await parent(args);
