//! Embedded components whose snapshot was compiled ahead of time (eryx-build's `precompile`
//! option, through `eryx_rt::precompile`): the code is loaded and runs on a machine with an
//! empty cache; code for another engine configuration or for a CPU feature this host lacks is
//! refused by wasmtime's checks, and the sandbox compiles instead and still runs.

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
        let runtime = Runtime::builder().cache_dir(cache).preinit(true).build().unwrap();
        let mut sandbox = runtime.sandbox().embedded(self.embedded).build().unwrap();
        let output = sandbox.execute("import greeting, json\nprint(json.dumps(greeting.hello()))").unwrap();
        assert_eq!(output.stdout, "\"hello from the site tree\"\n");
        sandbox.loaded_from()
    }
}

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

    // A fresh machine: an empty cache folder. The code is loaded; the packs are installed, not made.
    let fresh = tempfile::tempdir().unwrap();
    let good = Case::new(&wasm, &site_tar, &site_sha256, &preinit, code, packs);
    assert_eq!(good.run(fresh.path()), LoadedFrom::Precompiled);
    let stdlib_pack = std::fs::read_dir(fresh.path())
        .unwrap()
        .flatten()
        .map(|entry| entry.path().join(".eryx-bytecode.pack"))
        .find(|pack| pack.is_file())
        .expect("the standard library's pack is installed in the cache folder");
    assert!(std::fs::read(stdlib_pack).unwrap() == packs[0]);

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
