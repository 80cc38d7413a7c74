//! `waledger init`: creates the master key file (mode 0600) if there is none, creates or migrates
//! both databases, checks that the key opens the key store, writes the shipped policy files that
//! are missing and validates the policies.
//! Idempotent; never overwrites a key.

use super::{Ctx, Exit};
use crate::policy::{DEFAULT_FLOWS, DEFAULT_RETENTION, DEFAULT_TERMS};
use crate::{clock, config, ledger::Ledger};
use anyhow::Context;
use std::io::Write;
use std::path::Path;

/// Create the master key, the ledger and the key store (safe to run again)
#[derive(Debug, clap::Args)]
pub struct InitArgs {}

impl InitArgs {
    pub async fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> anyhow::Result<Exit> {
        let s = &ctx.settings;
        let from_env = std::env::var_os("WALEDGER_MASTER_KEY").is_some();
        let created = if from_env {
            false
        } else {
            config::create_key_file(&s.key_file)
                .with_context(|| format!("creating the master key file {}", s.key_file.display()))?
        };
        let master = config::load_master_key(s, &|k| std::env::var(k).ok())?;
        let store = ctx.open_store().await?;
        let ledger = Ledger::open(store, &master, clock::now()).await?;
        let head = ledger.store().head().await?;
        ledger.store().close().await;
        let written = write_default_policies(&s.policies)?;
        crate::policy::Policies::load(&s.policies).map_err(|e| super::UsageError(e.to_string()))?;
        let policies = if written.is_empty() {
            format!("policies: {} valid", s.policies.display())
        } else {
            format!("policies: created {}", written.join(", "))
        };

        let key_line = match (from_env, created) {
            (true, _) => "master key: from WALEDGER_MASTER_KEY".to_string(),
            (false, true) => format!(
                "master key: created {} (mode 0600); back it up apart from the database",
                s.key_file.display()
            ),
            (false, false) => format!("master key: using existing {}", s.key_file.display()),
        };
        writeln!(out, "{key_line}")?;
        writeln!(out, "ledger: {} ({} entries)", s.database_url, head.seq)?;
        writeln!(out, "key store: {}", s.keystore_url)?;
        writeln!(out, "{policies}")?;
        Ok(Exit::Success)
    }
}

/// Writes the shipped policy files that are missing from the policy folder (creating it); names
/// what it wrote. A policy path that is a single file is left alone.
pub(super) fn write_default_policies(folder: &Path) -> anyhow::Result<Vec<String>> {
    let mut created = Vec::new();
    if folder.exists() && !folder.is_dir() {
        return Ok(created);
    }
    std::fs::create_dir_all(folder).with_context(|| format!("creating {}", folder.display()))?;
    for (name, text, what) in [
        (
            "retention.toml",
            DEFAULT_RETENTION,
            "default retention policy",
        ),
        ("terms.toml", DEFAULT_TERMS, "terms catalogue"),
        ("data_flows.toml", DEFAULT_FLOWS, "data-flow catalogue"),
    ] {
        let file = folder.join(name);
        if !file.exists() {
            std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
            created.push(format!("{} ({what})", file.display()));
        }
    }
    Ok(created)
}
