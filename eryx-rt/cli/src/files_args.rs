//! The flags that move files between the host and the sandbox: host folders mounted into the
//! guest (`--mount`), files copied into its scratch space before the program runs (`--put`)
//! and out of it afterwards (`--get`).
//!
//! Kept apart from the sandbox's other flags because copying happens around a run, not while
//! the sandbox is built: [`FilesArgs::mount_into`] shapes the builder, [`FilesArgs::put_into`] and
//! [`FilesArgs::get_from`] run before and after the program. Values are split at a colon the
//! way `docker cp` does (`SOURCE:DESTINATION`), so host paths with a colon cannot be given.

use std::path::PathBuf;

use anyhow::Context;
use eryx_rt::{Sandbox, SandboxBuilder};

/// Host folders and files the sandbox sees.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct FilesArgs {
    /// Show the host folder HOST to the guest at the absolute path GUEST, read-only unless
    /// `:rw` is added (`:ro` is the default); repeatable. The guest cannot leave the folder.
    #[arg(long = "mount", value_name = "HOST:GUEST[:ro|:rw]", value_parser = parse_mount)]
    pub(crate) mounts: Vec<MountArg>,
    /// Copy the host file HOST into the sandbox's scratch space at GUEST (below /tmp or
    /// /home/sandbox, or relative to /home/sandbox) before the program runs (in the REPL: into
    /// each new sandbox); repeatable.
    #[arg(long = "put", value_name = "HOST:GUEST", value_parser = parse_put)]
    pub(crate) puts: Vec<FileCopy>,
    /// Copy the scratch file GUEST to the host file HOST after the program ran (also when it
    /// failed; in the REPL: when the session ends); repeatable.
    #[arg(long = "get", value_name = "GUEST:HOST", value_parser = parse_get)]
    pub(crate) gets: Vec<FileCopy>,
}

/// One `--mount`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountArg {
    host: PathBuf,
    guest: String,
    writable: bool,
}

/// One `--put` or `--get`: a host file and a guest path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileCopy {
    host: PathBuf,
    guest: String,
}

fn parse_mount(value: &str) -> Result<MountArg, String> {
    let (rest, writable) = match value.rsplit_once(':') {
        Some((rest, "rw")) => (rest, true),
        Some((rest, "ro")) => (rest, false),
        _ => (value, false),
    };
    let (host, guest) = rest
        .rsplit_once(':')
        .filter(|(host, guest)| !host.is_empty() && !guest.is_empty())
        .ok_or_else(|| format!("{value:?} is not HOST:GUEST[:ro|:rw] (for example ./data:/data:ro)"))?;
    Ok(MountArg { host: host.into(), guest: guest.to_string(), writable })
}

fn parse_put(value: &str) -> Result<FileCopy, String> {
    let (host, guest) = value
        .rsplit_once(':')
        .filter(|(host, guest)| !host.is_empty() && !guest.is_empty())
        .ok_or_else(|| format!("{value:?} is not HOST:GUEST (for example ./in.csv:/tmp/in.csv)"))?;
    Ok(FileCopy { host: host.into(), guest: guest.to_string() })
}

fn parse_get(value: &str) -> Result<FileCopy, String> {
    let (guest, host) = value
        .split_once(':')
        .filter(|(guest, host)| !host.is_empty() && !guest.is_empty())
        .ok_or_else(|| format!("{value:?} is not GUEST:HOST (for example /tmp/out.png:./out.png)"))?;
    Ok(FileCopy { host: host.into(), guest: guest.to_string() })
}

impl FilesArgs {
    /// What the guest sees of the host's files, in words: "no host files" or the mounted
    /// folders with their modes (the REPL's banner says it).
    pub(crate) fn describe_host_files(&self) -> String {
        if self.mounts.is_empty() {
            return "no host files".to_string();
        }
        let mounts: Vec<String> = self
            .mounts
            .iter()
            .map(|m| {
                let mode = if m.writable { "read-write" } else { "read-only" };
                format!("{} at {} ({mode})", m.host.display(), m.guest)
            })
            .collect();
        format!("host files only from {}", mounts.join(", "))
    }

    /// Adds the `--mount`s to `builder` (the sandbox checks them when it is built).
    pub(crate) fn mount_into(&self, mut builder: SandboxBuilder) -> SandboxBuilder {
        for mount in &self.mounts {
            builder = if mount.writable {
                builder.mount_writable(&mount.host, &mount.guest)
            } else {
                builder.mount(&mount.host, &mount.guest)
            };
        }
        builder
    }

    /// Copies the `--put` files into the sandbox's scratch space.
    pub(crate) fn put_into(&self, sandbox: &Sandbox) -> anyhow::Result<()> {
        let files = sandbox.files();
        for put in &self.puts {
            let bytes =
                std::fs::read(&put.host).with_context(|| format!("--put: cannot read {}", put.host.display()))?;
            files.write(&put.guest, bytes).with_context(|| format!("--put {}", put.guest))?;
        }
        Ok(())
    }

    /// Copies the `--get` files out of the sandbox's scratch space; every one is tried, the
    /// first failure is returned.
    pub(crate) fn get_from(&self, sandbox: &Sandbox) -> anyhow::Result<()> {
        let files = sandbox.files();
        let mut first_error = None;
        for get in &self.gets {
            let copied = files.read(&get.guest).with_context(|| format!("--get {}", get.guest)).and_then(|bytes| {
                std::fs::write(&get.host, bytes).with_context(|| format!("--get: cannot write {}", get.host.display()))
            });
            if let Err(error) = copied {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_parse_with_and_without_a_mode() {
        let mount = |host: &str, guest: &str, writable| MountArg { host: host.into(), guest: guest.into(), writable };
        assert_eq!(parse_mount("data:/data"), Ok(mount("data", "/data", false)));
        assert_eq!(parse_mount("./a/b:/in:ro"), Ok(mount("./a/b", "/in", false)));
        assert_eq!(parse_mount("/srv/out:/out:rw"), Ok(mount("/srv/out", "/out", true)));
        assert!(parse_mount("/data").is_err());
        assert!(parse_mount(":/data").is_err());
        assert!(parse_mount("data:").is_err());
    }

    #[test]
    fn copies_parse_source_first() {
        let copy = |host: &str, guest: &str| FileCopy { host: host.into(), guest: guest.into() };
        assert_eq!(parse_put("in.csv:/tmp/in.csv"), Ok(copy("in.csv", "/tmp/in.csv")));
        assert_eq!(parse_get("out.png:./out.png"), Ok(copy("./out.png", "out.png")));
        assert!(parse_put("in.csv").is_err());
        assert!(parse_get(":x").is_err());
    }

    #[test]
    fn the_banner_names_what_is_mounted() {
        assert_eq!(FilesArgs::default().describe_host_files(), "no host files");
        let args = FilesArgs {
            mounts: vec![parse_mount("data:/data").unwrap(), parse_mount("out:/out:rw").unwrap()],
            ..FilesArgs::default()
        };
        assert_eq!(
            args.describe_host_files(),
            "host files only from data at /data (read-only), out at /out (read-write)"
        );
    }
}
