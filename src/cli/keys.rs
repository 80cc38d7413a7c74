//! `waledger keys rotate`: moves every wrapped key to a new master key. The new key is written to
//! `<key file>.next` (mode 0600) before anything changes; when every key has moved it replaces the
//! key file (an atomic rename), so the old key is gone. Killed at any moment, running the command
//! again finishes the same rotation. With `WALEDGER_MASTER_KEY` the new key is left in the
//! `.next` file for the operator to move into their secret store.

use super::{output, Ctx, Exit, Format};
use crate::config::{create_key_file, load_master_key, read_key_file, ConfigError};
use crate::ledger::{self, RotationOutcome};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Master key management
#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Re-wrap every key under a new master key; afterwards the old key opens nothing
    Rotate,
}

/// Where a rotation keeps the new key until it replaces the key file.
pub fn next_path(key_file: &Path) -> PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(".next");
    PathBuf::from(name)
}

impl KeysArgs {
    pub async fn run(&self, ctx: &Ctx, out: &mut dyn Write) -> anyhow::Result<Exit> {
        let KeysCommand::Rotate = self.command;
        let s = &ctx.settings;
        let from_env = std::env::var_os("WALEDGER_MASTER_KEY").is_some();
        let current = load_master_key(s, &|k| std::env::var(k).ok())?;
        let next_file = next_path(&s.key_file);
        let store = ctx.open_store().await?;
        let next = match read_key_file(&next_file) {
            Ok(key) => key,
            Err(ConfigError::MissingKey { .. }) => new_next_key(&next_file)?,
            // Unreadable and no rotation has begun with it: it holds nothing to keep.
            Err(e) if rotation_not_begun(store.as_ref()).await? => {
                tracing::warn!(error.message = %e, "discarding an unusable new key file left by an interrupted rotation");
                std::fs::remove_file(&next_file)?;
                new_next_key(&next_file)?
            }
            Err(e) => return Err(e.into()),
        };
        let bar = ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("keys rotate {spinner} {pos} keys re-wrapped ({per_sec})")
                .expect("valid template"),
        );
        let outcome: RotationOutcome = ledger::rotate(
            store.as_ref(),
            &current,
            &next,
            crate::clock::now(),
            &mut |n| bar.set_position(n),
        )
        .await?;
        bar.finish_and_clear();
        store.close().await;
        let key_location = if from_env {
            format!(
                "the new master key is in {}; put its content into WALEDGER_MASTER_KEY, then delete the file",
                next_file.display()
            )
        } else {
            replace_key_file(&next_file, &s.key_file)?;
            format!(
                "{} now holds the new master key; the old one is gone",
                s.key_file.display()
            )
        };
        match ctx.format {
            Format::Json => output::json(
                out,
                &serde_json::json!({
                    "generation": outcome.generation, "keys_rewrapped": outcome.keys_rewrapped,
                    "already_done": outcome.already_done, "key_file": if from_env { &next_file } else { &s.key_file },
                }),
            )?,
            Format::Table => {
                writeln!(
                    out,
                    "rotated: {} keys re-wrapped (generation {}); {key_location}",
                    outcome.keys_rewrapped, outcome.generation
                )?;
            }
        }
        if from_env {
            eprintln!("{key_location}");
        }
        Ok(Exit::Success)
    }
}

fn new_next_key(next_file: &Path) -> anyhow::Result<crate::crypto::MasterKey> {
    create_key_file(next_file).map_err(|e| {
        anyhow::anyhow!(
            "cannot write the new key file {}: {e}; check the folder is writable",
            next_file.display()
        )
    })?;
    Ok(read_key_file(next_file)?)
}

/// Whether the key store has no rotation in flight (so a `.next` file it never saw is disposable).
async fn rotation_not_begun(store: &dyn crate::store::Store) -> anyhow::Result<bool> {
    Ok(store
        .keystore_meta()
        .await?
        .is_none_or(|meta| meta.next_check.is_none()))
}

/// Moves the new key over the old one atomically and makes the rename durable.
fn replace_key_file(next: &Path, key_file: &Path) -> anyhow::Result<()> {
    std::fs::rename(next, key_file).map_err(|e| {
        anyhow::anyhow!(
            "the key store now uses the key in {}, but it could not replace {}: {e}; move it there by hand",
            next.display(),
            key_file.display()
        )
    })?;
    if let Some(dir) = key_file.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}
