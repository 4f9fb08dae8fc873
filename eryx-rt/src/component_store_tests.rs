//! The store's protocol on real files and real `flock`s. Locks belong to open file
//! descriptions, so a lease held through another descriptor of this process stands for
//! another process here; `eryx-rt/cli/tests/cache.rs` runs the same through `eryx` processes.

use super::*;

fn store() -> (tempfile::TempDir, ComponentStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = ComponentStore::new(dir.path()).with_limit(u64::MAX);
    (dir, store)
}

fn info(name: &str) -> EntryInfo {
    EntryInfo::new("late-linked", false, vec![format!("{name}-1.0")], None)
}

/// Makes `key` look last used `seconds` ago.
fn age(store: &ComponentStore, key: &str, seconds: u64) {
    let file = File::options().append(true).open(info_path(&store.code_path(key))).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(seconds)).unwrap();
}

fn keys(store: &ComponentStore) -> Vec<String> {
    store.list().unwrap().into_iter().map(|e| e.key).collect()
}

fn removed(report: &PruneReport) -> Vec<&str> {
    report.removed.iter().map(|e| e.key.as_str()).collect()
}

#[test]
fn an_entry_round_trips_with_what_it_is_and_its_size() {
    let (_dir, store) = store();
    assert!(store.open("k1").is_none());
    let what = EntryInfo::new("base", true, vec![], Some(vec!["json".into(), "re".into()]));
    store.write("k1", &[7; 1000], &what).unwrap();
    let (path, lease) = store.open("k1").expect("a written entry opens");
    assert_eq!(fs::read(&path).unwrap(), vec![7; 1000]);
    let [entry] = &store.list().unwrap()[..] else { panic!("one entry expected") };
    assert_eq!(entry.key, "k1");
    assert_eq!(entry.info.as_ref(), Some(&what));
    assert_eq!(what.to_string(), "snapshot (imports json,re) of base component, fuel-metered");
    assert!(entry.bytes > 1000 && entry.bytes < 1400, "{}", entry.bytes);
    assert!(entry.in_use, "a lease is a use");
    drop(lease);
    assert!(!store.list().unwrap()[0].in_use);
    assert_eq!(fs::read_dir(store.dir()).unwrap().count(), 3, "code, check and info; no temporary file");
}

#[test]
fn prune_evicts_least_recently_used_first_down_to_the_cap() {
    let (_dir, store) = store();
    for (i, key) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
        store.write(key, &[1; 10_000], &info(key)).unwrap();
        age(&store, key, 100 - i as u64 * 10);
    }
    // Opening records a use: `a` becomes the most recent.
    drop(store.open("a").unwrap());
    let size = store.list().unwrap()[0].bytes;
    let report = store.prune(2 * size + size / 2).unwrap();
    assert_eq!(removed(&report), ["b", "c", "d"]);
    assert_eq!(keys(&store), ["e", "a"]);
    assert_eq!(report.remaining_bytes, 2 * size);
    assert!(report.kept_in_use.is_empty());
}

#[test]
fn opening_records_a_use_at_most_once_a_minute() {
    let (_dir, store) = store();
    store.write("k", &[1; 100], &info("k")).unwrap();
    let last_used =
        |store: &ComponentStore| fs::metadata(info_path(&store.code_path("k"))).unwrap().modified().unwrap();
    age(&store, "k", 30);
    let half_a_minute_ago = last_used(&store);
    drop(store.open("k").unwrap());
    assert_eq!(last_used(&store), half_a_minute_ago, "a use recorded 30 s ago is recent enough");
    age(&store, "k", 90);
    drop(store.open("k").unwrap());
    let age = last_used(&store).elapsed().unwrap_or_default();
    assert!(age < cache_entries::USE_RECORDED_EVERY, "a use recorded 90 s ago is renewed (now {age:?} old)");
}

#[test]
fn a_new_entry_prunes_the_store_to_its_cap_but_stays() {
    let (_dir, store) = store();
    store.write("old", &[1; 10_000], &info("old")).unwrap();
    age(&store, "old", 100);
    let store = store.with_limit(15_000);
    store.write("new", &[2; 10_000], &info("new")).unwrap();
    let report = store.prune_keeping(store.limit(), Some("new")).unwrap();
    assert_eq!(removed(&report), ["old"]);
    let report = store.prune_keeping(0, Some("new")).unwrap();
    assert!(report.removed.is_empty(), "the entry just written is kept even above the cap");
    assert_eq!(keys(&store), ["new"]);
}

#[test]
fn prune_never_removes_an_entry_in_use() {
    let (_dir, store) = store();
    for (i, key) in ["old", "new"].into_iter().enumerate() {
        store.write(key, &[1; 10_000], &info(key)).unwrap();
        age(&store, key, 100 - i as u64 * 10);
    }
    let (path, lease) = store.open("old").unwrap();
    age(&store, "old", 1000);
    let report = store.clear().unwrap();
    assert_eq!(removed(&report), ["new"]);
    assert_eq!(report.kept_in_use.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), ["old"]);
    // The code is still there, whole, and opens again.
    assert_eq!(fs::read(&path).unwrap().len(), 10_000);
    assert!(store.open("old").is_some());
    drop(lease);
    assert_eq!(removed(&store.clear().unwrap()), ["old"]);
    assert!(keys(&store).is_empty());
    assert_eq!(fs::read_dir(store.dir()).unwrap().count(), 0, "no sidecar left");
}

#[test]
fn a_writer_does_not_replace_an_entry_in_use() {
    let (_dir, store) = store();
    store.write("k", &[1; 100], &info("one")).unwrap();
    let (path, lease) = store.open("k").unwrap();
    store.write("k", &[2; 100], &info("two")).unwrap();
    assert_eq!(fs::read(&path).unwrap(), vec![1; 100]);
    drop(lease);
    store.write("k", &[2; 100], &info("two")).unwrap();
    assert_eq!(fs::read(store.open("k").unwrap().0).unwrap(), vec![2; 100]);
}

#[test]
fn a_crashed_writer_leaves_nothing_trusted_and_prune_removes_its_leftovers() {
    let (_dir, store) = store();
    store.write("whole", &[1; 100], &info("whole")).unwrap();
    let old = SystemTime::now() - STALE_AFTER * 2;
    let backdate = |path: &Path| File::options().append(true).open(path).unwrap().set_modified(old).unwrap();
    // A writer killed mid-write: part of the code in a temporary file, no lock held.
    let dead = store.dir().join(".tmp-dead");
    fs::write(&dead, [1; 50]).unwrap();
    backdate(&dead);
    // Killed after its sidecars, before the rename: sidecars without code.
    let orphan = store.dir().join("gone.cwasm.check");
    fs::write(&orphan, "eryx-entry-check-v1\n").unwrap();
    backdate(&orphan);
    // A writer still at work: it holds the lock.
    let live = store.dir().join(".tmp-live");
    let writing = File::create(&live).unwrap();
    writing.lock().unwrap();
    backdate(&live);
    // A fresh temporary file (its writer may not have locked it yet).
    let fresh = store.dir().join(".tmp-fresh");
    fs::write(&fresh, [1; 10]).unwrap();
    assert_eq!(keys(&store), ["whole"], "temporary files are not entries");
    assert!(store.open("gone").is_none());
    let report = store.prune(u64::MAX).unwrap();
    let mut leftovers: Vec<_> = report.leftovers.iter().map(|(path, _)| path.clone()).collect();
    leftovers.sort();
    assert_eq!(leftovers, [dead, orphan]);
    assert!(live.exists() && fresh.exists(), "a live or fresh writer's file stays");
    drop(writing);
    store.prune(u64::MAX).unwrap();
    assert!(!live.exists());
    assert_eq!(keys(&store), ["whole"]);
}

#[test]
fn a_damaged_entry_is_not_trusted_and_goes() {
    let (_dir, store) = store();
    for key in ["torn", "flipped", "bare"] {
        store.write(key, &[1; 1000], &info(key)).unwrap();
    }
    let torn = File::options().write(true).open(store.code_path("torn")).unwrap();
    torn.set_len(500).unwrap();
    let mut code = fs::read(store.code_path("flipped")).unwrap();
    code[10] ^= 1;
    fs::write(store.code_path("flipped"), code).unwrap();
    fs::remove_file(entry_check::sidecar_path(&store.code_path("bare"))).unwrap();
    for key in ["torn", "flipped", "bare"] {
        assert!(store.open(key).is_none(), "{key} is trusted");
    }
    assert!(keys(&store).is_empty(), "damaged entries are removed: {:?}", keys(&store));
}

#[test]
fn an_entry_removed_while_being_opened_is_not_used() {
    let (_dir, store) = store();
    store.write("k", &[1; 100], &info("k")).unwrap();
    let path = store.code_path("k");
    let early = File::open(&path).unwrap();
    assert!(store.remove_unused("k").unwrap());
    early.lock_shared().unwrap();
    assert!(!same_file(&early, &path));
    assert!(store.open("k").is_none());
}

#[test]
fn entries_of_older_versions_are_listed_without_what_they_are() {
    let (_dir, store) = store();
    store.write("k", &[1; 100], &info("k")).unwrap();
    fs::remove_file(info_path(&store.code_path("k"))).unwrap();
    assert_eq!(store.list().unwrap()[0].info, None);
    drop(store.open("k").expect("an entry without info still opens"));
    assert!(info_path(&store.code_path("k")).exists(), "its use is recorded");
}

#[test]
fn sizes_parse_with_binary_units() {
    assert_eq!(parse_size("123"), Some(123));
    assert_eq!(parse_size("500M"), Some(500 << 20));
    assert_eq!(parse_size("4G"), Some(4 << 30));
    assert_eq!(parse_size("4GiB"), Some(4 << 30));
    assert_eq!(parse_size("1.5k"), Some(1536));
    assert_eq!(parse_size(" 2 TB "), Some(2 << 40));
    assert_eq!(parse_size("0"), Some(0));
    assert_eq!(parse_size("lots"), None);
    assert_eq!(parse_size("4X"), None);
    assert_eq!(parse_size(""), None);
    assert_eq!(parse_size("-1G"), None);
}
