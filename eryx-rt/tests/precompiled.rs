//! Embedded components whose snapshot was compiled ahead of time (eryx-build's `precompile`
//! option, through `eryx_rt::precompile`): the code is loaded and runs on a machine with an
//! empty cache, its trees served from memory (nothing unpacked); code for another engine
//! configuration or for a CPU feature this host lacks is refused by wasmtime's checks, and the
//! sandbox compiles instead and still runs.

use eryx_rt::precompile::{DEFAULT_CPU, Inputs, Precompiler};
use eryx_rt::{Embedded, LoadedFrom, Runtime};
use sha2::{Digest, Sha256};

fn leak<T: ?Sized>(value: Box<T>) -> &'static T {
    Box::leak(value)
}

/// A site-packages tree with one module, as eryx-build's tar.
fn site_tar() -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let source = b"def hello():\n    return 'hello from the site tree'\n";
    let mut header = tar::Header::new_gnu();
    header.set_size(source.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut header, "greeting.py", &source[..]).unwrap();
    builder.into_inner().unwrap()
}

/// A Cranelift setting for a CPU feature this host does not have (wasmtime refuses code that
/// uses it here), as the host's CPU detection says.
fn a_feature_this_host_lacks() -> &'static str {
    let features = [
        ("has_avx_vnni", std::arch::is_x86_feature_detected!("avxvnni")),
        ("has_avx512vbmi", std::arch::is_x86_feature_detected!("avx512vbmi")),
        ("has_avx512bitalg", std::arch::is_x86_feature_detected!("avx512bitalg")),
        ("has_avx512vnni", std::arch::is_x86_feature_detected!("avx512vnni")),
        ("has_avx512f", std::arch::is_x86_feature_detected!("avx512f")),
        ("has_avx512dq", std::arch::is_x86_feature_detected!("avx512dq")),
        ("has_avx512vl", std::arch::is_x86_feature_detected!("avx512vl")),
        ("has_avx2", std::arch::is_x86_feature_detected!("avx2")),
        ("has_bmi2", std::arch::is_x86_feature_detected!("bmi2")),
        ("has_fma", std::arch::is_x86_feature_detected!("fma")),
        ("has_lzcnt", std::arch::is_x86_feature_detected!("lzcnt")),
    ];
    features
        .iter()
        .find(|(_, present)| !present)
        .map(|(name, _)| *name)
        .expect("this host has every x86 feature Cranelift can use: a wrong-CPU artifact cannot be made here")
}

struct Case {
    embedded: &'static Embedded,
}

impl Case {
    fn new(
        wasm: &[u8],
        site_tar: &[u8],
        site_sha256: &str,
        preinit: &[String],
        code: Vec<u8>,
        packs: [&[u8]; 2],
    ) -> Self {
        let embedded = Embedded::__new(
            leak(wasm.to_vec().into_boxed_slice()),
            leak(hex::encode(Sha256::digest(wasm)).into_boxed_str()),
            leak(site_tar.to_vec().into_boxed_slice()),
            leak(site_sha256.to_string().into_boxed_str()),
            leak(preinit.join("\n").into_boxed_str()),
            leak(code.into_boxed_slice()),
            leak(packs[0].to_vec().into_boxed_slice()),
            leak(packs[1].to_vec().into_boxed_slice()),
        );
        Case { embedded: leak(Box::new(embedded)) }
    }

    /// Runs the test program in a sandbox of a runtime on `cache` and says where its code came from.
    fn run(&self, cache: &std::path::Path) -> LoadedFrom {
        self.run_code(
            cache,
            "import greeting, json\nprint(json.dumps(greeting.hello()))",
            "\"hello from the site tree\"\n",
        )
    }

    /// Runs `code` in a sandbox of a runtime on `cache`, expecting `stdout`.
    fn run_code(&self, cache: &std::path::Path, code: &str, stdout: &str) -> LoadedFrom {
        let runtime = Runtime::builder().cache_dir(cache).preinit(true).build().unwrap();
        let mut sandbox = runtime.sandbox().embedded(self.embedded).build().unwrap();
        let output = sandbox.execute(code).unwrap_or_else(|e| panic!("{e}\n{}", e.output.stderr));
        assert_eq!(output.stdout, stdout, "{}", output.stderr);
        sandbox.loaded_from()
    }
}

/// Every file and folder below `dir`.
fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        found.push(entry.path());
        if entry.path().is_dir() {
            found.extend(walkdir(&entry.path()));
        }
    }
    found
}

/// Guest code that checks the standard library and site-packages served from memory.
const READ_ONLY_TREES: &str = r#"
import inspect, json, json.decoder, linecache, os, traceback, greeting
lib = os.path.dirname(os.path.dirname(json.__file__))
names = os.listdir(lib)
assert "json" in names and "os.py" in names and ".eryx-bytecode.pack" in names, names
assert os.listdir("/site-packages") == [".eryx-bytecode.pack", "greeting.py"], os.listdir("/site-packages")
assert os.path.isdir(lib + "/json") and os.path.isfile(json.__file__)
assert os.stat(json.__file__).st_mtime == 315532800
assert "hello from the site tree" in inspect.getsource(greeting.hello)
assert "def dumps(" in open(json.__file__).read()
assert linecache.getline(json.decoder.__file__, 1).strip()
try:
    json.loads("{")
except ValueError:
    assert "json/decoder.py" in traceback.format_exc()
for path in [json.__file__, lib + "/new.py", "/site-packages/greeting.py", "/site-packages/new.py"]:
    try:
        open(path, "a").close()
    except PermissionError:
        pass
    else:
        raise AssertionError(f"{path} is writable")
for change in [lambda: os.mkdir(lib + "/new"), lambda: os.remove(json.__file__), lambda: os.rename(json.__file__, lib + "/j.py"), lambda: os.rename("/site-packages/greeting.py", os.getcwd() + "/g.py")]:
    try:
        change()
    except OSError:
        pass
    else:
        raise AssertionError("a change was allowed")
for escape in [lib + "/../../../../etc/passwd", "/site-packages/../etc/passwd", lib + "/json/../../../../../etc"]:
    try:
        os.stat(escape)
    except OSError:
        pass
    else:
        raise AssertionError(f"{escape} left the tree")
print("ok")
"#;

#[test]
fn precompiled_code_loads_and_code_for_another_engine_or_cpu_falls_back_to_compiling() {
    let wasm = eryx_libs::link_component(&eryx_libs::BaseLibraries::load(), &[]).unwrap();
    let site_tar = site_tar();
    let site_sha256 = hex::encode(Sha256::digest(&site_tar));
    let preinit = vec!["json".to_string()];
    let inputs = Inputs { wasm: &wasm, site_tar: &site_tar, site_sha256: &site_sha256, preinit: &preinit };

    // The build's side (the machine's cache folder keeps the standard library's bytecode pack).
    let precompiler = Precompiler::new().unwrap();
    let snapshot = precompiler.snapshot(&inputs).unwrap();
    let code = precompiler.compile(&snapshot, None, DEFAULT_CPU).unwrap();
    assert!(precompiler.snapshot(&inputs).unwrap().wasm == snapshot.wasm, "the snapshot is reproducible");
    assert!(code == precompiler.compile(&snapshot, None, DEFAULT_CPU).unwrap(), "the code is reproducible");
    let packs = [snapshot.stdlib_pack.as_slice(), snapshot.site_pack.as_slice()];
    assert!(!packs[0].is_empty() && !packs[1].is_empty());

    // A fresh machine: an empty cache folder. The code is loaded; the trees and their packs are
    // served from memory: nothing is unpacked or written.
    let fresh = tempfile::tempdir().unwrap();
    let good = Case::new(&wasm, &site_tar, &site_sha256, &preinit, code, packs);
    assert_eq!(good.run(fresh.path()), LoadedFrom::Precompiled);
    let written: Vec<_> = walkdir(fresh.path());
    assert!(written.is_empty(), "nothing is written to the cache folder: {written:?}");
    // The in-memory trees behave as read-only folders: listed, read (sources for tracebacks
    // and inspect), never changed, never left through `..`.
    assert_eq!(good.run_code(fresh.path(), READ_ONLY_TREES, "ok\n"), LoadedFrom::Precompiled);

    // Code that uses a CPU feature this host lacks: refused, compiled instead, and it runs.
    let missing = a_feature_this_host_lacks();
    let wrong_cpu = precompiler.compile(&snapshot, None, &format!("{DEFAULT_CPU}+{missing}")).unwrap();
    let fallback = tempfile::tempdir().unwrap();
    let case = Case::new(&wasm, &site_tar, &site_sha256, &preinit, wrong_cpu, packs);
    assert_eq!(case.run(fallback.path()), LoadedFrom::Compiled, "code using {missing} was not refused");

    // Code from an engine configured otherwise (fuel metering): refused too. Its fallback finds
    // the code the previous fallback compiled in the same cache folder.
    let mut config = wasmtime::Config::new();
    config.consume_fuel(true).epoch_interruption(true);
    let fuel_engine = wasmtime::Engine::new(&config).unwrap();
    let wrong_engine = fuel_engine.precompile_component(&snapshot.wasm).unwrap();
    let case = Case::new(&wasm, &site_tar, &site_sha256, &preinit, wrong_engine, packs);
    assert_eq!(case.run(fallback.path()), LoadedFrom::Disk, "code from a fuel engine was not refused");

    // Not wasmtime code at all: refused before wasmtime looks further.
    let case = Case::new(&wasm, &site_tar, &site_sha256, &preinit, b"\x7fELF not really".to_vec(), packs);
    assert_eq!(case.run(fallback.path()), LoadedFrom::Disk);
}
