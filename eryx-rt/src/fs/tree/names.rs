//! The names in the tree: opening and creating files, folders and symlinks, hard links,
//! renames and removals, and the host's whole-file helpers (`put_file`, `remove_all`,
//! `mkdir_all`). Every new entry is charged to the quota before the tree changes.

use std::collections::BTreeMap;

use wasmtime_wasi::p2::bindings::filesystem::types::ErrorCode;

use super::resolve::split;
use super::{Kind, NodeId, Tree, is_dir, now};

/// What `open-at` asked for, in the tree's terms.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct OpenRequest {
    pub create: bool,
    pub exclusive: bool,
    pub truncate: bool,
    pub directory: bool,
    pub write: bool,
}

impl Tree {
    /// Opens (and maybe creates or truncates) the node at `path`; the caller retains it.
    pub(crate) fn open(
        &mut self,
        base: NodeId,
        path: &str,
        follow: bool,
        flags: OpenRequest,
    ) -> Result<NodeId, ErrorCode> {
        let lookup = self.resolve(base, path, follow)?;
        let id = match lookup.node {
            Some(_) if flags.create && flags.exclusive => return Err(ErrorCode::Exist),
            Some(id) => id,
            None if flags.create => {
                if flags.directory {
                    return Err(ErrorCode::Invalid);
                }
                let name = lookup.name.ok_or(ErrorCode::Invalid)?;
                let id = self.create(Kind::File(Vec::new()))?;
                if let Err(error) = self.link(lookup.parent, name, id) {
                    self.collect(id);
                    return Err(error);
                }
                id
            }
            None => return Err(ErrorCode::NoEntry),
        };
        match (&self.node(id)?.kind, flags.directory) {
            (Kind::Dir { .. }, _) if flags.write || flags.truncate => return Err(ErrorCode::IsDirectory),
            (Kind::Dir { .. }, _) => {}
            (Kind::Symlink(_), _) => return Err(ErrorCode::Loop),
            (Kind::File(_), true) => return Err(ErrorCode::NotDirectory),
            (Kind::File(_), false) => {}
        }
        if flags.truncate {
            self.set_size(id, 0)?;
        }
        Ok(id)
    }

    pub(crate) fn mkdir(&mut self, base: NodeId, path: &str) -> Result<NodeId, ErrorCode> {
        let lookup = self.resolve(base, path.trim_end_matches('/'), false)?;
        if lookup.node.is_some() {
            return Err(ErrorCode::Exist);
        }
        let name = lookup.name.ok_or(ErrorCode::Exist)?;
        let id = self.create(Kind::Dir { entries: BTreeMap::new(), parent: lookup.parent })?;
        if let Err(error) = self.link(lookup.parent, name, id) {
            self.collect(id);
            return Err(error);
        }
        Ok(id)
    }

    pub(crate) fn symlink(&mut self, base: NodeId, target: &str, path: &str) -> Result<(), ErrorCode> {
        if target.is_empty() {
            return Err(ErrorCode::NoEntry);
        }
        if target.starts_with('/') {
            return Err(ErrorCode::NotPermitted);
        }
        let lookup = self.resolve(base, path, false)?;
        if lookup.node.is_some() {
            return Err(ErrorCode::Exist);
        }
        let name = lookup.name.ok_or(ErrorCode::Exist)?;
        let id = self.create(Kind::Symlink(target.to_string()))?;
        if let Err(error) = self.link(lookup.parent, name, id) {
            self.collect(id);
            return Err(error);
        }
        Ok(())
    }

    pub(crate) fn readlink(&self, base: NodeId, path: &str) -> Result<String, ErrorCode> {
        let lookup = self.resolve(base, path, false)?;
        match &self.node(lookup.node.ok_or(ErrorCode::NoEntry)?)?.kind {
            Kind::Symlink(target) => Ok(target.clone()),
            _ => Err(ErrorCode::Invalid),
        }
    }

    /// Removes a file or symlink entry.
    pub(crate) fn unlink_file(&mut self, base: NodeId, path: &str) -> Result<(), ErrorCode> {
        let lookup = self.resolve(base, path, false)?;
        let id = lookup.node.ok_or(ErrorCode::NoEntry)?;
        let name = lookup.name.ok_or(ErrorCode::IsDirectory)?;
        if path.ends_with('/') || is_dir(&self.node(id)?.kind) {
            return Err(ErrorCode::IsDirectory);
        }
        self.unlink(lookup.parent, &name)
    }

    /// Removes an empty folder.
    pub(crate) fn rmdir(&mut self, base: NodeId, path: &str) -> Result<(), ErrorCode> {
        let lookup = self.resolve(base, path.trim_end_matches('/'), false)?;
        let id = lookup.node.ok_or(ErrorCode::NoEntry)?;
        let name = lookup.name.ok_or(ErrorCode::Busy)?;
        match &self.node(id)?.kind {
            Kind::Dir { entries, .. } if entries.is_empty() => {}
            Kind::Dir { .. } => return Err(ErrorCode::NotEmpty),
            _ => return Err(ErrorCode::NotDirectory),
        }
        if !self.node(id)?.counted {
            return Err(ErrorCode::Busy);
        }
        self.unlink(lookup.parent, &name)
    }

    /// Whether `ancestor` is `id` or a folder above it.
    fn is_ancestor(&self, ancestor: NodeId, mut id: NodeId) -> bool {
        loop {
            if id == ancestor {
                return true;
            }
            match self.nodes.get(&id).map(|node| &node.kind) {
                Some(Kind::Dir { parent, .. }) if *parent != id => id = *parent,
                _ => return false,
            }
        }
    }

    pub(crate) fn rename(&mut self, from_base: NodeId, from: &str, to_base: NodeId, to: &str) -> Result<(), ErrorCode> {
        let source = self.resolve(from_base, from.trim_end_matches('/'), false)?;
        let id = source.node.ok_or(ErrorCode::NoEntry)?;
        let source_name = source.name.ok_or(ErrorCode::Busy)?;
        if !self.node(id)?.counted {
            return Err(ErrorCode::Busy);
        }
        let target = self.resolve(to_base, to.trim_end_matches('/'), false)?;
        let target_name = target.name.ok_or(ErrorCode::Busy)?;
        let moving_dir = is_dir(&self.node(id)?.kind);
        if moving_dir && self.is_ancestor(id, target.parent) {
            return Err(ErrorCode::Invalid);
        }
        if let Some(existing) = target.node {
            if existing == id {
                return Ok(());
            }
            match (&self.node(existing)?.kind, moving_dir) {
                (Kind::Dir { entries, .. }, true) if entries.is_empty() => {}
                (Kind::Dir { .. }, true) => return Err(ErrorCode::NotEmpty),
                (Kind::Dir { .. }, false) => return Err(ErrorCode::IsDirectory),
                (_, true) => return Err(ErrorCode::NotDirectory),
                (_, false) => {}
            }
            if !self.node(existing)?.counted {
                return Err(ErrorCode::Busy);
            }
        }
        // Charge the new name before anything changes, so a refusal leaves the tree as it was.
        self.charge(target_name.len() as u64)?;
        if target.node.is_some() {
            self.unlink(target.parent, &target_name)?;
        }
        self.entries_mut(source.parent)?.remove(&source_name);
        self.uncharge(source_name.len() as u64);
        self.touch_modified(source.parent);
        self.entries_mut(target.parent)?.insert(target_name, id);
        self.touch_modified(target.parent);
        if let Kind::Dir { parent, .. } = &mut self.node_mut(id)?.kind {
            *parent = target.parent;
        }
        self.node_mut(id)?.changed = now();
        Ok(())
    }

    /// Adds a hard link to a file (folders cannot be linked).
    pub(crate) fn hard_link(
        &mut self,
        from_base: NodeId,
        from: &str,
        to_base: NodeId,
        to: &str,
    ) -> Result<(), ErrorCode> {
        let source = self.resolve(from_base, from, false)?;
        let id = source.node.ok_or(ErrorCode::NoEntry)?;
        if is_dir(&self.node(id)?.kind) {
            return Err(ErrorCode::NotPermitted);
        }
        let target = self.resolve(to_base, to, false)?;
        if target.node.is_some() {
            return Err(ErrorCode::Exist);
        }
        let name = target.name.ok_or(ErrorCode::Exist)?;
        self.link(target.parent, name, id)
    }

    /// Replaces (or creates) the file at `path` with `bytes` in one step: the new content is
    /// built beside the old one, so a quota refusal leaves the old file as it was.
    pub(crate) fn put_file(&mut self, base: NodeId, path: &str, bytes: &[u8]) -> Result<(), ErrorCode> {
        let lookup = self.resolve(base, path, true)?;
        let name = lookup.name.ok_or(ErrorCode::IsDirectory)?;
        if let Some(existing) = lookup.node
            && !matches!(self.node(existing)?.kind, Kind::File(_))
        {
            return Err(ErrorCode::IsDirectory);
        }
        let id = self.create(Kind::File(Vec::new()))?;
        self.retain(id);
        let written = self.write(id, 0, bytes).and_then(|_| {
            if lookup.node.is_some() {
                self.unlink(lookup.parent, &name)?;
            }
            self.link(lookup.parent, name, id)
        });
        self.release(id);
        written
    }

    /// Removes `path` and, for a folder, everything below it.
    pub(crate) fn remove_all(&mut self, base: NodeId, path: &str) -> Result<(), ErrorCode> {
        let lookup = self.resolve(base, path.trim_end_matches('/'), false)?;
        let id = lookup.node.ok_or(ErrorCode::NoEntry)?;
        let name = lookup.name.ok_or(ErrorCode::Busy)?;
        if !self.node(id)?.counted {
            return Err(ErrorCode::Busy);
        }
        self.empty_dir(id)?;
        self.unlink(lookup.parent, &name)
    }

    fn empty_dir(&mut self, id: NodeId) -> Result<(), ErrorCode> {
        let names: Vec<(String, NodeId)> = match self.entries_of(id) {
            Some(entries) => entries.iter().map(|(name, child)| (name.clone(), *child)).collect(),
            None => return Ok(()),
        };
        for (name, child) in names {
            self.empty_dir(child)?;
            self.unlink(id, &name)?;
        }
        Ok(())
    }

    /// Creates `path` and any missing folders above it (`mkdir -p`).
    pub(crate) fn mkdir_all(&mut self, base: NodeId, path: &str) -> Result<NodeId, ErrorCode> {
        let mut dir = base;
        for part in split(path) {
            dir = match self.resolve(dir, &part, true)?.node {
                Some(existing) if matches!(self.node(existing)?.kind, Kind::Dir { .. }) => existing,
                Some(_) => return Err(ErrorCode::NotDirectory),
                None => self.mkdir(dir, &part)?,
            };
        }
        Ok(dir)
    }
}
