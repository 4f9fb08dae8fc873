//! Helpers shared by the cross-crate tests: a loopback HTTP server for wheels, scratch copies of
//! the `examples/embedded` crate built with cargo, pinned downloads, the numpy wheel.
#![allow(dead_code)]

pub(crate) mod pins;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use sha2::{Digest, Sha256};

pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub(crate) fn assert_success(out: &Output) {
    assert!(out.status.success(), "build failed:\n{}", text(&out.stderr));
}

pub(crate) fn sha256_file(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// A fresh folder under target/ for this test's outputs.
pub(crate) fn scratch_dir(name: &str) -> PathBuf {
    let dir = repo().join("target/test-scratch").join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The one file in `dir` whose name contains `pattern`.
pub(crate) fn single_file(dir: &Path, pattern: &str) -> PathBuf {
    let matches: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.file_name().unwrap().to_string_lossy().contains(pattern))
        .collect();
    assert_eq!(matches.len(), 1, "expected one {pattern} in {}: {matches:?}", dir.display());
    matches.into_iter().next().unwrap()
}

/// A loopback HTTP server serving the files of one folder; counts the requests it answered.
pub(crate) struct WheelServer {
    pub(crate) port: u16,
    requests: Arc<AtomicUsize>,
}

impl WheelServer {
    pub(crate) fn start(dir: PathBuf) -> WheelServer {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        std::thread::spawn(move || {
            for request in server.incoming_requests() {
                counter.fetch_add(1, Ordering::SeqCst);
                let name = request.url().trim_start_matches('/').to_string();
                let response = match (name.contains('/') || name.contains(".."), std::fs::File::open(dir.join(&name))) {
                    (false, Ok(file)) => tiny_http::Response::from_file(file).boxed(),
                    _ => tiny_http::Response::from_string("not found").with_status_code(404).boxed(),
                };
                let _ = request.respond(response);
            }
        });
        WheelServer { port, requests }
    }

    pub(crate) fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Replaces the `wheels = [ ... ]` list of a Cargo.toml's `[package.metadata.eryx]` table.
pub(crate) fn replace_wheel_list(manifest: &str, wheels: &str) -> String {
    let table = manifest.find("[package.metadata.eryx]").expect("the manifest has a [package.metadata.eryx] table");
    let start = table + manifest[table..].find("wheels = [").expect("the table lists wheels");
    let end =
        start + manifest[start..].find("\n]\n").expect("the wheel list ends with `]` on its own line") + "\n]".len();
    format!("{}wheels = [\n{wheels}\n]{}", &manifest[..start], &manifest[end..])
}

/// Dependencies added to each copy of the example crate, only for the features they enable. In
/// the workspace build (`cargo test --workspace --all-features --release`, CI) eryx-build is a
/// normal dependency and the `eryx` command is built too, so their features of serde, semver,
/// serde_json, percent-encoding and log are unified with wasmtime's; in the copy eryx-build is a
/// build dependency, resolved apart. Without these lines the copy compiles wasmtime and
/// Cranelift a second time (about ten minutes on 2 cores); with them (and the workspace's
/// Cargo.lock) it reuses the workspace's (checked with cargo's unit graph).
const SHARED_FEATURES: &str = r#"serde = "1"
semver = "1"
serde_json = { version = "1", features = ["unbounded_depth"] }
percent-encoding = "2"
log = { version = "0.4", features = ["std"] }
"#;

/// A copy of the example crate (`examples/embedded`) whose URLs point at `port`, with its own
/// download cache. `edit` changes its Cargo.toml after the paths and the port are rewritten.
pub(crate) struct Example {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) downloads: tempfile::TempDir,
    /// The package (and binary) name.
    pub(crate) name: String,
}

impl Example {
    pub(crate) fn new(port: u16, edit: impl Fn(String) -> String) -> Example {
        let dir = tempfile::tempdir().unwrap();
        let source = repo().join("examples/embedded");
        let mut name = String::new();
        for file in ["Cargo.toml", "build.rs", "src/main.rs"] {
            let target = dir.path().join(file);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            let mut text = std::fs::read_to_string(source.join(file)).unwrap();
            if file == "Cargo.toml" {
                let root = repo().display().to_string();
                text = text
                    .replace("../../", &format!("{root}/"))
                    .replace("http://127.0.0.1:8731/", &format!("http://127.0.0.1:{port}/"))
                    .replacen("[dependencies]\n", &format!("[dependencies]\n{SHARED_FEATURES}"), 1);
                text = edit(text);
                let line = text.lines().find(|l| l.starts_with("name = \"")).expect("the package has a name");
                name = line.trim_start_matches("name = \"").trim_end_matches('"').to_string();
            }
            std::fs::write(target, text).unwrap();
        }
        // The workspace's versions, so that the copy resolves to the same dependencies.
        std::fs::copy(repo().join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
        Example { dir, downloads: tempfile::tempdir().unwrap(), name }
    }

    pub(crate) fn cargo(&self, args: &[&str], envs: &[(&str, &str)]) -> Output {
        let mut command = Command::new(env!("CARGO"));
        command
            .args(args)
            .arg("--manifest-path")
            .arg(self.dir.path().join("Cargo.toml"))
            // Shared by every test: dependencies (wasmtime) are compiled once.
            .env("CARGO_TARGET_DIR", repo().join("target"))
            .env("ERYX_DOWNLOAD_CACHE", self.downloads.path())
            .env_remove("ERYX_OFFLINE")
            .env_remove("CARGO_NET_OFFLINE");
        for (key, value) in envs {
            command.env(key, value);
        }
        command.output().unwrap()
    }

    pub(crate) fn build(&self, envs: &[(&str, &str)]) -> Output {
        self.cargo(&["build", "--release", "-v"], envs)
    }

    pub(crate) fn clean(&self) {
        let out = self.cargo(&["clean", "--release", "-p", &self.name], &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }

    /// `OUT_DIR/eryx` of the last build of this copy.
    pub(crate) fn outputs(&self) -> PathBuf {
        let build = repo().join("target/release/build");
        let manifest = self.dir.path().join("Cargo.toml");
        let mut found = Vec::new();
        for entry in std::fs::read_dir(build).unwrap().flatten() {
            let out = entry.path().join("out/eryx/manifest.json");
            let root = entry.path().join("root-output");
            let for_us = std::fs::read_to_string(entry.path().join("output"))
                .is_ok_and(|o| o.contains(&manifest.display().to_string()));
            if out.exists() && for_us && root.exists() {
                found.push(entry.path().join("out/eryx"));
            }
        }
        assert_eq!(found.len(), 1, "one build output for {}: {found:?}", manifest.display());
        found.pop().unwrap()
    }

    pub(crate) fn run(&self, code: Option<&str>) -> Output {
        self.run_with(code, &[])
    }

    pub(crate) fn run_with(&self, code: Option<&str>, envs: &[(&str, &str)]) -> Output {
        let binary = repo().join("target/release").join(&self.name);
        Command::new(binary).args(code).envs(envs.iter().copied()).output().unwrap()
    }
}

/// The pinned files (`libs/pins.txt`) called `names`, each checked against its SHA-256.
pub(crate) fn pinned_files(names: &[&str]) -> Vec<PathBuf> {
    names
        .iter()
        .map(|name| {
            let (pin, file) = (pins::pin(name), pins::pinned_file(name));
            assert_eq!(sha256_file(&file), pin.sha256, "{} is not the pinned file", file.display());
            file
        })
        .collect()
}

/// The numpy version that `libs/sdist-wheel/numpy/build.sh` builds (pin `numpy-sdist`).
pub(crate) fn numpy_version() -> String {
    pins::pin("numpy-sdist").version().to_string()
}

/// The numpy wheel, built from its sdist by `libs/sdist-wheel/numpy/build.sh` (once per
/// process; the script itself caches the wheel, so later calls take a fraction of a second).
pub(crate) fn numpy_wheel() -> &'static Path {
    static WHEEL: OnceLock<PathBuf> = OnceLock::new();
    WHEEL.get_or_init(|| {
        let out = scratch_dir("numpy-wheel");
        let status = Command::new(repo().join("libs/sdist-wheel/numpy/build.sh"))
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("libs/sdist-wheel/numpy/build.sh runs");
        assert!(status.success(), "building numpy for wasm32-wasi failed");
        single_file(&out, &format!("numpy-{}-cp314-cp314-wasi_0_0_0_wasm32.whl", numpy_version()))
    })
}

/// The pinned numpy sdist that build.sh builds from (pin `numpy-sdist`).
pub(crate) fn numpy_sdist() -> PathBuf {
    pinned_files(&["numpy-sdist"]).remove(0)
}
