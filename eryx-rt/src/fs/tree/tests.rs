//! Unit tests of the tree: containment, quotas, lifetimes.

use super::*;

fn tree() -> (Tree, NodeId) {
    let mut tree = Tree::new(ScratchLimits { max_bytes: 1 << 20, max_entries: 100 }, 7);
    let home = tree.builtin_dir("home/sandbox");
    (tree, home)
}

fn create(tree: &mut Tree, base: NodeId, path: &str) -> Result<NodeId, ErrorCode> {
    tree.open(base, path, true, OpenRequest { create: true, write: true, ..Default::default() })
}

#[test]
fn dot_dot_never_leaves_the_base() {
    let (mut tree, home) = tree();
    tree.mkdir(home, "a").unwrap();
    assert!(tree.resolve(home, "a/../a", true).unwrap().node.is_some());
    assert!(matches!(tree.resolve(home, "..", true), Err(ErrorCode::NotPermitted)));
    assert!(matches!(tree.resolve(home, "a/../../x", true), Err(ErrorCode::NotPermitted)));
    assert!(matches!(tree.resolve(home, "/etc/passwd", true), Err(ErrorCode::NotPermitted)));
}

#[test]
fn symlinks_stay_inside_and_loops_end() {
    let (mut tree, home) = tree();
    tree.symlink(home, "b", "a").unwrap();
    tree.symlink(home, "a", "b").unwrap();
    assert!(matches!(tree.resolve(home, "a", true), Err(ErrorCode::Loop)));
    assert!(matches!(tree.symlink(home, "/etc", "c"), Err(ErrorCode::NotPermitted)));
    tree.symlink(home, "../..", "up").unwrap();
    assert!(matches!(tree.resolve(home, "up/x", true), Err(ErrorCode::NotPermitted)));
}

#[test]
fn quota_refuses_before_allocating_and_frees_on_unlink() {
    let (mut tree, home) = tree();
    let file = create(&mut tree, home, "f").unwrap();
    assert!(matches!(tree.write(file, 0, &vec![1; 2 << 20]), Err(ErrorCode::InsufficientSpace)));
    tree.write(file, 0, &vec![1; 1 << 19]).unwrap();
    assert!(tree.usage().0 <= 1 << 20);
    tree.unlink_file(home, "f").unwrap();
    assert_eq!(tree.usage(), (0, 0));
}

#[test]
fn open_unlinked_file_lives_until_released() {
    let (mut tree, home) = tree();
    let file = create(&mut tree, home, "f").unwrap();
    tree.retain(file);
    tree.write(file, 0, b"data").unwrap();
    tree.unlink_file(home, "f").unwrap();
    assert_eq!(tree.read(file, 0, 10).unwrap(), b"data");
    tree.release(file);
    assert_eq!(tree.usage(), (0, 0));
}

#[test]
fn entry_count_is_capped() {
    let (mut tree, home) = tree();
    for i in 0..100 {
        create(&mut tree, home, &format!("f{i}")).unwrap();
    }
    assert!(matches!(create(&mut tree, home, "one-more"), Err(ErrorCode::InsufficientSpace)));
}

#[test]
fn rename_moves_and_refuses_into_itself() {
    let (mut tree, home) = tree();
    tree.mkdir(home, "a").unwrap();
    tree.mkdir(home, "a/b").unwrap();
    assert!(matches!(tree.rename(home, "a", home, "a/b/c"), Err(ErrorCode::Invalid)));
    tree.rename(home, "a/b", home, "c").unwrap();
    assert!(tree.resolve(home, "c", true).unwrap().node.is_some());
    assert!(tree.resolve(home, "a/b", true).unwrap().node.is_none());
}
