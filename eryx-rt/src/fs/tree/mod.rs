//! The in-memory file tree behind a sandbox's scratch space: its nodes, their lifetimes and the
//! quota they are charged to. The operations on it are split by purpose: [`resolve`] (paths to
//! nodes), [`names`] (creating, linking, renaming and removing entries) and [`contents`] (file
//! data and metadata).
//!
//! Everything here is plain data under one lock ([`Tree`] sits in an `Arc<Mutex<_>>` shared by
//! the guest's descriptors and streams and by the host's [`Files`](super::Files) handle). No
//! operation touches the host's disk; memory is charged to the quota *before* it is allocated,
//! so a guest cannot make the host hold more file data than the quota allows.
//!
//! Paths are resolved like `openat` under capability rules: relative to a base directory, never
//! above it (`..` past the base is `NotPermitted`, as cap-std does for host folders), absolute
//! paths and absolute symlink targets refused, at most [`resolve::MAX_SYMLINK_HOPS`] symlinks followed
//! (`Loop` beyond).

mod contents;
mod names;
mod resolve;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use wasmtime_wasi::p2::bindings::clocks::wall_clock::Datetime;
use wasmtime_wasi::p2::bindings::filesystem::types::ErrorCode;

pub(crate) use names::OpenRequest;
pub(crate) use resolve::{MAX_NAME_LEN, check_relative_path};

/// Identifies a node of one tree (also its inode number as the guest sees it).
pub(crate) type NodeId = u64;

/// The limits of one scratch space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScratchLimits {
    /// Bytes of file data plus entry names the scratch space may hold.
    pub max_bytes: u64,
    /// Files, folders and symlinks it may hold (the built-in folders not counted).
    pub max_entries: u64,
}

impl Default for ScratchLimits {
    fn default() -> Self {
        ScratchLimits { max_bytes: super::DEFAULT_SCRATCH_BYTES, max_entries: super::DEFAULT_SCRATCH_ENTRIES }
    }
}

impl std::fmt::Debug for Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (bytes, entries) = self.usage();
        f.debug_struct("Tree").field("bytes", &bytes).field("entries", &entries).finish_non_exhaustive()
    }
}

/// What a node holds.
pub(crate) enum Kind {
    File(Vec<u8>),
    /// Entries by name; `parent` is the folder holding this one (itself for the root).
    Dir {
        entries: BTreeMap<String, NodeId>,
        parent: NodeId,
    },
    Symlink(String),
}

struct Node {
    kind: Kind,
    /// Folder entries naming this node.
    links: u32,
    /// Guest descriptors and streams (and host reads) holding it open.
    open: u32,
    accessed: Datetime,
    modified: Datetime,
    changed: Datetime,
    /// Whether this node counts against `max_entries`.
    counted: bool,
}

/// One sandbox's file tree.
pub(crate) struct Tree {
    nodes: HashMap<NodeId, Node>,
    next_id: NodeId,
    limits: ScratchLimits,
    bytes: u64,
    entries: u64,
    root: NodeId,
    /// Distinguishes this tree's inode numbers from another's (`metadata-hash` upper half).
    pub(crate) device: u64,
}

pub(crate) fn now() -> Datetime {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    Datetime { seconds: since.as_secs(), nanoseconds: since.subsec_nanos() }
}

fn is_dir(kind: &Kind) -> bool {
    matches!(kind, Kind::Dir { .. })
}

impl Tree {
    pub(crate) fn new(limits: ScratchLimits, device: u64) -> Tree {
        let mut tree = Tree { nodes: HashMap::new(), next_id: 1, limits, bytes: 0, entries: 0, root: 1, device };
        let root = tree.insert(Kind::Dir { entries: BTreeMap::new(), parent: 0 }, false);
        tree.root = root;
        if let Some(Node { kind: Kind::Dir { parent, .. }, links, .. }) = tree.nodes.get_mut(&root) {
            *parent = root;
            *links = 1;
        }
        tree
    }

    pub(crate) fn limits(&self) -> ScratchLimits {
        self.limits
    }

    /// Bytes and entries in use.
    pub(crate) fn usage(&self) -> (u64, u64) {
        (self.bytes, self.entries)
    }

    /// Creates the built-in folder `path` (e.g. `home/sandbox`) below the root, outside the
    /// entry count, and returns it.
    pub(crate) fn builtin_dir(&mut self, path: &str) -> NodeId {
        let mut dir = self.root;
        for name in path.split('/').filter(|name| !name.is_empty()) {
            dir = match self.entries_of(dir).and_then(|entries| entries.get(name).copied()) {
                Some(existing) => existing,
                None => {
                    let id = self.insert(Kind::Dir { entries: BTreeMap::new(), parent: dir }, false);
                    self.link_unchecked(dir, name.to_string(), id);
                    id
                }
            };
        }
        dir
    }

    fn insert(&mut self, kind: Kind, counted: bool) -> NodeId {
        let id = self.next_id;
        self.next_id += 1;
        let time = now();
        let node = Node { kind, links: 0, open: 0, accessed: time, modified: time, changed: time, counted };
        self.nodes.insert(id, node);
        id
    }

    fn node(&self, id: NodeId) -> Result<&Node, ErrorCode> {
        self.nodes.get(&id).ok_or(ErrorCode::BadDescriptor)
    }

    fn node_mut(&mut self, id: NodeId) -> Result<&mut Node, ErrorCode> {
        self.nodes.get_mut(&id).ok_or(ErrorCode::BadDescriptor)
    }

    pub(crate) fn kind(&self, id: NodeId) -> Result<&Kind, ErrorCode> {
        Ok(&self.node(id)?.kind)
    }

    fn entries_of(&self, dir: NodeId) -> Option<&BTreeMap<String, NodeId>> {
        match &self.nodes.get(&dir)?.kind {
            Kind::Dir { entries, .. } => Some(entries),
            _ => None,
        }
    }

    fn entries_mut(&mut self, dir: NodeId) -> Result<&mut BTreeMap<String, NodeId>, ErrorCode> {
        match &mut self.node_mut(dir)?.kind {
            Kind::Dir { entries, .. } => Ok(entries),
            _ => Err(ErrorCode::NotDirectory),
        }
    }

    /// Charges `bytes` more to the quota, or refuses with `InsufficientSpace` (ENOSPC).
    fn charge(&mut self, bytes: u64) -> Result<(), ErrorCode> {
        let total = self.bytes.checked_add(bytes).ok_or(ErrorCode::InsufficientSpace)?;
        if total > self.limits.max_bytes {
            return Err(ErrorCode::InsufficientSpace);
        }
        self.bytes = total;
        Ok(())
    }

    fn uncharge(&mut self, bytes: u64) {
        self.bytes = self.bytes.saturating_sub(bytes);
    }

    /// Makes a new counted node, charging the entry count.
    fn create(&mut self, kind: Kind) -> Result<NodeId, ErrorCode> {
        if self.entries >= self.limits.max_entries {
            return Err(ErrorCode::InsufficientSpace);
        }
        let charge = match &kind {
            Kind::Symlink(target) => target.len() as u64,
            _ => 0,
        };
        self.charge(charge)?;
        self.entries += 1;
        Ok(self.insert(kind, true))
    }

    fn link_unchecked(&mut self, dir: NodeId, name: String, id: NodeId) {
        if let Ok(entries) = self.entries_mut(dir) {
            entries.insert(name, id);
        }
        if let Ok(node) = self.node_mut(id) {
            node.links += 1;
            node.changed = now();
        }
        self.touch_modified(dir);
    }

    /// Adds the entry `name` → `id` to `dir`, charging the name's bytes.
    fn link(&mut self, dir: NodeId, name: String, id: NodeId) -> Result<(), ErrorCode> {
        self.charge(name.len() as u64)?;
        self.link_unchecked(dir, name, id);
        Ok(())
    }

    /// Removes the entry `name` from `dir` and frees its node if nothing else holds it.
    fn unlink(&mut self, dir: NodeId, name: &str) -> Result<(), ErrorCode> {
        let id = self.entries_mut(dir)?.remove(name).ok_or(ErrorCode::NoEntry)?;
        self.uncharge(name.len() as u64);
        self.touch_modified(dir);
        let node = self.node_mut(id)?;
        node.links = node.links.saturating_sub(1);
        node.changed = now();
        self.collect(id);
        Ok(())
    }

    fn touch_modified(&mut self, id: NodeId) {
        if let Some(node) = self.nodes.get_mut(&id) {
            let time = now();
            node.modified = time;
            node.changed = time;
        }
    }

    /// Frees `id` once no folder names it and nothing holds it open.
    fn collect(&mut self, id: NodeId) {
        let Some(node) = self.nodes.get(&id) else { return };
        if node.links > 0 || node.open > 0 {
            return;
        }
        let Some(node) = self.nodes.remove(&id) else { return };
        let bytes = match &node.kind {
            Kind::File(data) => data.capacity() as u64,
            Kind::Symlink(target) => target.len() as u64,
            Kind::Dir { .. } => 0,
        };
        self.uncharge(bytes);
        if node.counted {
            self.entries = self.entries.saturating_sub(1);
        }
    }

    /// Records one more holder of `id` (a descriptor or stream).
    pub(crate) fn retain(&mut self, id: NodeId) {
        if let Some(node) = self.nodes.get_mut(&id) {
            node.open += 1;
        }
    }

    /// Drops one holder of `id`; frees it if it was the last one and it was unlinked.
    pub(crate) fn release(&mut self, id: NodeId) {
        if let Some(node) = self.nodes.get_mut(&id) {
            node.open = node.open.saturating_sub(1);
        }
        self.collect(id);
    }
}
