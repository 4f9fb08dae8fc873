//! Reading and reassembling the top level of a component binary, for the passes that rewrite
//! its core modules before it is compiled (the `trim` and `fold_globals` modules, which use this
//! one).
//!
//! Both passes follow the same shape: the component's own core modules, instances and aliases.
//! wit-component also writes nested components (each wraps an exported interface's types);
//! those hold no core items, and one that did could reach the top level's modules in ways the
//! passes do not follow, so they give up on it ([`top_level`]).

use wasm_encoder::Encode;
use wasmparser::{ComponentAlias, ComponentExternalKind, ComponentOuterAliasKind, Parser, Payload};

/// A component's core module section id.
pub(crate) const COMPONENT_MODULE_SECTION: u8 = 1;
/// Magic number and version/layer of a binary, before its first section.
pub(crate) const HEADER_LEN: usize = 8;

/// The payloads of `component` outside its nested components (its core modules' payloads
/// included, in order). An item is `None` where the shape is beyond the passes: a parse error,
/// or a nested component that holds core items.
pub(crate) fn top_level(component: &[u8]) -> impl Iterator<Item = Option<Payload<'_>>> {
    let mut nested = 0usize;
    Parser::new(0).parse_all(component).filter_map(move |payload| {
        let Ok(payload) = payload else { return Some(None) };
        if nested > 0 {
            return follow_nested(payload, &mut nested).is_none().then_some(None);
        }
        if let Payload::ComponentSection { .. } = payload {
            nested = 1;
            return None;
        }
        Some(Some(payload))
    })
}

/// One payload inside a nested component, whose nesting `depth` it keeps (0: back at the top).
/// `None` when the payload holds core items.
fn follow_nested(payload: Payload<'_>, depth: &mut usize) -> Option<()> {
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
