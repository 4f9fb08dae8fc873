//! File contents and metadata: reading, writing (charged to the quota before memory is taken),
//! resizing, `stat`, timestamps and folder listings.

use wasmtime_wasi::p2::bindings::clocks::wall_clock::Datetime;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    DescriptorStat, DescriptorType, DirectoryEntry, ErrorCode, NewTimestamp,
};

use super::{Kind, NodeId, Tree, now};

impl Tree {
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
