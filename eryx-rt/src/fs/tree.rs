//! The in-memory file tree behind a sandbox's scratch space: nodes, path resolution, quotas.
//!
//! Everything here is plain data under one lock ([`Tree`] sits in an `Arc<Mutex<_>>` shared by
//! the guest's descriptors and streams and by the host's [`Files`](super::Files) handle). No
//! operation touches the host's disk; memory is charged to the quota *before* it is allocated,
//! so a guest cannot make the host hold more file data than the quota allows.
//!
//! Paths are resolved like `openat` under capability rules: relative to a base directory, never
//! above it (`..` past the base is `NotPermitted`, as cap-std does for host folders), absolute
//! paths and absolute symlink targets refused, at most [`MAX_SYMLINK_HOPS`] symlinks followed
//! (`Loop` beyond).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{SystemTime, UNIX_EPOCH};

use wasmtime_wasi::p2::bindings::clocks::wall_clock::Datetime;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    DescriptorStat, DescriptorType, DirectoryEntry, ErrorCode, NewTimestamp,
};

/// Symlinks followed while resolving one path before giving up with `Loop` (Linux: 40).
pub(crate) const MAX_SYMLINK_HOPS: usize = 40;
/// Longest name of one entry, in bytes (as on common host file systems).
pub(crate) const MAX_NAME_LEN: usize = 255;

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

/// The outcome of resolving a path: the folder it ends in, the last name (none when the path
/// ends in `.` or `..`), and the node it names, if any.
pub(crate) struct Lookup {
    pub parent: NodeId,
    pub name: Option<String>,
    pub node: Option<NodeId>,
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

    /// Resolves `path` below the folder `base`. `follow` says whether a symlink in the last
    /// position is followed; symlinks before it always are.
    pub(crate) fn resolve(&self, base: NodeId, path: &str, follow: bool) -> Result<Lookup, ErrorCode> {
        if path.is_empty() {
            return Err(ErrorCode::NoEntry);
        }
        if path.starts_with('/') {
            return Err(ErrorCode::NotPermitted);
        }
        if path.contains('\0') {
            return Err(ErrorCode::IllegalByteSequence);
        }
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

    pub(crate) fn stat(&self, id: NodeId) -> Result<DescriptorStat, ErrorCode> {
        let node = self.node(id)?;
        let (type_, size) = match &node.kind {
            Kind::File(data) => (DescriptorType::RegularFile, data.len() as u64),
            Kind::Dir { entries, .. } => (DescriptorType::Directory, entries.len() as u64),
            Kind::Symlink(target) => (DescriptorType::SymbolicLink, target.len() as u64),
        };
        Ok(DescriptorStat {
            type_,
            link_count: node.links as u64,
            size,
            data_access_timestamp: Some(node.accessed),
            data_modification_timestamp: Some(node.modified),
            status_change_timestamp: Some(node.changed),
        })
    }

    pub(crate) fn descriptor_type(&self, id: NodeId) -> Result<DescriptorType, ErrorCode> {
        Ok(self.stat(id)?.type_)
    }

    pub(crate) fn set_times(
        &mut self,
        id: NodeId,
        accessed: NewTimestamp,
        modified: NewTimestamp,
    ) -> Result<(), ErrorCode> {
        let node = self.node_mut(id)?;
        let pick = |new: NewTimestamp, old: Datetime| match new {
            NewTimestamp::NoChange => old,
            NewTimestamp::Now => now(),
            NewTimestamp::Timestamp(time) => time,
        };
        node.accessed = pick(accessed, node.accessed);
        node.modified = pick(modified, node.modified);
        node.changed = now();
        Ok(())
    }

    pub(crate) fn read_dir(&self, id: NodeId) -> Result<Vec<DirectoryEntry>, ErrorCode> {
        let entries = self.entries_of(id).ok_or(ErrorCode::NotDirectory)?;
        entries
            .iter()
            .map(|(name, child)| Ok(DirectoryEntry { type_: self.descriptor_type(*child)?, name: name.clone() }))
            .collect()
    }

    fn file(&self, id: NodeId) -> Result<&Vec<u8>, ErrorCode> {
        match &self.node(id)?.kind {
            Kind::File(data) => Ok(data),
            Kind::Dir { .. } => Err(ErrorCode::IsDirectory),
            Kind::Symlink(_) => Err(ErrorCode::BadDescriptor),
        }
    }

    fn file_mut(&mut self, id: NodeId) -> Result<&mut Vec<u8>, ErrorCode> {
        match &mut self.node_mut(id)?.kind {
            Kind::File(data) => Ok(data),
            Kind::Dir { .. } => Err(ErrorCode::IsDirectory),
            Kind::Symlink(_) => Err(ErrorCode::BadDescriptor),
        }
    }

    pub(crate) fn size(&self, id: NodeId) -> Result<u64, ErrorCode> {
        Ok(self.file(id)?.len() as u64)
    }

    /// Up to `len` bytes from `offset` (fewer at the end of the file, none past it).
    pub(crate) fn read(&mut self, id: NodeId, offset: u64, len: u64) -> Result<Vec<u8>, ErrorCode> {
        let data = self.file(id)?;
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(data.len());
        let end = start.saturating_add(usize::try_from(len).unwrap_or(usize::MAX)).min(data.len());
        let bytes = data[start..end].to_vec();
        self.node_mut(id)?.accessed = now();
        Ok(bytes)
    }

    /// Makes room for `len` bytes in file `id`, charging any new capacity to the quota. Grows
    /// geometrically while the quota allows, exactly otherwise; host memory for file data never
    /// exceeds the quota.
    fn reserve(&mut self, id: NodeId, len: u64) -> Result<(), ErrorCode> {
        let len = usize::try_from(len).map_err(|_| ErrorCode::FileTooLarge)?;
        let capacity = self.file(id)?.capacity();
        if len <= capacity {
            return Ok(());
        }
        let room = self.limits.max_bytes.saturating_sub(self.bytes);
        let generous = len.max(capacity.saturating_mul(2)).max(64);
        let wanted = if ((generous - capacity) as u64) <= room { generous } else { len };
        self.charge((wanted - capacity) as u64)?;
        let data = self.file_mut(id)?;
        if data.try_reserve_exact(wanted - data.len()).is_err() {
            self.uncharge((wanted - capacity) as u64);
            return Err(ErrorCode::InsufficientMemory);
        }
        // The allocator may round up; charge what was really taken.
        let actual = self.file(id)?.capacity();
        if actual > wanted {
            self.bytes += (actual - wanted) as u64;
        }
        Ok(())
    }

    /// Writes `bytes` at `offset` (zero-filling a gap), returning how many were written.
    pub(crate) fn write(&mut self, id: NodeId, offset: u64, bytes: &[u8]) -> Result<u64, ErrorCode> {
        let end = offset.checked_add(bytes.len() as u64).ok_or(ErrorCode::FileTooLarge)?;
        self.reserve(id, end)?;
        let data = self.file_mut(id)?;
        let (start, end) = (offset as usize, end as usize);
        if data.len() < end {
            data.resize(end, 0);
        }
        data[start..end].copy_from_slice(bytes);
        self.touch_modified(id);
        Ok(bytes.len() as u64)
    }

    /// Appends `bytes` at the end of the file.
    pub(crate) fn append(&mut self, id: NodeId, bytes: &[u8]) -> Result<u64, ErrorCode> {
        let end = self.size(id)?;
        self.write(id, end, bytes)
    }

    /// Truncates or zero-extends the file; shrinking gives memory back to the host and quota.
    pub(crate) fn set_size(&mut self, id: NodeId, size: u64) -> Result<(), ErrorCode> {
        self.reserve(id, size)?;
        let data = self.file_mut(id)?;
        let before = data.capacity();
        data.resize(size as usize, 0);
        if data.capacity() > 2 * data.len().max(32) {
            data.shrink_to_fit();
        }
        let after = data.capacity();
        self.uncharge(before.saturating_sub(after) as u64);
        self.touch_modified(id);
        Ok(())
    }
}

/// What `open-at` asked for, in the tree's terms.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct OpenRequest {
    pub create: bool,
    pub exclusive: bool,
    pub truncate: bool,
    pub directory: bool,
    pub write: bool,
}

fn split(path: &str) -> VecDeque<String> {
    path.split('/').filter(|part| !part.is_empty()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
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
}
