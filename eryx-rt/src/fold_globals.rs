//! Turning the globals of a linked component that can no longer change into constants, before
//! it is compiled.
//!
//! Every library wit-component links is position-independent code: it reaches its own data
//! through `__memory_base` and its function pointers through `__table_base` (imported globals),
//! and every public symbol, its own or another library's, through a `GOT.mem` or `GOT.func`
//! entry (an imported *mutable* global, set by the linker's start-up code). Wasmtime compiles a
//! `global.get` of an imported global as two dependent loads (the global's address from the
//! instance, then its value), and each of the small functions an interpreter runs through pays
//! one or more of them. A defined immutable global with a constant initialiser, on the other
//! hand, is compiled as a constant.
//!
//! In a snapshot ([`crate::preinit`]) the linking is over: the start-up code has run, its
//! results are the snapshot's initial values, and nothing sets those globals again. This pass
//! proves that per global instead of assuming it: it follows each imported global of each core
//! module to the global that defines it (through the component's instantiations, its instances
//! made of exports and its aliases), computes that global's value from its initialiser, and
//! folds the import into a defined immutable global of that value only when no module in the
//! component has a `global.set` on it. A global some code writes (the stack pointer; every
//! `GOT` entry of a component that has not been snapshotted, whose start-up code sets them)
//! is left as it is, so the pass changes nothing there.
//!
//! Like [`crate::trim`] it is conservative: a component whose shape it does not follow, or a
//! module it cannot rewrite, is compiled as it came. The output depends only on the input.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use wasm_encoder::reencode::{self, Reencode};
use wasmparser::{ComponentAlias, ExternalKind, Instance, Operator, Parser, Payload, TypeRef, ValType};

use crate::component_walk::{COMPONENT_MODULE_SECTION, HEADER_LEN, push_section, reaches_core, sections, top_level};

/// What the pass needs to know of one core module of the component.
#[derive(Default)]
struct Module {
    /// Each imported global, in index order: `(module, name, mutable, is i32)`.
    imported: Vec<(String, String, bool, bool)>,
    /// Each defined global: whether it is mutable and its initialiser.
    defined: Vec<(bool, Vec<ConstOp>)>,
    /// Exported globals: name → global index.
    exports: HashMap<String, u32>,
    /// Globals a `global.set` in reachable code targets (filled in by [`Module::finish`]).
    written: HashSet<u32>,
    /// Globals a `global.set` anywhere in the module targets, reachable or not: those stay
    /// mutable (an immutable global may not be the target of any `global.set`).
    set_anywhere: HashSet<u32>,
    has_global_section: bool,
    /// How many functions the module imports (defined ones are numbered after them).
    imported_functions: u32,
    /// For each defined function: the globals it sets and the functions it calls directly.
    bodies: Vec<(Vec<u32>, Vec<u32>)>,
    /// Functions reachable from outside the module's code: the start function, exports,
    /// element segments and `ref.func`.
    roots: Vec<u32>,
}

/// The instructions a constant expression of a linked library uses.
#[derive(Clone, Copy)]
enum ConstOp {
    I32(i32),
    Get(u32),
    Add,
    Sub,
    Mul,
    /// Anything else: the expression is not folded.
    Other,
}

enum CoreInstance {
    Of { module: usize, args: HashMap<String, u32> },
    Exports(HashMap<String, u32>),
}

/// A defined global: the core instance that holds it and its index in that instance's module.
type Def = (u32, u32);

/// The component with every global that cannot change after instantiation folded into a
/// constant, or the component itself when there is nothing to fold or its shape is not followed.
pub(crate) fn fold_constant_globals(component: &[u8]) -> Cow<'_, [u8]> {
    let Some(graph) = Graph::read(component) else {
        tracing::debug!("component shape not followed; its globals are kept");
        return Cow::Borrowed(component);
    };
    let plans = graph.plans();
    let folded: usize = plans.values().map(|plan| plan.imports.len() + plan.defined.len()).sum();
    if folded == 0 {
        return Cow::Borrowed(component);
    }
    match rewrite(component, &plans) {
        Some((bytes, rewritten)) if rewritten > 0 => {
            tracing::debug!(folded, rewritten, "folded constant globals");
            Cow::Owned(bytes)
        }
        _ => Cow::Borrowed(component),
    }
}

/// What the component's top level is made of, as far as globals go.
struct Graph {
    modules: Vec<Module>,
    instances: Vec<CoreInstance>,
    /// The component's core global index space: `(core instance, export name)` of each alias.
    globals: Vec<(u32, String)>,
}

impl Graph {
    fn read(component: &[u8]) -> Option<Graph> {
        let mut graph = Graph { modules: Vec::new(), instances: Vec::new(), globals: Vec::new() };
        let mut in_module = false;
        for payload in top_level(component) {
            let payload = payload?;
            if in_module {
                let module = graph.modules.last_mut()?;
                match payload {
                    Payload::End(_) => {
                        module.finish();
                        in_module = false;
                    }
                    payload => module.read(payload)?,
                }
                continue;
            }
            match payload {
                Payload::Version { encoding: wasmparser::Encoding::Component, .. } => {}
                Payload::Version { .. } => return None,
                Payload::ModuleSection { .. } => {
                    graph.modules.push(Module::default());
                    in_module = true;
                }
                Payload::InstanceSection(reader) => {
                    for instance in reader {
                        graph.instances.push(match instance.ok()? {
                            Instance::Instantiate { module_index, args } => CoreInstance::Of {
                                module: usize::try_from(module_index).ok()?,
                                args: args.iter().map(|arg| (arg.name.to_string(), arg.index)).collect(),
                            },
                            Instance::FromExports(exports) => CoreInstance::Exports(
                                exports
                                    .iter()
                                    .filter(|export| export.kind == ExternalKind::Global)
                                    .map(|export| (export.name.to_string(), export.index))
                                    .collect(),
                            ),
                        });
                    }
                }
                Payload::ComponentAliasSection(reader) => {
                    for alias in reader {
                        match alias.ok()? {
                            ComponentAlias::CoreInstanceExport { kind: ExternalKind::Global, instance_index, name } => {
                                graph.globals.push((instance_index, name.to_string()));
                            }
                            ComponentAlias::CoreInstanceExport { .. } => {}
                            alias if reaches_core(&alias) => return None,
                            _ => {}
                        }
                    }
                }
                Payload::ComponentImportSection(reader) => {
                    for import in reader {
                        if matches!(import.ok()?.ty, wasmparser::ComponentTypeRef::Module(_)) {
                            return None;
                        }
                    }
                }
                _ => {}
            }
        }
        Some(graph)
    }

    /// The global that `instance`'s export `name` is, followed to its definition.
    fn export(&self, instance: u32, name: &str) -> Option<Def> {
        match self.instances.get(usize::try_from(instance).ok()?)? {
            CoreInstance::Of { module, .. } => self.global(instance, *self.modules.get(*module)?.exports.get(name)?),
            CoreInstance::Exports(exports) => {
                let (source, export) = self.globals.get(usize::try_from(*exports.get(name)?).ok()?)?;
                self.export(*source, export)
            }
        }
    }

    /// Global `index` of `instance` (made from a module), followed to its definition.
    fn global(&self, instance: u32, index: u32) -> Option<Def> {
        let CoreInstance::Of { module, args } = self.instances.get(usize::try_from(instance).ok()?)? else {
            return None;
        };
        match self.modules.get(*module)?.imported.get(usize::try_from(index).ok()?) {
            Some((from, name, ..)) => self.export(*args.get(from)?, name),
            None => Some((instance, index)),
        }
    }

    /// Which modules get rewritten and how: for each module instantiated exactly once, the
    /// imports it can have as constants and the initialisers that become constants.
    fn plans(&self) -> BTreeMap<usize, Plan> {
        let mut once: HashMap<usize, Option<u32>> = HashMap::new();
        let mut written: HashSet<Def> = HashSet::new();
        for (index, instance) in self.instances.iter().enumerate() {
            let (CoreInstance::Of { module, .. }, Ok(index)) = (instance, u32::try_from(index)) else { continue };
            once.entry(*module).and_modify(|seen| *seen = None).or_insert(Some(index));
            for &global in &self.modules[*module].written {
                match self.global(index, global) {
                    Some(def) => written.insert(def),
                    // A write that cannot be followed could reach any global: fold nothing.
                    None => return BTreeMap::new(),
                };
            }
        }
        let mut values = Values { graph: self, written: &written, known: HashMap::new() };
        let mut plans = BTreeMap::new();
        for (module_index, instance) in once {
            let (Some(instance), Some(module)) = (instance, self.modules.get(module_index)) else { continue };
            if !module.has_global_section {
                continue;
            }
            let mut plan = Plan::default();
            for (index, (.., mutable, is_i32)) in module.imported.iter().enumerate() {
                let Ok(index) = u32::try_from(index) else { continue };
                let exported_mutable = *mutable && module.exports.values().any(|&exported| exported == index);
                if !is_i32 || exported_mutable || module.set_anywhere.contains(&index) {
                    continue;
                }
                if let Some(value) = self.global(instance, index).and_then(|def| values.of(def)) {
                    plan.imports.insert(index, value);
                }
            }
            let base = module.imported.len() as u32;
            for (offset, (mutable, init)) in module.defined.iter().enumerate() {
                let index = base + offset as u32;
                let plain = matches!(init.as_slice(), [ConstOp::I32(_)]);
                if *mutable || plain {
                    continue;
                }
                if let Some(value) = values.of((instance, index)) {
                    plan.defined.insert(index, value);
                }
            }
            if !plan.imports.is_empty() || !plan.defined.is_empty() {
                plans.insert(module_index, plan);
            }
        }
        plans
    }
}

impl Module {
    fn read(&mut self, payload: Payload<'_>) -> Option<()> {
        match payload {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.ok()?;
                    match import.ty {
                        TypeRef::Global(ty) => {
                            let is_i32 = ty.content_type == ValType::I32;
                            let (from, name) = (import.module.to_string(), import.name.to_string());
                            self.imported.push((from, name, ty.mutable, is_i32));
                        }
                        TypeRef::Func(_) | TypeRef::FuncExact(_) => self.imported_functions += 1,
                        _ => {}
                    }
                }
            }
            Payload::StartSection { func, .. } => self.roots.push(func),
            Payload::ElementSection(reader) => {
                for element in reader {
                    match element.ok()?.items {
                        wasmparser::ElementItems::Functions(functions) => {
                            for function in functions {
                                self.roots.push(function.ok()?);
                            }
                        }
                        wasmparser::ElementItems::Expressions(_, expressions) => {
                            for expression in expressions {
                                let mut reader = expression.ok()?.get_operators_reader();
                                while !reader.is_end_then_eof() {
                                    if let Operator::RefFunc { function_index } = reader.read().ok()? {
                                        self.roots.push(function_index);
                                    }
                                }
                            }
                        }
                    }
                }
            }
            Payload::GlobalSection(reader) => {
                self.has_global_section = true;
                for global in reader {
                    let global = global.ok()?;
                    self.defined.push((global.ty.mutable, const_ops(&global.init_expr)?));
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.ok()?;
                    match export.kind {
                        ExternalKind::Global => {
                            self.exports.insert(export.name.to_string(), export.index);
                        }
                        ExternalKind::Func | ExternalKind::FuncExact => self.roots.push(export.index),
                        _ => {}
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let (mut sets, mut calls) = (Vec::new(), Vec::new());
                let mut operators = body.get_operators_reader().ok()?;
                while !operators.eof() {
                    match operators.read().ok()? {
                        Operator::GlobalSet { global_index } => {
                            sets.push(global_index);
                            self.set_anywhere.insert(global_index);
                        }
                        Operator::Call { function_index } | Operator::ReturnCall { function_index } => {
                            calls.push(function_index);
                        }
                        Operator::RefFunc { function_index } => self.roots.push(function_index),
                        _ => {}
                    }
                }
                self.bodies.push((sets, calls));
            }
            _ => {}
        }
        Some(())
    }

    /// Fills in `written` from the functions that can run. After a snapshot, the linker's
    /// start-up code that set the `GOT` entries is still in the component, but nothing can call
    /// it any more (the snapshot dropped the start function that did).
    fn finish(&mut self) {
        let mut reached = vec![false; self.bodies.len()];
        let mut pending = std::mem::take(&mut self.roots);
        while let Some(function) = pending.pop() {
            let Some(defined) = function.checked_sub(self.imported_functions) else { continue };
            let Some(seen) = reached.get_mut(defined as usize) else { continue };
            if std::mem::replace(seen, true) {
                continue;
            }
            let (sets, calls) = &self.bodies[defined as usize];
            self.written.extend(sets.iter().copied());
            pending.extend(calls.iter().copied());
        }
        self.bodies = Vec::new();
    }
}

fn const_ops(expr: &wasmparser::ConstExpr<'_>) -> Option<Vec<ConstOp>> {
    let mut ops = Vec::new();
    let mut reader = expr.get_operators_reader();
    while !reader.is_end_then_eof() {
        ops.push(match reader.read().ok()? {
            Operator::I32Const { value } => ConstOp::I32(value),
            Operator::GlobalGet { global_index } => ConstOp::Get(global_index),
            Operator::I32Add => ConstOp::Add,
            Operator::I32Sub => ConstOp::Sub,
            Operator::I32Mul => ConstOp::Mul,
            _ => ConstOp::Other,
        });
    }
    Some(ops)
}

/// Evaluates `ops`, reading global `index` through `global`; `None` if any part is unknown.
fn evaluate(ops: &[ConstOp], mut global: impl FnMut(u32) -> Option<i32>) -> Option<i32> {
    let mut stack = Vec::new();
    for op in ops {
        let value = match *op {
            ConstOp::I32(value) => value,
            ConstOp::Get(index) => global(index)?,
            ConstOp::Add | ConstOp::Sub | ConstOp::Mul => {
                let (right, left) = (stack.pop()?, stack.pop()?);
                match op {
                    ConstOp::Add => i32::wrapping_add(left, right),
                    ConstOp::Sub => i32::wrapping_sub(left, right),
                    _ => i32::wrapping_mul(left, right),
                }
            }
            ConstOp::Other => return None,
        };
        stack.push(value);
    }
    match stack.as_slice() {
        [value] => Some(*value),
        _ => None,
    }
}

/// The values of defined globals that never change, computed once each.
struct Values<'a> {
    graph: &'a Graph,
    written: &'a HashSet<Def>,
    known: HashMap<Def, Option<i32>>,
}

impl Values<'_> {
    fn of(&mut self, def: Def) -> Option<i32> {
        if let Some(known) = self.known.get(&def) {
            return *known;
        }
        // Initialisers only read globals defined before them, so this ends; the entry guards
        // against a malformed component all the same.
        self.known.insert(def, None);
        let value = self.compute(def);
        self.known.insert(def, value);
        value
    }

    fn compute(&mut self, (instance, index): Def) -> Option<i32> {
        if self.written.contains(&(instance, index)) {
            return None;
        }
        let graph = self.graph;
        let CoreInstance::Of { module, .. } = graph.instances.get(usize::try_from(instance).ok()?)? else {
            return None;
        };
        let module = graph.modules.get(*module)?;
        let offset = usize::try_from(index).ok()?.checked_sub(module.imported.len())?;
        let (_, init) = module.defined.get(offset)?;
        evaluate(init, |global| self.of(graph.global(instance, global)?))
    }
}

/// How one module is rewritten: folded imports and constant initialisers, by global index.
#[derive(Default)]
struct Plan {
    imports: BTreeMap<u32, i32>,
    defined: BTreeMap<u32, i32>,
}

/// Re-encodes the component with the planned modules rewritten; every other byte is copied.
/// Returns the bytes and how many modules were rewritten (a module whose rewrite fails is kept).
fn rewrite(component: &[u8], plans: &BTreeMap<usize, Plan>) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::with_capacity(component.len());
    out.extend_from_slice(component.get(..HEADER_LEN)?);
    let (mut next_module, mut rewritten) = (0, 0);
    for (id, content) in sections(component)? {
        if id == COMPONENT_MODULE_SECTION {
            match plans.get(&next_module).and_then(|plan| Folder::new(plan).module(content)) {
                Some(folded) => {
                    push_section(&mut out, id, &folded);
                    rewritten += 1;
                }
                None => push_section(&mut out, id, content),
            }
            next_module += 1;
        } else {
            push_section(&mut out, id, content);
        }
    }
    Some((out, rewritten))
}

/// The re-encoder of one module: imports in `plan.imports` become defined immutable globals
/// (placed first among the defined ones, so only imported globals change index).
struct Folder<'a> {
    plan: &'a Plan,
    /// Old global index → new, for the imported globals (defined ones keep theirs).
    remap: Vec<u32>,
    /// A constant expression read a folded global but could not be folded itself.
    stuck: bool,
}

impl<'a> Folder<'a> {
    fn new(plan: &'a Plan) -> Self {
        Folder { plan, remap: Vec::new(), stuck: false }
    }

    /// The rewritten module, or `None` (the module is kept as it is) if it could not be
    /// rewritten into a valid one.
    fn module(mut self, bytes: &[u8]) -> Option<Vec<u8>> {
        let mut module = wasm_encoder::Module::new();
        self.parse_core_module(&mut module, Parser::new(0), bytes).ok()?;
        if self.stuck {
            return None;
        }
        let module = module.finish();
        // Cheap next to compiling it, and the pass must never turn a valid module into one
        // that is not: check, and keep the original if the rewrite is wrong.
        match wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all()).validate_all(&module) {
            Ok(_) => Some(module),
            Err(error) => {
                tracing::warn!(%error, "folding globals made an invalid module; it is compiled unfolded");
                None
            }
        }
    }

    fn known(&self, index: u32) -> Option<i32> {
        self.plan.imports.get(&index).or_else(|| self.plan.defined.get(&index)).copied()
    }
}

impl Reencode for Folder<'_> {
    type Error = std::convert::Infallible;

    fn global_index(&mut self, global: u32) -> Result<u32, reencode::Error<Self::Error>> {
        Ok(usize::try_from(global).ok().and_then(|index| self.remap.get(index)).copied().unwrap_or(global))
    }

    fn parse_import_section(
        &mut self,
        imports: &mut wasm_encoder::ImportSection,
        section: wasmparser::ImportSectionReader<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        // Whether each imported global is folded, in index order.
        let mut folded = Vec::new();
        for import in section.into_imports() {
            let import = import?;
            if let TypeRef::Global(_) = import.ty {
                let fold = self.plan.imports.contains_key(&(folded.len() as u32));
                folded.push(fold);
                if fold {
                    continue;
                }
            }
            let ty = self.entity_type(import.ty)?;
            imports.import(import.module, import.name, ty);
        }
        // Kept imports keep their order; folded ones follow them as the first defined globals.
        let kept = folded.iter().filter(|fold| !**fold).count() as u32;
        let (mut next_kept, mut next_folded) = (0, kept);
        for fold in folded {
            let next = if fold { &mut next_folded } else { &mut next_kept };
            self.remap.push(*next);
            *next += 1;
        }
        Ok(())
    }

    fn parse_global_section(
        &mut self,
        globals: &mut wasm_encoder::GlobalSection,
        section: wasmparser::GlobalSectionReader<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        let constant = |value: i32| {
            let ty = wasm_encoder::GlobalType { val_type: wasm_encoder::ValType::I32, mutable: false, shared: false };
            (ty, wasm_encoder::ConstExpr::i32_const(value))
        };
        for &value in self.plan.imports.values() {
            let (ty, init) = constant(value);
            globals.global(ty, &init);
        }
        let base = self.remap.len() as u32;
        for (offset, global) in section.into_iter().enumerate() {
            let global = global?;
            match self.plan.defined.get(&(base + offset as u32)) {
                Some(&value) => {
                    globals.global(self.global_type(global.ty)?, &wasm_encoder::ConstExpr::i32_const(value));
                }
                None => self.parse_global(globals, global)?,
            }
        }
        Ok(())
    }

    fn const_expr(
        &mut self,
        expr: wasmparser::ConstExpr<'_>,
    ) -> Result<wasm_encoder::ConstExpr, reencode::Error<Self::Error>> {
        let ops = const_ops(&expr).unwrap_or_else(|| vec![ConstOp::Other]);
        let reads_folded = ops.iter().any(|op| matches!(op, ConstOp::Get(index) if self.known(*index).is_some()));
        if !reads_folded {
            return reencode::utils::const_expr(self, expr);
        }
        match evaluate(&ops, |index| self.known(index)) {
            Some(value) => Ok(wasm_encoder::ConstExpr::i32_const(value)),
            None => {
                self.stuck = true;
                reencode::utils::const_expr(self, expr)
            }
        }
    }

    fn parse_custom_name_subsection(
        &mut self,
        names: &mut wasm_encoder::NameSection,
        section: wasmparser::Name<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        let wasmparser::Name::Global(map) = section else {
            return reencode::utils::parse_custom_name_subsection(self, names, section);
        };
        // Folding reorders imported globals: the map must stay sorted by index.
        let mut renamed = Vec::new();
        for naming in map {
            let naming = naming?;
            renamed.push((self.global_index(naming.index)?, naming.name));
        }
        renamed.sort_unstable_by_key(|(index, _)| *index);
        let mut map = wasm_encoder::NameMap::new();
        for (index, name) in renamed {
            map.append(index, name);
        }
        names.globals(&map);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `env` defines the linker's globals; `lib` reads them. `set_got` is `env`'s code that
    /// writes `got`: dead unless `exported` (as the linker's start-up code is after a snapshot).
    fn component(exported: bool) -> Vec<u8> {
        component_with(exported, "")
    }

    /// `component(false)`, with `lib_code` added to `lib`.
    fn component_with(exported: bool, lib_code: &str) -> Vec<u8> {
        let (setter, lift) = if exported {
            (
                "(func (export \"set_got\") (global.set 1 (i32.const 7)))",
                "(core func $set (alias core export $env \"set_got\")) (func (export \"set\") (canon lift (core func $set)))",
            )
        } else {
            ("(func (global.set 1 (i32.const 7)))", "")
        };
        wat::parse_str(format!(
            r#"(component
              (core module $env
                (global (export "memory_base") i32 (i32.const 1000))
                (global (export "got") (mut i32) (i32.const 1234))
                (global (export "sp") (mut i32) (i32.const 64))
                {setter})
              (core module $lib
                (import "env" "memory_base" (global $base i32))
                (import "env" "got" (global $got (mut i32)))
                (import "env" "sp" (global $sp (mut i32)))
                (global $internal i32 (i32.add (global.get $base) (i32.const 24)))
                (func (export "read") (result i32)
                  (i32.add (global.get $got) (i32.add (global.get $internal) (global.get $base))))
                (func (export "bump") (result i32)
                  (global.set $sp (i32.add (global.get $sp) (i32.const 1)))
                  (global.get $sp))
                {lib_code})
              (core instance $env (instantiate $env))
              (core instance $lib (instantiate $lib (with "env" (instance $env))))
              (core func $read (alias core export $lib "read"))
              (core func $bump (alias core export $lib "bump"))
              (func (export "read") (result s32) (canon lift (core func $read)))
              (func (export "bump") (result s32) (canon lift (core func $bump)))
              {lift})"#
        ))
        .unwrap()
    }

    /// The global imports of each core module of `component`.
    fn global_imports(component: &[u8]) -> Vec<Vec<String>> {
        let mut modules = Vec::new();
        for payload in Parser::new(0).parse_all(component) {
            match payload.unwrap() {
                Payload::ModuleSection { .. } => modules.push(Vec::new()),
                Payload::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        let import = import.unwrap();
                        if let TypeRef::Global(_) = import.ty {
                            modules.last_mut().unwrap().push(import.name.to_string());
                        }
                    }
                }
                _ => {}
            }
        }
        modules
    }

    /// Runs `calls` (exports returning `s32`, or `set`) on a real wasmtime instance.
    fn run(component: &[u8], calls: &[&str]) -> Vec<i32> {
        let engine = wasmtime::Engine::default();
        let component = wasmtime::component::Component::new(&engine, component).unwrap();
        let mut store = wasmtime::Store::new(&engine, ());
        let linker = wasmtime::component::Linker::new(&engine);
        let instance = linker.instantiate(&mut store, &component).unwrap();
        let mut results = Vec::new();
        for &name in calls {
            if name == "set" {
                let set = instance.get_typed_func::<(), ()>(&mut store, name).unwrap();
                set.call(&mut store, ()).unwrap();
                continue;
            }
            let func = instance.get_typed_func::<(), (i32,)>(&mut store, name).unwrap();
            results.push(func.call(&mut store, ()).unwrap().0);
        }
        results
    }

    #[test]
    fn folds_what_nothing_can_write_and_computes_the_same() {
        let original = component(false);
        let folded = fold_constant_globals(&original);
        wasmparser::Validator::new().validate_all(&folded).expect("the folded component is valid");
        // `memory_base` and `got` are constants now; the stack pointer, which `bump` writes, is not.
        assert_eq!(global_imports(&folded), [vec![], vec!["sp".to_string()]]);
        let calls = ["read", "bump", "bump", "read"];
        assert_eq!(run(&folded, &calls), run(&original, &calls));
        assert_eq!(run(&folded, &calls), [1234 + 1024 + 1000, 65, 66, 3258]);
    }

    #[test]
    fn keeps_a_global_that_reachable_code_writes() {
        let original = component(true);
        let folded = fold_constant_globals(&original);
        wasmparser::Validator::new().validate_all(&folded).expect("the folded component is valid");
        assert_eq!(global_imports(&folded), [vec![], vec!["got".to_string(), "sp".to_string()]]);
        assert_eq!(run(&folded, &["read", "set", "read"]), [3258, 7 + 1024 + 1000]);
    }

    /// Code that nothing can run does not make a global change, but a module whose own code
    /// sets a global (even dead code) keeps it mutable: an immutable one may not be set at all.
    #[test]
    fn a_module_that_sets_a_global_anywhere_keeps_importing_it() {
        let original = component_with(false, "(func (global.set $got (i32.const 9)))");
        let folded = fold_constant_globals(&original);
        wasmparser::Validator::new().validate_all(&folded).expect("the folded component is valid");
        assert_eq!(global_imports(&folded), [vec![], vec!["got".to_string(), "sp".to_string()]]);
        assert_eq!(run(&folded, &["read"]), [3258]);
    }

    /// The base component, not snapshotted: its linker start-up code still runs and sets the
    /// `GOT` entries that depend on where each library landed, so those stay imports; the ones
    /// the linker could fix when linking (nothing writes them) are folded, and the result is a
    /// valid component. (That it still runs Python: the runtime tests without pre-initialisation.)
    #[test]
    fn keeps_the_entries_the_linkers_start_up_code_sets_in_an_unsnapshotted_component() {
        let base = crate::base::base_component();
        let folded = fold_constant_globals(&base);
        wasmparser::Validator::new().validate_all(&folded).expect("the folded base component is valid");
        let got = |component: &[u8]| {
            global_imports(component).iter().flatten().filter(|name| !name.starts_with("__")).count()
        };
        let (before, after) = (got(&base), got(&folded));
        assert!(after > 0 && after < before, "{before} GOT imports before folding, {after} after");
    }

    #[test]
    fn leaves_what_it_does_not_follow_alone() {
        assert!(matches!(fold_constant_globals(b"not wasm"), Cow::Borrowed(_)));
        let module = wat::parse_str("(module (global i32 (i32.const 1)))").unwrap();
        assert!(matches!(fold_constant_globals(&module), Cow::Borrowed(_)));
    }
}
