//! The site-packages tree: any sequence of `add_wheel`, `add_file` and
//! `add_native_extension`, then `write_to` a fresh folder, which must never write outside it.
//!
//! The input is a small text script, so that seeds are readable and mutations stay meaningful:
//!
//! ```text
//! wheel NAME      a wheel zip of the files below (with METADATA and a right RECORD), read by Wheel::from_bytes
//! struct NAME     a `Wheel` value holding the files below as they are (its fields are public)
//! file ORIGIN     the files below, each given to add_file
//! ext             the files below, each given to add_native_extension
//! PATH=CONTENT    a file of the group above (CONTENT is the rest of the line)
//! ```
//!
//! Every path the tree accepted is checked before anything touches the disk, so a bug shows
//! as a crash here rather than as a file written somewhere on the fuzzing machine.

use std::path::Path;

use eryx_libs::{SITE_PACKAGES_GUEST_DIR, SitePackages, Wheel, WheelError};

enum Kind {
    Wheel,
    Struct,
    File,
    Extension,
}

struct Group {
    kind: Kind,
    name: String,
    files: Vec<(String, Vec<u8>)>,
}

fn parse(data: &[u8]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        let text = String::from_utf8_lossy(line);
        let header = |prefix: &str| text.strip_prefix(prefix).map(str::to_string);
        let (kind, name) = if let Some(name) = header("wheel ") {
            (Kind::Wheel, name)
        } else if let Some(name) = header("struct ") {
            (Kind::Struct, name)
        } else if let Some(name) = header("file ") {
            (Kind::File, name)
        } else if text == "ext" {
            (Kind::Extension, String::new())
        } else {
            if groups.is_empty() {
                groups.push(Group { kind: Kind::File, name: "loose".into(), files: Vec::new() });
            }
            let (path, content) = match line.iter().position(|&b| b == b'=') {
                Some(at) => (&line[..at], line[at + 1..].to_vec()),
                None => (line, Vec::new()),
            };
            let group = groups.last_mut().expect("pushed above");
            group.files.push((String::from_utf8_lossy(path).into_owned(), content));
            continue;
        };
        groups.push(Group { kind, name, files: Vec::new() });
    }
    groups
}

/// Adds `group` to `site`; `Ok(false)` when the wheel reader refused the built wheel.
fn add(site: &mut SitePackages, group: &Group) -> Result<bool, WheelError> {
    match group.kind {
        Kind::Wheel => {
            let bytes = crate::wheel::build(&group.name, "1.0", &group.files);
            let Ok(wheel) = Wheel::from_bytes(group.name.clone(), &bytes) else { return Ok(false) };
            crate::wheel::check_accepted(&wheel);
            site.add_wheel(&wheel)?;
        }
        Kind::Struct => {
            let files = group
                .files
                .iter()
                .map(|(path, bytes)| eryx_libs::wheel::WheelFile { path: path.clone(), bytes: bytes.clone() })
                .collect();
            let wheel = Wheel {
                origin: format!("struct {}", group.name),
                name: group.name.clone(),
                version: "1.0".into(),
                sha256: [0; 32],
                files,
            };
            site.add_wheel(&wheel)?;
        }
        Kind::File => {
            for (path, bytes) in &group.files {
                site.add_file(path, bytes.clone(), &format!("folder {}", group.name))?;
            }
        }
        Kind::Extension => {
            for (path, bytes) in &group.files {
                site.add_native_extension(path, bytes.clone())?;
            }
        }
    }
    Ok(true)
}

/// Runs the script in `data`; when every step is accepted, writes the tree and checks it.
pub fn check_script(data: &[u8]) {
    let groups = parse(data);
    let mut site = SitePackages::new();
    for group in &groups {
        if !matches!(add(&mut site, group), Ok(true)) {
            return;
        }
    }

    // The order of the inputs must not change the tree (its digest keys the cache).
    let mut reversed = SitePackages::new();
    if groups.iter().rev().all(|group| matches!(add(&mut reversed, group), Ok(true))) {
        assert_eq!(site.digest(), reversed.digest(), "the same inputs in another order gave another tree");
    }

    let installed: Vec<(String, Vec<u8>)> =
        site.installed_files().map(|(path, bytes)| (path.to_string(), bytes.to_vec())).collect();
    for (path, _) in &installed {
        assert!(crate::stays_below(path), "site-packages accepted the unsafe path {path:?}");
    }
    for extension in site.native_extensions() {
        let below = extension.guest_path.strip_prefix(SITE_PACKAGES_GUEST_DIR).and_then(|p| p.strip_prefix('/'));
        assert!(below.is_some_and(crate::stays_below), "extension guest path {:?}", extension.guest_path);
        assert!(!site.origin_of_guest_path(&extension.guest_path).is_empty(), "extension without an origin");
    }

    let jail = tempfile::tempdir().expect("a temporary folder");
    let dir = jail.path().join("site-packages");
    std::fs::create_dir(&dir).expect("an empty folder");
    let written = site.write_to(&dir);
    let outside: Vec<_> = std::fs::read_dir(jail.path())
        .expect("readable")
        .map(|entry| entry.expect("readable").file_name())
        .filter(|name| name != "site-packages")
        .collect();
    assert!(outside.is_empty(), "write_to wrote outside its folder: {outside:?}");
    if let Err(error) = written {
        panic!("write_to failed on a tree that every add accepted: {error}");
    }
    for (path, bytes) in &installed {
        let on_disk = std::fs::read(Path::new(&dir).join(path)).expect("written");
        assert_eq!(&on_disk, bytes, "{path} was written with other contents");
    }
}
