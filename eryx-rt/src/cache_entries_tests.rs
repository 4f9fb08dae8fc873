//! Trees, index entries and downloads on real files and real `flock`s. Locks belong to open
//! file descriptions, so a hold through another descriptor of this process stands for another
//! process here; `eryx-rt/cli/tests/cache.rs` fills a cache with real entries of each kind.

use super::*;
use crate::files::install_dir;

fn install(root: &Path, key: &str) -> Result<Option<PathBuf>, BuildError> {
    let target = root.join(key);
    install_dir(&target, |staging| fs::write(staging.join("module.py"), b"X = 1\n"))?;
    Ok(Some(target))
}

fn kinds(root: &Path) -> Vec<(EntryKind, String)> {
    list(root).unwrap().into_iter().map(|found| (found.kind, found.key)).collect()
}

#[test]
fn every_kind_is_found_with_its_bytes() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    install(root, "stdlib-0123456789abcdef").unwrap();
    fs::write(root.join("stdlib-0123456789abcdef.bytecode.check"), b"check").unwrap();
    install(root, "site-packages/d1").unwrap();
    fs::create_dir(root.join("site-packages/d1/demo-1.0.dist-info")).unwrap();
    fs::create_dir_all(root.join("link-index")).unwrap();
    fs::write(root.join("link-index/i1"), "0".repeat(64)).unwrap();
    fs::create_dir_all(root.join("wheel-index")).unwrap();
    fs::write(root.join("wheel-index/k1"), "entry").unwrap();
    fs::create_dir_all(root.join("downloads/abc")).unwrap();
    fs::write(root.join("downloads/w1.whl"), b"wheel").unwrap();
    fs::create_dir_all(root.join("venvs/tools")).unwrap();
    let found = list(root).unwrap();
    assert_eq!(
        kinds(root),
        [
            (EntryKind::Stdlib, "stdlib-0123456789abcdef".to_string()),
            (EntryKind::SitePackages, "site-packages/d1".to_string()),
            (EntryKind::LinkIndex, "link-index/i1".to_string()),
            (EntryKind::WheelIndex, "wheel-index/k1".to_string()),
            (EntryKind::Download, "downloads/w1.whl".to_string()),
        ]
    );
    assert_eq!(found[0].bytes, 6 + 5, "the module and the pack's check (the marker is empty)");
    assert_eq!(found[1].contents, ["demo-1.0"]);
    let other: Vec<PathBuf> = unmanaged(root).unwrap().into_iter().map(|(path, _)| path).collect();
    assert_eq!(other, [root.join("venvs"), root.join("downloads/abc")]);
}

#[test]
fn a_held_tree_stays_and_a_released_one_goes_whole() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let held = HeldTrees::default();
    let tree = held.hold(|| install(root, "site-packages/d1")).unwrap().unwrap();
    fs::write(root.join("site-packages/d1.bytecode.check"), b"check").unwrap();
    assert!(list(root).unwrap()[0].in_use);
    assert!(!remove(root, EntryKind::SitePackages, "site-packages/d1").unwrap(), "in use");
    assert!(tree.join("module.py").is_file());
    drop(held);
    assert!(!list(root).unwrap()[0].in_use);
    assert!(remove(root, EntryKind::SitePackages, "site-packages/d1").unwrap());
    assert!(!tree.exists() && !root.join("site-packages/d1.bytecode.check").exists());
    assert_eq!(fs::read_dir(root.join("site-packages")).unwrap().count(), 0, "nothing left, not even renamed");
}

#[test]
fn a_tree_removed_before_its_holder_locks_it_is_installed_again() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let held = HeldTrees::default();
    let attempts = std::cell::Cell::new(0);
    let tree = held
        .hold(|| {
            let installed = install(root, "stdlib-x")?;
            attempts.set(attempts.get() + 1);
            if attempts.get() == 1 {
                // Another process prunes it between the install and the lock.
                assert!(remove(root, EntryKind::Stdlib, "stdlib-x").unwrap());
            }
            Ok(installed)
        })
        .unwrap()
        .unwrap();
    assert_eq!(attempts.get(), 2);
    assert!(tree.join("module.py").is_file() && list(root).unwrap()[0].in_use);
}

#[test]
fn a_download_in_use_stays() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    fs::create_dir_all(root.join("downloads")).unwrap();
    let wheel = root.join("downloads/w1.whl");
    fs::write(&wheel, b"wheel").unwrap();
    let user = File::open(&wheel).unwrap();
    user.lock_shared().unwrap();
    assert!(list(root).unwrap()[0].in_use);
    assert!(!remove(root, EntryKind::Download, "downloads/w1.whl").unwrap());
    drop(user);
    assert!(remove(root, EntryKind::Download, "downloads/w1.whl").unwrap());
    assert!(!wheel.exists());
}

#[test]
fn stale_temporaries_and_orphaned_checks_are_leftovers() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    fs::create_dir_all(root.join(".tmp-staging/deep")).unwrap();
    fs::create_dir_all(root.join("site-packages/.tmp-removing-1-2")).unwrap();
    fs::write(root.join("site-packages/gone.bytecode.check"), b"check").unwrap();
    install(root, "stdlib-x").unwrap();
    fs::write(root.join("stdlib-x.bytecode.check"), b"check").unwrap();
    assert!(remove_leftovers(root, Duration::from_secs(600)).is_empty(), "fresh: a writer may be at work");
    let mut removed: Vec<PathBuf> = remove_leftovers(root, Duration::ZERO).into_iter().map(|(path, _)| path).collect();
    removed.sort();
    assert_eq!(
        removed,
        [
            root.join(".tmp-staging"),
            root.join("site-packages/.tmp-removing-1-2"),
            root.join("site-packages/gone.bytecode.check")
        ]
    );
    assert!(root.join("stdlib-x.bytecode.check").exists() && root.join("stdlib-x/module.py").exists());
}
