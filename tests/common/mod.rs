//! Helpers shared by the cross-crate tests: a loopback HTTP server for wheels, scratch copies of
//! the `examples/embedded` crate built with cargo, pinned downloads, the numpy wheel.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use sha2::{Digest, Sha256};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn assert_success(out: &Output) {
    assert!(out.status.success(), "build failed:\n{}", text(&out.stderr));
}

pub fn sha256_file(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// A fresh folder under target/ for this test's outputs.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = repo().join("target/test-scratch").join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The one file in `dir` whose name contains `pattern`.
pub fn single_file(dir: &Path, pattern: &str) -> PathBuf {
    let matches: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.file_name().unwrap().to_string_lossy().contains(pattern))
        .collect();
    assert_eq!(matches.len(), 1, "expected one {pattern} in {}: {matches:?}", dir.display());
    matches.into_iter().next().unwrap()
}

/// A loopback HTTP server serving the files of one folder; counts the requests it answered.
pub struct WheelServer {
    pub port: u16,
    requests: Arc<AtomicUsize>,
}

impl WheelServer {
    pub fn start(dir: PathBuf) -> WheelServer {
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

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Replaces the `wheels = [ ... ]` list of a Cargo.toml's `[package.metadata.eryx]` table.
pub fn replace_wheel_list(manifest: &str, wheels: &str) -> String {
    let table = manifest.find("[package.metadata.eryx]").expect("the manifest has a [package.metadata.eryx] table");
    let start = table + manifest[table..].find("wheels = [").expect("the table lists wheels");
    let end =
        start + manifest[start..].find("\n]\n").expect("the wheel list ends with `]` on its own line") + "\n]".len();
    format!("{}wheels = [\n{wheels}\n]{}", &manifest[..start], &manifest[end..])
}

/// A copy of the example crate (`examples/embedded`) whose URLs point at `port`, with its own
/// download cache. `edit` changes its Cargo.toml after the paths and the port are rewritten.
pub struct Example {
    pub dir: tempfile::TempDir,
    pub downloads: tempfile::TempDir,
    /// The package (and binary) name.
    pub name: String,
}

impl Example {
    pub fn new(port: u16, edit: impl Fn(String) -> String) -> Example {
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
                    .replace("http://127.0.0.1:8731/", &format!("http://127.0.0.1:{port}/"));
                text = edit(text);
                let line = text.lines().find(|l| l.starts_with("name = \"")).expect("the package has a name");
                name = line.trim_start_matches("name = \"").trim_end_matches('"').to_string();
            }
            std::fs::write(target, text).unwrap();
        }
        Example { dir, downloads: tempfile::tempdir().unwrap(), name }
    }

    pub fn cargo(&self, args: &[&str], envs: &[(&str, &str)]) -> Output {
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

    pub fn build(&self, envs: &[(&str, &str)]) -> Output {
        self.cargo(&["build", "--release", "-v"], envs)
    }

    pub fn clean(&self) {
        let out = self.cargo(&["clean", "--release", "-p", &self.name], &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }

    /// `OUT_DIR/eryx` of the last build of this copy.
    pub fn outputs(&self) -> PathBuf {
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

    pub fn run(&self, code: Option<&str>) -> Output {
        self.run_with(code, &[])
    }

    pub fn run_with(&self, code: Option<&str>, envs: &[(&str, &str)]) -> Output {
        let binary = repo().join("target/release").join(&self.name);
        Command::new(binary).args(code).envs(envs.iter().copied()).output().unwrap()
    }
}

/// Pure-Python wheels from PyPI used by the tests (pytest and what it needs), pinned by SHA-256.
/// pytest 8.4 rather than 9: pytest 9 deprecates class-scoped fixtures written as instance
/// methods, which numpy 2.4.6's tests use, and numpy's pytest.ini turns warnings into errors.
pub const PINNED_WHEELS: &[(&str, &str)] = &[
    ("pytest==8.4.2", "872f880de3fc3a5bdc88a11b39c9710c3497a547cfa9320bc3c5e62fbf272e79"),
    ("pluggy==1.7.0", "7dd7b0d8832ba3cb632c306926ded123429211b83641b35dc5c41ad2d34f9bec"),
    ("iniconfig==2.3.1", "9121e2c1fdb355232495be3194c8dfe87ccc2d5dee45947b78e68f499790d7a7"),
    ("packaging==26.3", "d7193f7c8e4e93f444fde0262bf90af30e16fa0ad0ad44cb553c87339b23cd1c"),
    ("pygments==2.21.0", "2363c69b61c4a97c838da3b130dcd6468f4848992b21a82f2a63ec34377137d9"),
];

/// Downloads the pinned pure-Python wheels (`pip download --no-deps --only-binary :all:`) into
/// one scratch folder and checks each against its SHA-256.
pub fn pip_download_pinned(requirements: &[&str]) -> Vec<PathBuf> {
    let dir = scratch_dir("pinned-wheels");
    let status = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--only-binary",
            ":all:",
            "-d",
        ])
        .arg(&dir)
        .args(requirements)
        .status()
        .expect("pip runs");
    assert!(status.success(), "pip download {requirements:?} failed");
    requirements
        .iter()
        .map(|requirement| {
            let (_, sha256) = PINNED_WHEELS.iter().find(|(r, _)| r == requirement).expect("the wheel is pinned");
            let (name, version) = requirement.split_once("==").unwrap();
            let wheel = single_file(&dir, &format!("{name}-{version}-"));
            assert_eq!(sha256_file(&wheel), *sha256, "{requirement} is not the pinned file");
            wheel
        })
        .collect()
}

pub const NUMPY_VERSION: &str = "2.4.6";
/// The numpy sdist that `libs/sdist-wheel/numpy/build.sh` builds (its `NUMPY_SHA256`).
pub const NUMPY_SDIST_SHA256: &str = "f3a3570c4a2a16746ac2c31a7c7c7b0c186b95ce902e33db6f28094ed7387dda";

/// The numpy wheel, built from its sdist by `libs/sdist-wheel/numpy/build.sh` (once per
/// process; the script itself caches the wheel, so later calls take a fraction of a second).
pub fn numpy_wheel() -> &'static Path {
    static WHEEL: OnceLock<PathBuf> = OnceLock::new();
    WHEEL.get_or_init(|| {
        let out = scratch_dir("numpy-wheel");
        let status = Command::new(repo().join("libs/sdist-wheel/numpy/build.sh"))
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("libs/sdist-wheel/numpy/build.sh runs");
        assert!(status.success(), "building numpy for wasm32-wasi failed");
        single_file(&out, &format!("numpy-{NUMPY_VERSION}-cp314-cp314-wasi_0_0_0_wasm32.whl"))
    })
}

/// The pinned numpy sdist, as build.sh caches it (`<cache>/eryx/sdists/<sha256>/`). build.sh
/// downloads it on a cold build; a wheel restored from build.sh's cache on a machine that never
/// had the sdist is not supported (the test says so).
pub fn numpy_sdist() -> PathBuf {
    numpy_wheel();
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache"));
    let sdist = cache.join("eryx/sdists").join(NUMPY_SDIST_SHA256).join(format!("numpy-{NUMPY_VERSION}.tar.gz"));
    assert!(
        sdist.exists(),
        "{} is missing: remove build.sh's cached wheel to make it download the sdist",
        sdist.display()
    );
    assert_eq!(sha256_file(&sdist), NUMPY_SDIST_SHA256, "{} is not the pinned sdist", sdist.display());
    sdist
}
