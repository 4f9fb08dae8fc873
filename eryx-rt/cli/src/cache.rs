//! `eryx cache list|prune|clear`: eryx's cache folder, seen and trimmed by hand.
//!
//! The cache prunes itself whenever it gains a compiled component (down to its cap,
//! `ERYX_CACHE_LIMIT`, default 4 GiB, which covers every entry: compiled components, the
//! standard library, site-packages trees, the link and wheel indexes, downloaded wheels); this subcommand
//! shows what is there and frees space on demand. An entry that a running process uses is
//! locked and never removed: it is marked `in use` and kept.

use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context;
use eryx_rt::{CacheEntry, ComponentStore, EntryKind, PruneReport};

/// List, prune or clear eryx's cache folder (`$ERYX_CACHE_DIR`, else the user cache folder's `eryx/`).
#[derive(clap::Args, Debug)]
pub(crate) struct CacheArgs {
    #[command(subcommand)]
    action: CacheAction,
}

#[derive(clap::Subcommand, Debug)]
enum CacheAction {
    /// List the entries, least recently used first: key or name, size, last use, eryx version, what it is.
    List,
    /// Remove least recently used entries until the cache fits its cap (and what crashed writers left).
    Prune {
        /// The size to prune down to, e.g. `2G`, `500M` or `0` (default: `ERYX_CACHE_LIMIT`, else 4G).
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        max_size: Option<u64>,
    },
    /// Remove every entry that no running process uses.
    Clear,
}

fn parse_size(text: &str) -> Result<u64, String> {
    eryx_rt::parse_size(text).ok_or_else(|| format!("{text:?} is not a size such as 4G, 500M or 1048576"))
}

/// Runs the action and prints what it found or did on stdout.
pub(crate) fn run(args: CacheArgs) -> anyhow::Result<ExitCode> {
    let store = ComponentStore::from_env()
        .context("there is no cache folder: set ERYX_CACHE_DIR, or HOME for the user cache folder")?;
    let dir = store.root().display().to_string();
    match args.action {
        CacheAction::List => {
            let entries = store.list().with_context(|| format!("cannot read {dir}"))?;
            println!("{dir}");
            for entry in &entries {
                println!("{}", line(entry));
            }
            let total: u64 = entries.iter().map(|entry| entry.bytes).sum();
            println!("{} entries, {} (cap {}, ERYX_CACHE_LIMIT)", entries.len(), size(total), size(store.limit()));
            for (path, bytes) in eryx_rt::unmanaged(store.root()).unwrap_or_default() {
                println!("not eryx's, not counted: {} ({})", path.display(), size(bytes));
            }
        }
        CacheAction::Prune { max_size } => {
            let limit = max_size.unwrap_or(store.limit());
            report(&dir, &store.prune(limit).with_context(|| format!("cannot prune {dir}"))?);
        }
        CacheAction::Clear => report(&dir, &store.clear().with_context(|| format!("cannot clear {dir}"))?),
    }
    Ok(ExitCode::SUCCESS)
}

/// `KEY  SIZE  LAST USE  ERYX  WHAT [in use]`; for an entry that is not a compiled
/// component, its name in the cache folder stands for the key and its kind for the version.
fn line(entry: &CacheEntry) -> String {
    let (name, version, what) = match (entry.kind, &entry.info) {
        (EntryKind::Component, Some(info)) => (short(&entry.key), info.eryx_version.clone(), info.to_string()),
        (EntryKind::Component, None) => {
            (short(&entry.key), "?".to_string(), "written by an older eryx (not recorded)".to_string())
        }
        (EntryKind::SitePackages, _) if !entry.contents.is_empty() => {
            (entry.key.clone(), "-".to_string(), format!("site-packages with {}", entry.contents.join(",")))
        }
        (kind, _) => (entry.key.clone(), "-".to_string(), kind.to_string()),
    };
    let state = if entry.in_use { "  [in use]" } else { "" };
    format!("{name}  {:>9}  {:>8}  {version:<8}  {what}{state}", size(entry.bytes), age(entry.last_used))
}

/// A compiled component's key, shortened (the name of another entry is shown whole).
fn short(key: &str) -> String {
    key[..key.len().min(16)].to_string()
}

fn report(dir: &str, report: &PruneReport) {
    for entry in &report.removed {
        println!("removed {}", line(entry));
    }
    for (path, bytes) in &report.leftovers {
        println!("removed {} ({}, left by a writer that did not finish)", path.display(), size(*bytes));
    }
    for entry in &report.kept_in_use {
        println!("kept    {}", line(entry));
    }
    let freed: u64 = report.removed.iter().map(|entry| entry.bytes).sum::<u64>()
        + report.leftovers.iter().map(|(_, bytes)| bytes).sum::<u64>();
    println!(
        "removed {} entries and {} leftover files ({}); kept {} in use; {} left in {dir}",
        report.removed.len(),
        report.leftovers.len(),
        size(freed),
        report.kept_in_use.len(),
        size(report.remaining_bytes)
    );
}

fn size(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
        _ => format!("{:.2} GiB", bytes as f64 / 1_073_741_824.0),
    }
}

fn age(when: SystemTime) -> String {
    let seconds = when.elapsed().map(|age| age.as_secs()).unwrap_or(0);
    match seconds {
        0..120 => format!("{seconds}s ago"),
        120..7200 => format!("{}m ago", seconds / 60),
        7200..172_800 => format!("{}h ago", seconds / 3600),
        _ => format!("{}d ago", seconds / 86_400),
    }
}
