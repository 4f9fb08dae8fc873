//! Dropping the core-module exports that nothing in a component uses, before it is compiled.
//!
//! wit-component's dynamic linking exports every symbol of every library it links (libpython
//! about 1,860, the C library about 1,180, its own shim modules hundreds more), because any
//! library might need any of them. Once the component is linked, the only way to reach a core
//! module's export is through the component itself: an alias of a core instance's export, or an
//! import of another module instantiated with that instance as an argument. Every other export
//! is dead weight that wasmtime still pays for on every process start: each name is in the
//! string pool its metadata deserialises, and each exported function escapes (it gets a
//! trampoline and a slot among the functions a module hands out). Dropping them changes no
//! behaviour: no index moves (only the export section of a module is rewritten; its functions,
//! tables, memories, globals and custom sections stay byte for byte), and what remains exported
//! is exactly what the component's own instantiations and aliases name.
//!
//! The pass is conservative: a component whose shape it does not fully follow (nested
//! components that hold core items, imported or aliased core modules, anything that does not
//! parse) is returned as it is; compiling then reports whatever is wrong with it. The output
//! depends only on the input (exports keep their order), so builds stay reproducible.

use std::borrow::Cow;
use std::collections::HashSet;

use wasm_encoder::{Encode, ExportKind, ExportSection};
use wasmparser::{ComponentAlias, ComponentTypeRef, ExternalKind, Instance, Payload};

use crate::component_walk::{COMPONENT_MODULE_SECTION, HEADER_LEN, push_section, reaches_core, sections, top_level};

/// A core module's export section id.
const EXPORT_SECTION: u8 = 7;

/// What a top-level core module of the component imports and which of its exports are used.
#[derive(Default)]
struct ModuleUse {
    /// `(module, name)` of each import.
    imports: Vec<(String, String)>,
    /// The export names something in the component refers to.
    used: HashSet<String>,
}

/// `component` with every core-module export that nothing in it uses removed, or `component`
/// itself when nothing can be dropped or its shape is beyond this pass.
pub(crate) fn drop_unused_exports(component: &[u8]) -> Cow<'_, [u8]> {
    let Some(modules) = module_uses(component) else {
        tracing::debug!("component shape not followed; its exports are kept");
        return Cow::Borrowed(component);
    };
    match rewrite(component, &modules) {
        Some((trimmed, dropped)) if dropped > 0 => {
            tracing::debug!(dropped, before = component.len(), after = trimmed.len(), "dropped unused core exports");
            Cow::Owned(trimmed)
        }
        _ => Cow::Borrowed(component),
    }
}

/// Follows the component's top level: its core modules (their imports), the core instances made
/// from them and every alias of a core instance's export. `None` for shapes not followed.
fn module_uses(component: &[u8]) -> Option<Vec<ModuleUse>> {
    let mut modules: Vec<ModuleUse> = Vec::new();
    // The module each core instance was instantiated from (`None`: made from exports).
    let mut instances: Vec<Option<usize>> = Vec::new();
    // Nesting: 0 is the component's own level; 1 is inside a core module.
    let mut depth = 0usize;
    for payload in top_level(component) {
        let payload = payload?;
        if depth == 1 {
            match payload {
                Payload::ImportSection(reader) => {
                    let module = modules.last_mut()?;
                    for import in reader.into_imports() {
                        let import = import.ok()?;
                        module.imports.push((import.module.to_string(), import.name.to_string()));
                    }
                }
                Payload::End(_) => depth = 0,
                _ => {}
            }
            continue;
        }
        match payload {
            Payload::Version { encoding: wasmparser::Encoding::Component, .. } => {}
            Payload::Version { .. } => return None,
            Payload::ModuleSection { .. } => {
                modules.push(ModuleUse::default());
                depth = 1;
            }
            Payload::InstanceSection(reader) => {
                for instance in reader {
                    match instance.ok()? {
                        Instance::Instantiate { module_index, args } => {
                            let module = usize::try_from(module_index).ok()?;
                            for arg in args.iter() {
                                // An instance made from exports holds aliases, counted below.
                                let Some(source) = *instances.get(usize::try_from(arg.index).ok()?)? else {
                                    continue;
                                };
                                let wanted: Vec<String> = modules
                                    .get(module)?
                                    .imports
                                    .iter()
                                    .filter(|(from, _)| from == arg.name)
                                    .map(|(_, name)| name.clone())
                                    .collect();
                                modules.get_mut(source)?.used.extend(wanted);
                            }
                            instances.push(Some(module));
                        }
                        Instance::FromExports(_) => instances.push(None),
                    }
                }
            }
            Payload::ComponentAliasSection(reader) => {
                for alias in reader {
                    match alias.ok()? {
                        ComponentAlias::CoreInstanceExport { instance_index, name, .. } => {
                            let instance = instances.get(usize::try_from(instance_index).ok()?)?;
                            if let Some(module) = instance {
                                modules.get_mut(*module)?.used.insert(name.to_string());
                            }
                        }
                        alias if reaches_core(&alias) => return None,
                        _ => {}
                    }
                }
            }
            Payload::ComponentImportSection(reader) => {
                for import in reader {
                    if matches!(import.ok()?.ty, ComponentTypeRef::Module(_)) {
                        return None;
                    }
                }
            }
            _ => {}
        }
    }
    Some(modules)
}

/// Re-encodes the component with each top-level module's export section cut down to what
/// `modules` says is used; every other byte is copied. Returns the bytes and how many exports
/// were dropped.
fn rewrite(component: &[u8], modules: &[ModuleUse]) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::with_capacity(component.len());
    out.extend_from_slice(component.get(..HEADER_LEN)?);
    let mut dropped = 0;
    let mut next_module = 0;
    for (id, content) in sections(component)? {
        if id == COMPONENT_MODULE_SECTION {
            let (module, count) = trim_module(content, &modules.get(next_module)?.used)?;
            next_module += 1;
            dropped += count;
            push_section(&mut out, id, &module);
        } else {
            push_section(&mut out, id, content);
        }
    }
    (next_module == modules.len()).then_some((out, dropped))
}

/// The module `bytes` with only the exports named in `used`, and how many it dropped.
fn trim_module(bytes: &[u8], used: &HashSet<String>) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(bytes.get(..HEADER_LEN)?);
    let mut dropped = 0;
    for (id, content) in sections(bytes)? {
        if id != EXPORT_SECTION {
            push_section(&mut out, id, content);
            continue;
        }
        let reader = wasmparser::ExportSectionReader::new(wasmparser::BinaryReader::new(content, 0)).ok()?;
        let mut kept = ExportSection::new();
        for export in reader {
            let export = export.ok()?;
            if used.contains(export.name) {
                kept.export(export.name, export_kind(export.kind)?, export.index);
            } else {
                dropped += 1;
            }
        }
        out.push(EXPORT_SECTION);
        kept.encode(&mut out);
    }
    Some((out, dropped))
}

fn export_kind(kind: ExternalKind) -> Option<ExportKind> {
    Some(match kind {
        ExternalKind::Func => ExportKind::Func,
        ExternalKind::Table => ExportKind::Table,
        ExternalKind::Memory => ExportKind::Memory,
        ExternalKind::Global => ExportKind::Global,
        ExternalKind::Tag => ExportKind::Tag,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use wasmparser::Parser;

    use super::*;

    /// A component whose first module exports three functions; the second module imports one of
    /// them, the component aliases another, and the third is used by nothing.
    const COMPONENT: &str = r#"
        (component
          (core module $lib
            (func (export "imported") (result i32) i32.const 1)
            (func (export "aliased") (result i32) i32.const 2)
            (func (export "unused") (result i32) i32.const 3)
            (memory (export "memory") 1)
            (@custom "note" "kept"))
          (core module $user
            (import "lib" "imported" (func (result i32)))
            (func (export "run") (result i32) call 0))
          (core instance $lib (instantiate $lib))
          (core instance $user (instantiate $user (with "lib" (instance $lib))))
          (core func $aliased (alias core export $lib "aliased"))
          (core func $run (alias core export $user "run"))
          (func (export "run") (result s32) (canon lift (core func $run)))
          (func (export "aliased") (result s32) (canon lift (core func $aliased))))
    "#;

    fn exports_of_modules(component: &[u8]) -> Vec<Vec<String>> {
        let mut modules = Vec::new();
        for payload in Parser::new(0).parse_all(component) {
            match payload.unwrap() {
                Payload::ModuleSection { .. } => modules.push(Vec::new()),
                Payload::ExportSection(reader) => {
                    let names = reader.into_iter().map(|export| export.unwrap().name.to_string());
                    modules.last_mut().unwrap().extend(names);
                }
                _ => {}
            }
        }
        modules
    }

    #[test]
    fn keeps_what_is_imported_or_aliased_and_drops_the_rest() {
        let component = wat::parse_str(COMPONENT).unwrap();
        let trimmed = drop_unused_exports(&component);
        assert!(matches!(trimmed, Cow::Owned(_)));
        wasmparser::Validator::new().validate_all(&trimmed).expect("the trimmed component is valid");
        assert_eq!(exports_of_modules(&trimmed), [vec!["imported", "aliased"], vec!["run"]]);
        assert!(trimmed.windows(4).any(|w| w == b"kept"), "custom sections are copied");
        // Idempotent: a trimmed component has nothing more to drop.
        assert!(matches!(drop_unused_exports(&trimmed), Cow::Borrowed(_)));
    }

    /// The real base component (its interface wrapped in a nested component, as wit-component
    /// writes it): most of its exports go, and what is left is a valid component. That it still
    /// runs Python is what every sandbox test shows: they all run trimmed components.
    #[test]
    fn trims_the_base_component_to_a_valid_one() {
        let base = crate::base::base_component();
        let trimmed = drop_unused_exports(&base);
        wasmparser::Validator::new().validate_all(&trimmed).expect("the trimmed base component is valid");
        let count = |modules: Vec<Vec<String>>| modules.iter().map(Vec::len).sum::<usize>();
        let (before, after) = (count(exports_of_modules(&base)), count(exports_of_modules(&trimmed)));
        assert!(after < before / 2, "only {} of {before} exports were dropped", before - after);
    }

    #[test]
    fn leaves_what_it_does_not_follow_alone() {
        let nested = wat::parse_str("(component (component (core module (func (export \"f\")))))").unwrap();
        assert!(matches!(drop_unused_exports(&nested), Cow::Borrowed(_)));
        assert!(matches!(drop_unused_exports(b"not wasm"), Cow::Borrowed(_)));
        let module = wat::parse_str("(module (func (export \"f\")))").unwrap();
        assert!(matches!(drop_unused_exports(&module), Cow::Borrowed(_)));
    }
}
