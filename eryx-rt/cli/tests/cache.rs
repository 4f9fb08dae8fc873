//! The bounded compiled-component cache and `eryx cache`, through real `eryx` processes.
//!
//! Every test has a cache folder of its own (the user's is never listed, pruned or cleared).
//! Compiling a component costs some 20 s of CPU, so one is compiled once (the seed) and each
//! test starts from a copy of that folder; entries beyond it are copies of its entry under
//! other keys (whole, checked entries that no process will ever ask for). The seed also holds
//! the standard library (a cache entry too: the cap covers everything in the folder).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use sha2::Digest;

const ERYX: &str = env!("CARGO_BIN_EXE_eryx");

/// `eryx` on the cache folder `cache`, without snapshots (one compile serves every test) and
/// with the default cap unless a test sets one.
fn eryx_in(cache: &Path) -> Command {
    let mut command = Command::new(ERYX);
    command.env("ERYX_CACHE_DIR", cache).env("ERYX_NO_PREINIT", "1").env_remove("ERYX_CACHE_LIMIT");
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run(mut command: Command) -> Output {
    let out = command.output().expect("eryx runs");
    assert!(out.status.success(), "{:?}: {}{}", out.status, text(&out.stdout), text(&out.stderr));
    out
}

/// Runs `eryx -c print(1)`; returns where its component came from (`Disk`, `Compiled`).
fn print_one(cache: &Path, limit: Option<&str>) -> String {
    let mut command = eryx_in(cache);
    command.env("ERYX_LOG", "eryx_rt=debug").args(["-c", "print(1)"]);
    if let Some(limit) = limit {
        command.env("ERYX_CACHE_LIMIT", limit);
    }
    let out = run(command);
    assert_eq!(text(&out.stdout), "1\n");
    let stderr = text(&out.stderr);
    let ready = stderr.lines().find(|line| line.contains("sandbox ready")).expect("a sandbox-ready log line");
    ["Disk", "Compiled", "Memory"].into_iter().find(|from| ready.contains(&format!("source={from}"))).unwrap().into()
}

/// The seed folder: one compiled entry (and the standard library it runs with).
fn seed() -> &'static Path {
    static SEED: OnceLock<tempfile::TempDir> = OnceLock::new();
    SEED.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(print_one(dir.path(), None), "Compiled");
        dir
    })
    .path()
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for item in std::fs::read_dir(from).unwrap() {
        let item = item.unwrap();
        let target = to.join(item.file_name());
        if item.file_type().unwrap().is_dir() {
            copy_tree(&item.path(), &target);
        } else {
            std::fs::copy(item.path(), &target).unwrap();
        }
    }
}

/// A cache folder of its own holding the seed's entry; returns it and the entry's key.
fn cache_with_one_entry() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(seed(), dir.path());
    let keys = cwasm_keys(dir.path());
    assert_eq!(keys.len(), 1, "{keys:?}");
    (dir, keys[0].clone())
}

fn components(cache: &Path) -> PathBuf {
    cache.join("components")
}

/// The keys of the `.cwasm` files in the cache, sorted.
fn cwasm_keys(cache: &Path) -> Vec<String> {
    let mut keys: Vec<String> = std::fs::read_dir(components(cache))
        .unwrap()
        .filter_map(|item| item.unwrap().file_name().to_str()?.strip_suffix(".cwasm").map(str::to_string))
        .collect();
    keys.sort();
    keys
}

/// Copies the entry `key` (code and sidecars) to `other`, last used `age` ago.
fn copy_entry(cache: &Path, key: &str, other: &str, age: Duration) {
    for suffix in [".cwasm", ".cwasm.check", ".cwasm.info"] {
        let target = components(cache).join(format!("{other}{suffix}"));
        std::fs::copy(components(cache).join(format!("{key}{suffix}")), &target).unwrap();
    }
    backdate(&components(cache).join(format!("{other}.cwasm.info")), age);
    backdate(&components(cache).join(format!("{other}.cwasm")), age);
}

fn backdate(path: &Path, age: Duration) {
    let file = std::fs::File::options().append(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

fn entry_bytes(cache: &Path, key: &str) -> u64 {
    [".cwasm", ".cwasm.check", ".cwasm.info"]
        .iter()
        .map(|suffix| std::fs::metadata(components(cache).join(format!("{key}{suffix}"))).unwrap().len())
        .sum()
}

/// The bytes of every file under `path`.
fn tree_bytes(path: &Path) -> u64 {
    let meta = std::fs::symlink_metadata(path).unwrap();
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path).unwrap().map(|item| tree_bytes(&item.unwrap().path())).sum()
}

/// The standard library's folder in the cache and its bytes (with its pack's check beside it).
fn stdlib(cache: &Path) -> (PathBuf, u64) {
    let dir = std::fs::read_dir(cache)
        .unwrap()
        .map(|item| item.unwrap().path())
        .find(|path| path.is_dir() && path.file_name().unwrap().to_str().unwrap().starts_with("stdlib-"))
        .expect("the standard library in the cache");
    let check = PathBuf::from(format!("{}.bytecode.check", dir.display()));
    let bytes = tree_bytes(&dir) + std::fs::metadata(&check).map(|meta| meta.len()).unwrap_or(0);
    (dir, bytes)
}

fn cache_command(cache: &Path, args: &[&str]) -> String {
    let mut command = eryx_in(cache);
    command.arg("cache").args(args);
    text(&run(command).stdout)
}

const DAY: Duration = Duration::from_secs(86_400);

/// An `eryx` process that has loaded its component and mounted its trees, and waits to be
/// told to go on: what it holds is in use until [`Holder::finish`].
struct Holder {
    child: std::process::Child,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Holder {
    fn start(cache: &Path) -> Self {
        let code = "import sys; print('ready', flush=True); print(sys.stdin.readline().strip(), sum(range(10)))";
        let mut child = eryx_in(cache).args(["-c", code]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n");
        Holder { child, stdout }
    }

    /// Lets it go on and checks that it kept working on what it held.
    fn finish(mut self) {
        let mut stdin = self.child.stdin.take().unwrap();
        stdin.write_all(b"go\n").unwrap();
        drop(stdin);
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.stdout, &mut rest).unwrap();
        assert_eq!(rest, "go 45\n", "the process kept working on what it held");
        assert!(self.child.wait().unwrap().success());
    }
}

#[test]
fn list_prune_and_clear_show_what_is_there_and_evict_least_recently_used_first() {
    let (cache, key) = cache_with_one_entry();
    let dir = cache.path();
    let (oldest, older) = ("0".repeat(64), "1".repeat(64));
    copy_entry(dir, &key, &oldest, 2 * DAY);
    copy_entry(dir, &key, &older, DAY);

    let list = cache_command(dir, &["list"]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 6, "{list}");
    assert_eq!(lines[0], dir.display().to_string());
    assert!(lines[1].starts_with(&oldest[..16]) && lines[1].contains("2d ago"), "{list}");
    assert!(lines[2].starts_with(&older[..16]), "least recently used first: {list}");
    let newest = lines.iter().find(|line| line.starts_with(&key[..16])).expect("the seed's entry");
    assert!(newest.contains(env!("CARGO_PKG_VERSION")) && newest.contains("base component"), "{list}");
    assert!(newest.contains(" MiB"), "{list}");
    let (stdlib_dir, stdlib_bytes) = stdlib(dir);
    let stdlib_name = stdlib_dir.file_name().unwrap().to_str().unwrap();
    assert!(lines.iter().any(|line| line.starts_with(stdlib_name) && line.contains("standard library")), "{list}");
    assert!(lines[5].starts_with("4 entries") && lines[5].contains("cap 4.00 GiB"), "{list}");

    // The cap from the environment: room for the standard library and one and a half entries
    // keeps the newest.
    let cap = (stdlib_bytes + entry_bytes(dir, &key) * 3 / 2).to_string();
    let mut prune = eryx_in(dir);
    prune.env("ERYX_CACHE_LIMIT", &cap).args(["cache", "prune"]);
    let pruned = text(&run(prune).stdout);
    let removed: Vec<&str> =
        pruned.lines().filter(|line| line.starts_with("removed 0") || line.starts_with("removed 1")).collect();
    assert_eq!(removed.len(), 2, "{pruned}");
    assert!(removed[0].starts_with(&format!("removed {}", &oldest[..16])), "oldest first: {pruned}");
    assert!(pruned.contains("removed 2 entries and 0 leftover files"), "{pruned}");
    assert_eq!(cwasm_keys(dir), std::slice::from_ref(&key));
    assert_eq!(print_one(dir, None), "Disk", "the entry kept still serves");

    // --max-size wins over the cap; clear removes the rest and says so.
    assert!(cache_command(dir, &["prune", "--max-size", "1G"]).contains("removed 0 entries"));
    let cleared = cache_command(dir, &["clear"]);
    assert!(cleared.contains(&format!("removed {}", &key[..16])) && cleared.contains("removed 2 entries"), "{cleared}");
    assert!(cleared.contains(&format!("removed {stdlib_name}")), "{cleared}");
    assert!(cwasm_keys(dir).is_empty() && !stdlib_dir.exists());
    assert!(std::fs::read_dir(components(dir)).unwrap().next().is_none(), "no sidecar left");
    assert!(cache_command(dir, &["list"]).contains("0 entries, 0 B"));

    let mut bad = eryx_in(dir);
    bad.args(["cache", "prune", "--max-size", "lots"]);
    let out = bad.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("\"lots\" is not a size such as 4G"), "{}", text(&out.stderr));
}

#[test]
fn an_entry_in_use_by_another_process_survives_prune_and_still_works() {
    let (cache, key) = cache_with_one_entry();
    let dir = cache.path();
    // A process that loaded the entry and keeps running until told to go on.
    let user = Holder::start(dir);

    let cleared = cache_command(dir, &["clear"]);
    // The component and the standard library it mounts.
    assert!(cleared.contains("removed 0 entries") && cleared.contains("kept 2 in use"), "{cleared}");
    assert!(cleared.contains(&format!("kept    {}", &key[..16])), "{cleared}");
    assert!(cache_command(dir, &["list"]).contains("[in use]"));
    assert_eq!(cwasm_keys(dir), std::slice::from_ref(&key));
    // Another process loads the surviving entry from disk, while the first still uses it.
    assert_eq!(print_one(dir, Some("0")), "Disk");

    user.finish();

    // Nobody uses them now.
    assert!(cache_command(dir, &["clear"]).contains("removed 2 entries"));
    assert!(cwasm_keys(dir).is_empty());
}

#[test]
fn a_crash_mid_write_leaves_nothing_trusted_and_the_next_run_rebuilds_under_the_cap() {
    let (cache, key) = cache_with_one_entry();
    let dir = cache.path();
    let code = components(dir).join(format!("{key}.cwasm"));
    let bytes = std::fs::read(&code).unwrap();
    // What a writer killed mid-write leaves: part of the code in its temporary file (an hour
    // ago, no lock held); and the torn code under the entry's own name, as a writer that did
    // not stage would leave it, beside the check of the whole code.
    let temp = components(dir).join(".tmp-a1b2c3");
    std::fs::write(&temp, &bytes[..bytes.len() / 3]).unwrap();
    backdate(&temp, Duration::from_secs(3600));
    // Two entries nobody used for days, and a cap with room for one and a half entries.
    copy_entry(dir, &key, &"2".repeat(64), 2 * DAY);
    copy_entry(dir, &key, &"3".repeat(64), DAY);
    let cap = (entry_bytes(dir, &key) * 3 / 2).to_string();
    std::fs::write(&code, &bytes[..bytes.len() / 2]).unwrap();

    assert_eq!(print_one(dir, Some(&cap)), "Compiled", "the torn entry is not trusted");
    assert_eq!(cwasm_keys(dir), std::slice::from_ref(&key), "the new entry evicted the old ones");
    assert!(!temp.exists(), "the dead writer's temporary file is removed");
    let names: Vec<String> = std::fs::read_dir(components(dir))
        .unwrap()
        .map(|item| item.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "code, check and info only: {names:?}");
    assert_eq!(print_one(dir, Some(&cap)), "Disk", "the rebuilt entry is whole");
}

/// The fixture wheel with a C extension: a late-linked component, its site-packages tree (with
/// a bytecode pack), a late-link index entry and a wheel-index entry.
fn fixture_wheel() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/wheels");
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|item| item.unwrap().path())
        .find(|path| path.file_name().unwrap().to_str().unwrap().starts_with("eryx_test_c-"))
        .expect("the eryx_test_c fixture wheel")
}

/// Runs the fixture wheel's extension; returns where its component came from.
fn with_wheel(cache: &Path) -> String {
    let mut command = eryx_in(cache);
    command.env("ERYX_LOG", "eryx_rt=debug").arg("--wheel").arg(fixture_wheel());
    command.args(["-c", "import eryx_test_c as m; print(m.add(2, 40))"]);
    let out = run(command);
    assert_eq!(text(&out.stdout), "42\n");
    let stderr = text(&out.stderr);
    let ready = stderr.lines().find(|line| line.contains("sandbox ready")).expect("a sandbox-ready log line");
    ["Disk", "Compiled", "Memory"].into_iter().find(|from| ready.contains(&format!("source={from}"))).unwrap().into()
}

/// The one item of `dir` (not a temporary one) that `keep` accepts.
fn only(dir: &Path, keep: impl Fn(&Path) -> bool) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|item| item.unwrap().path())
        .filter(|path| !path.file_name().unwrap().to_str().unwrap().starts_with('.') && keep(path))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found.into_iter().next().unwrap()
}

#[test]
fn the_cap_covers_every_kind_of_entry_least_recently_used_first_and_never_one_in_use() {
    let (cache, key) = cache_with_one_entry();
    let dir = cache.path();
    // Real entries of each kind: the seed's base component and standard library; a late-linked
    // component with its site-packages tree, link-index and wheel-index entries; a wheel where eryx-build keeps
    // its downloads; and a folder of the repository's build scripts, which is not eryx's.
    assert_eq!(with_wheel(dir), "Compiled");
    let late = cwasm_keys(dir).into_iter().find(|other| *other != key).expect("the late-linked component");
    let site = only(&dir.join("site-packages"), |path| path.is_dir());
    let site_check = PathBuf::from(format!("{}.bytecode.check", site.display()));
    assert!(site.join(".eryx-bytecode.pack").is_file() && site_check.is_file(), "the tree has its bytecode pack");
    let index = only(&dir.join("link-index"), |path| path.is_file());
    let wheel_index = only(&dir.join("wheel-index"), |path| path.is_file());
    let wheel = std::fs::read(fixture_wheel()).unwrap();
    let download = dir.join("downloads").join(format!("{}.whl", hex::encode(sha2::Sha256::digest(&wheel))));
    std::fs::create_dir_all(download.parent().unwrap()).unwrap();
    std::fs::write(&download, &wheel).unwrap();
    let scripts = dir.join("venvs");
    std::fs::create_dir_all(scripts.join("tools")).unwrap();
    std::fs::write(scripts.join("tools/bin"), b"a build script's tool").unwrap();

    // A process uses the base component and the standard library until told to go on.
    let user = Holder::start(dir);

    // What the process uses is the least recently used, then the download, the wheel index, the
    // link index, the tree, and the late-linked component last.
    let (stdlib_dir, stdlib_bytes) = stdlib(dir);
    backdate(&stdlib_dir.join(".eryx-complete"), 5 * DAY);
    for suffix in [".cwasm", ".cwasm.info"] {
        backdate(&components(dir).join(format!("{key}{suffix}")), 4 * DAY);
        backdate(&components(dir).join(format!("{late}{suffix}")), DAY);
    }
    backdate(&download, 3 * DAY);
    backdate(&wheel_index, Duration::from_secs(60 * 3600));
    backdate(&index, 2 * DAY);
    backdate(&site.join(".eryx-complete"), Duration::from_secs(36 * 3600));

    let list = cache_command(dir, &["list"]);
    for what in
        ["standard library", "site-packages with eryx_test_c-0.1.0", "link index", "wheel index", "downloaded wheel"]
    {
        assert_eq!(list.lines().filter(|line| line.contains(what)).count(), 1, "{what}: {list}");
    }
    assert!(list.contains("late-linked component with eryx_test_c-0.1.0"), "{list}");
    assert!(list.lines().any(|line| line.starts_with("7 entries")), "{list}");
    assert!(list.contains(&format!("not eryx's, not counted: {}", scripts.display())), "{list}");
    let in_use: Vec<&str> = list.lines().filter(|line| line.ends_with("[in use]")).collect();
    assert_eq!(in_use.len(), 2, "the base component and the standard library: {list}");

    // Room for the standard library and both components: the oldest entries that nobody uses
    // go (the download, the indexes, the tree), those in use stay although older still.
    let cap = stdlib_bytes + entry_bytes(dir, &key) + entry_bytes(dir, &late) + 1024;
    let pruned = cache_command(dir, &["prune", "--max-size", &cap.to_string()]);
    assert!(pruned.contains("removed 4 entries and 0 leftover files") && pruned.contains("kept 2 in use"), "{pruned}");
    let removed: Vec<&str> =
        pruned.lines().filter(|line| line.starts_with("removed ") && line.contains("ago")).collect();
    assert!(removed[0].contains("downloads/") && removed[1].contains("wheel-index/"), "oldest first: {pruned}");
    assert!(removed[2].contains("link-index/") && removed[3].contains("site-packages/"), "{pruned}");
    assert!(!download.exists() && !index.exists() && !wheel_index.exists(), "{pruned}");
    assert!(!site.exists() && !site_check.exists(), "{pruned}");
    assert!(stdlib_dir.join(".eryx-complete").is_file() && scripts.join("tools/bin").is_file());
    let mut both = vec![key.clone(), late.clone()];
    both.sort();
    assert_eq!(cwasm_keys(dir), both);

    user.finish();

    // Later sandboxes work: the late-linked component is still on disk (its indexes and tree
    // are made again), and so is the base one.
    assert_eq!(with_wheel(dir), "Disk");
    assert!(only(&dir.join("site-packages"), |path| path.is_dir()).join(".eryx-complete").is_file());
    assert_eq!(print_one(dir, None), "Disk");
}
