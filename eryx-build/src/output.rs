//! Verifying, linking and writing the build outputs, reproducibly.

use std::io::Write;
use std::path::Path;

use eryx_libs::{BaseLibraries, SitePackages, Wheel};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::Artifacts;
use crate::error::{Error, io};
use crate::fetch::{Fetcher, sha256_file};
use crate::precompile;
use crate::table::{Table, WheelSource};

#[derive(Serialize)]
struct Manifest {
    eryx_libs_fingerprint: &'static str,
    wheels: Vec<ManifestWheel>,
    native_extensions: Vec<ManifestFile>,
    preinit: Vec<String>,
    component_sha256: String,
    site_sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    precompiled: Option<ManifestPrecompiled>,
}

#[derive(Serialize)]
struct ManifestPrecompiled {
    cpu: String,
    target: Option<String>,
    sha256: String,
    stdlib_pack_sha256: String,
    site_pack_sha256: String,
}

#[derive(Serialize)]
struct ManifestWheel {
    source: String,
    name: String,
    version: String,
    sha256: String,
}

#[derive(Serialize)]
struct ManifestFile {
    path: String,
    sha256: String,
}

pub(crate) fn link_and_write(
    table: &Table,
    manifest_dir: &Path,
    fetcher: &Fetcher,
    out_dir: &Path,
) -> Result<Artifacts, Error> {
    let mut site = SitePackages::new();
    let mut wheels = Vec::new();
    let mut preinit = table.preinit.clone();
    for source in &table.wheels {
        let (path, label, expected) = match source {
            WheelSource::Url { url, sha256 } => (fetcher.fetch(url, sha256)?, url.clone(), Some(sha256)),
            WheelSource::Path { path, sha256 } => {
                println!("cargo:rerun-if-changed={}", path.display());
                let label = path.strip_prefix(manifest_dir).unwrap_or(path).display().to_string();
                (path.clone(), label, sha256.as_ref())
            }
        };
        let actual = sha256_file(&path)?;
        if let Some(expected) = expected
            && *expected != actual
        {
            return Err(Error::HashMismatch { wheel: label, expected: expected.clone(), actual });
        }
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let wheel = Wheel::from_bytes(label.clone(), &bytes)?;
        site.add_wheel(&wheel)?;
        if table.preinit_wheels {
            for module in wheel.top_level_modules() {
                if !preinit.contains(&module) {
                    preinit.push(module);
                }
            }
        }
        wheels.push(ManifestWheel { source: label, name: wheel.name, version: wheel.version, sha256: actual });
    }

    let extensions = site.native_extensions();
    let component = eryx_libs::link_component(&BaseLibraries::load(), &extensions)?;
    let component_sha256 = hex::encode(Sha256::digest(&component));
    let site_sha256 = hex::encode(site.digest());

    let site_tar = site_tar(&site).map_err(io(out_dir.join("site.tar")))?;
    let precompiled = match table.precompile {
        true => Some(precompile::run(&precompile::Inputs {
            component: &component,
            site_tar: &site_tar,
            site_sha256: &site_sha256,
            preinit: &preinit,
            cpu: table.cpu.as_deref(),
        })?),
        false => None,
    };

    write(out_dir, "component.wasm", &component)?;
    write(out_dir, "component.sha256", component_sha256.as_bytes())?;
    write(out_dir, "site.tar", &site_tar)?;
    write(out_dir, "site.sha256", site_sha256.as_bytes())?;
    write(out_dir, "preinit.txt", preinit.join("\n").as_bytes())?;
    let outputs = precompiled.unwrap_or_default();
    write(out_dir, "component.cwasm", &outputs.code)?;
    write(out_dir, "stdlib.pack", &outputs.stdlib_pack)?;
    write(out_dir, "site.pack", &outputs.site_pack)?;
    let digest = |bytes: &[u8]| hex::encode(Sha256::digest(bytes));
    let manifest = Manifest {
        eryx_libs_fingerprint: eryx_libs::FINGERPRINT,
        wheels,
        native_extensions: extensions
            .iter()
            .map(|e| ManifestFile { path: e.guest_path.clone(), sha256: hex::encode(Sha256::digest(&e.bytes)) })
            .collect(),
        preinit,
        component_sha256: component_sha256.clone(),
        site_sha256,
        precompiled: table.precompile.then(|| ManifestPrecompiled {
            cpu: outputs.cpu.clone(),
            target: outputs.target.clone(),
            sha256: digest(&outputs.code),
            stdlib_pack_sha256: digest(&outputs.stdlib_pack),
            site_pack_sha256: digest(&outputs.site_pack),
        }),
    };
    let json = serde_json::to_vec_pretty(&manifest).expect("the manifest serialises");
    write(out_dir, "manifest.json", &json)?;
    Ok(Artifacts { dir: out_dir.to_path_buf(), component_sha256, native_extensions: extensions.len() })
}

/// A tar of the installed tree with fixed metadata, so that equal trees give equal bytes.
fn site_tar(site: &SitePackages) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, contents) in site.installed_files() {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, path, contents)?;
    }
    builder.into_inner()
}

/// Writes only when the content differs, so unchanged outputs keep their timestamps.
fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), Error> {
    let path = dir.join(name);
    if std::fs::read(&path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
    file.write_all(bytes).map_err(io(&path))?;
    file.persist(&path).map_err(|e| Error::Io { path: path.clone(), source: e.error })?;
    Ok(())
}

/// Empty outputs for docs.rs: the crate compiles, `from_embedded` reports that nothing is embedded.
pub(crate) fn write_placeholder(dir: &Path) -> Result<(), Error> {
    let names = ["component.wasm", "component.sha256", "site.tar", "site.sha256", "preinit.txt", "manifest.json"];
    let precompiled = ["component.cwasm", "stdlib.pack", "site.pack"];
    for name in names.into_iter().chain(precompiled) {
        write(dir, name, b"")?;
    }
    Ok(())
}
