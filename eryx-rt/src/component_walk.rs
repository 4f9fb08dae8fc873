//! Reading and reassembling the top level of a component binary, for the passes that rewrite
//! its core modules before it is compiled ([`crate::trim`], [`crate::fold_globals`]).
//!
//! Both passes follow the same shape: the component's own core modules, instances and aliases.
//! wit-component also writes nested components (each wraps an exported interface's types);
//! those hold no core items, and one that did could reach the top level's modules in ways the
//! passes do not follow, so they give up on it ([`follow_nested`]).

use wasm_encoder::Encode;
use wasmparser::{ComponentAlias, ComponentExternalKind, ComponentOuterAliasKind, Payload};

/// A component's core module section id.
pub(crate) const COMPONENT_MODULE_SECTION: u8 = 1;
/// Magic number and version/layer of a binary, before its first section.
pub(crate) const HEADER_LEN: usize = 8;

/// One payload inside a nested component, whose nesting `depth` it keeps (0: back at the top).
/// `None` when the payload holds core items.
pub(crate) fn follow_nested(payload: Payload<'_>, depth: &mut usize) -> Option<()> {
    match payload {
        Payload::ComponentSection { .. } => *depth += 1,
        Payload::End(_) => *depth -= 1,
        Payload::ModuleSection { .. } | Payload::InstanceSection(_) | Payload::CoreTypeSection(_) => return None,
        Payload::ComponentAliasSection(reader) => {
            for alias in reader {
                if reaches_core(&alias.ok()?) {
                    return None;
                }
            }
        }
        _ => {}
    }
    Some(())
}

/// Whether `alias` names a core module or a core instance's export (outside the ones followed).
pub(crate) fn reaches_core(alias: &ComponentAlias<'_>) -> bool {
    matches!(
        alias,
        ComponentAlias::CoreInstanceExport { .. }
            | ComponentAlias::InstanceExport { kind: ComponentExternalKind::Module, .. }
            | ComponentAlias::Outer { kind: ComponentOuterAliasKind::CoreModule, .. }
    )
}

/// The `(id, content)` of each section of a module or component binary, in order.
pub(crate) fn sections(bytes: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut reader = wasmparser::BinaryReader::new(bytes.get(HEADER_LEN..)?, HEADER_LEN as u64);
    let mut found = Vec::new();
    while !reader.eof() {
        let id = reader.read_u8().ok()?;
        let len = usize::try_from(reader.read_var_u32().ok()?).ok()?;
        found.push((id, reader.read_bytes(len).ok()?));
    }
    Some(found)
}

/// Appends section `id` with `content` to `out`.
pub(crate) fn push_section(out: &mut Vec<u8>, id: u8, content: &[u8]) {
    out.push(id);
    content.len().encode(out);
    out.extend_from_slice(content);
}
