//! The `precompile` option: the snapshot made and compiled by Cranelift at build time, through
//! eryx-rt's precompiler (only with eryx-build's `precompile` feature, which brings wasmtime
//! into the build script). See `eryx_rt::precompile` for what is checked when the binary
//! loads the code, and why that is sound.

use crate::error::Error;

/// The precompiled snapshot and the bytecode packs it was made with.
#[derive(Default)]
pub(crate) struct Outputs {
    /// The code, as `Engine::precompile_component` wrote it (empty without the option).
    pub(crate) code: Vec<u8>,
    pub(crate) stdlib_pack: Vec<u8>,
    pub(crate) site_pack: Vec<u8>,
    /// The CPU baseline the code is for, as given to Cranelift.
    pub(crate) cpu: String,
    /// The Rust target triple it is for (`None`: the build host).
    pub(crate) target: Option<String>,
}

/// The CPU baseline for `target` when the table names none: eryx-rt's default (`x86-64-v2`) on
/// x86-64, Cranelift's defaults for other architectures.
#[cfg_attr(not(feature = "precompile"), allow(dead_code))]
pub(crate) fn default_cpu(target: Option<&str>) -> &'static str {
    match target {
        Some(target) if !target.starts_with("x86_64") => "",
        _ => "x86-64-v2",
    }
}

/// The inputs of the snapshot: eryx-build's outputs (read only when the feature brings the
/// compiler in).
#[cfg_attr(not(feature = "precompile"), allow(dead_code))]
pub(crate) struct Inputs<'a> {
    pub(crate) component: &'a [u8],
    pub(crate) site_tar: &'a [u8],
    pub(crate) site_sha256: &'a str,
    pub(crate) preinit: &'a [String],
    pub(crate) cpu: Option<&'a str>,
}

/// Makes the snapshot and compiles it for the build's target (`TARGET`) and CPU baseline.
#[cfg(feature = "precompile")]
pub(crate) fn run(inputs: &Inputs<'_>) -> Result<Outputs, Error> {
    use eryx_rt::precompile::{Inputs as SnapshotInputs, Precompiler};

    let target = std::env::var("TARGET").ok();
    let cpu = inputs.cpu.unwrap_or(default_cpu(target.as_deref())).to_string();
    let precompiler = Precompiler::new().map_err(Error::Precompile)?;
    let snapshot = precompiler
        .snapshot(&SnapshotInputs {
            wasm: inputs.component,
            site_tar: inputs.site_tar,
            site_sha256: inputs.site_sha256,
            preinit: inputs.preinit,
        })
        .map_err(Error::Precompile)?;
    let code = precompiler.compile(&snapshot, target.as_deref(), &cpu).map_err(Error::Precompile)?;
    Ok(Outputs { code, stdlib_pack: snapshot.stdlib_pack, site_pack: snapshot.site_pack, cpu, target })
}

/// Without the feature there is no compiler in the build script: say how to get one.
#[cfg(not(feature = "precompile"))]
pub(crate) fn run(_inputs: &Inputs<'_>) -> Result<Outputs, Error> {
    Err(Error::PrecompileFeature)
}
