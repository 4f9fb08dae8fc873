//! Path resolution: a guest path below a base folder to the node it names, under capability
//! rules (never above the base, no absolute paths or absolute symlink targets, a bounded number
//! of symlinks followed).

use std::collections::VecDeque;

use wasmtime_wasi::p2::bindings::filesystem::types::ErrorCode;

use super::{Kind, NodeId, Tree, is_dir};

/// Symlinks followed while resolving one path before giving up with `Loop` (Linux: 40).
pub(crate) const MAX_SYMLINK_HOPS: usize = 40;
/// Longest name of one entry, in bytes (as on common host file systems).
pub(crate) const MAX_NAME_LEN: usize = 255;

/// The outcome of resolving a path: the folder it ends in, the last name (none when the path
/// ends in `.` or `..`), and the node it names, if any.
pub(crate) struct Lookup {
    pub parent: NodeId,
    pub name: Option<String>,
    pub node: Option<NodeId>,
}

impl Tree {
    /// Resolves `path` below the folder `base`. `follow` says whether a symlink in the last
    /// position is followed; symlinks before it always are.
    pub(crate) fn resolve(&self, base: NodeId, path: &str, follow: bool) -> Result<Lookup, ErrorCode> {
        check_relative_path(path)?;
        if !is_dir(self.kind(base)?) {
            return Err(ErrorCode::NotDirectory);
        }
        // The folders walked through from `base`: `..` pops one, never `base` itself.
        let mut stack = vec![base];
        let mut pending: VecDeque<String> = split(path);
        let mut must_be_dir = path.ends_with('/');
        let mut hops = 0;
        loop {
            let Some(component) = pending.pop_front() else {
                let dir = *stack.last().expect("the stack always holds base");
                return Ok(Lookup { parent: dir, name: None, node: Some(dir) });
            };
            let dir = *stack.last().expect("the stack always holds base");
            let last = pending.is_empty();
            match component.as_str() {
                "." => {
                    if last {
                        return Ok(Lookup { parent: dir, name: None, node: Some(dir) });
                    }
                    continue;
                }
                ".." => {
                    if stack.len() == 1 {
                        return Err(ErrorCode::NotPermitted);
                    }
                    stack.pop();
                    if last {
                        let up = *stack.last().expect("the stack always holds base");
                        return Ok(Lookup { parent: up, name: None, node: Some(up) });
                    }
                    continue;
                }
                _ => {}
            }
            if component.len() > MAX_NAME_LEN {
                return Err(ErrorCode::NameTooLong);
            }
            let entries = self.entries_of(dir).ok_or(ErrorCode::NotDirectory)?;
            let Some(&child) = entries.get(&component) else {
                if last {
                    return Ok(Lookup { parent: dir, name: Some(component), node: None });
                }
                return Err(ErrorCode::NoEntry);
            };
            match &self.node(child)?.kind {
                Kind::Symlink(target) if !last || follow || must_be_dir => {
                    hops += 1;
                    if hops > MAX_SYMLINK_HOPS {
                        return Err(ErrorCode::Loop);
                    }
                    if target.starts_with('/') {
                        return Err(ErrorCode::NotPermitted);
                    }
                    if target.ends_with('/') && last {
                        must_be_dir = true;
                    }
                    for part in split(target).into_iter().rev() {
                        pending.push_front(part);
                    }
                }
                Kind::Dir { .. } => {
                    if last {
                        return Ok(Lookup { parent: dir, name: Some(component), node: Some(child) });
                    }
                    stack.push(child);
                }
                _ if last => {
                    if must_be_dir {
                        return Err(ErrorCode::NotDirectory);
                    }
                    return Ok(Lookup { parent: dir, name: Some(component), node: Some(child) });
                }
                _ => return Err(ErrorCode::NotDirectory),
            }
        }
    }
}

/// Refuses what no guest path below a folder may be, in every tree the guest sees: empty,
/// absolute (capabilities are relative to a descriptor), or holding a NUL.
pub(crate) fn check_relative_path(path: &str) -> Result<(), ErrorCode> {
    if path.is_empty() {
        return Err(ErrorCode::NoEntry);
    }
    if path.starts_with('/') {
        return Err(ErrorCode::NotPermitted);
    }
    if path.contains('\0') {
        return Err(ErrorCode::IllegalByteSequence);
    }
    Ok(())
}

/// The non-empty parts of `path`.
pub(super) fn split(path: &str) -> VecDeque<String> {
    path.split('/').filter(|part| !part.is_empty()).map(str::to_string).collect()
}
