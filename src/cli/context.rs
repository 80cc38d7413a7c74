//! What every command needs: the settings in force, the output format, and ways to open the
//! store and the ledger with clear errors when something is missing.

use super::{Format, FormatArg, GlobalArgs};
use crate::clock;
use crate::config::{load_master_key, Overrides, Settings};
use crate::crypto::KeyError;
use crate::ledger::{Ledger, LedgerError};
use crate::store::{self, Store};
use anyhow::Context;
use std::sync::Arc;

/// Settings and output format for one command run.
pub struct Ctx {
    pub settings: Settings,
    pub format: Format,
    /// `--format` as given (reports take more formats than other commands).
    pub format_arg: Option<FormatArg>,
}

impl Ctx {
    pub fn load(global: &GlobalArgs, report: bool) -> anyhow::Result<Self> {
        let format = match global.format {
            None => Format::default_for_stdout(),
            Some(arg) => match (arg.plain(), report) {
                (Some(format), _) => format,
                (None, true) => Format::Json,
                (None, false) => {
                    return Err(super::UsageError(
                        "--format: markdown, csv and html are for `waledger report`; use table or json here".into(),
                    )
                    .into())
                }
            },
        };
        let overrides = Overrides {
            config: global.config.clone(),
            database_url: global.database_url.clone(),
            keystore_url: global.keystore_url.clone(),
            key_file: global.key_file.clone(),
            policies: global.policies.clone(),
            listen: None,
        };
        let settings =
            Settings::load(&overrides, &|k| std::env::var(k).ok()).context("loading settings")?;
        Ok(Self {
            settings,
            format,
            format_arg: global.format,
        })
    }

    /// Opens (creating and migrating when missing) the ledger and key store databases.
    pub async fn open_store(&self) -> anyhow::Result<Arc<dyn Store>> {
        let s = &self.settings;
        Ok(store::connect(&s.database_url, &s.keystore_url).await?)
    }

    /// Opens the ledger with the master key.
    pub async fn open_ledger(&self) -> anyhow::Result<Ledger> {
        let master = load_master_key(&self.settings, &|k| std::env::var(k).ok())?;
        let store = self.open_store().await?;
        match Ledger::open(store, &master, clock::now()).await {
            Ok(ledger) => Ok(ledger),
            // A rotation that switched the key store but was stopped before replacing the key file.
            Err(LedgerError::Key(KeyError::WrongMasterKey))
                if super::keys::next_path(&self.settings.key_file).exists() =>
            {
                Err(anyhow::anyhow!(
                    "the key store has moved to the new key in {}: a key rotation was interrupted; run `waledger keys rotate` to finish it (do not delete that file)",
                    super::keys::next_path(&self.settings.key_file).display()
                ))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the ledger's database exists (checks never create a missing SQLite file).
    pub fn ledger_at_hand(&self) -> bool {
        let url = &self.settings.database_url;
        match url.backend() {
            store::Backend::Sqlite => url
                .sqlite_path()
                .is_some_and(|p| std::path::Path::new(p).exists()),
            store::Backend::Postgres => true,
        }
    }
}
