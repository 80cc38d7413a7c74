//! Settings, layered as CONTRACT.md says: built-in defaults, then `waledger.toml` (or
//! `--config PATH`), then `WALEDGER_*` environment variables, then command-line flags. Secrets
//! (master key, app secret, verify token) are wrapped so they cannot be printed by accident, and
//! database URLs print without their passwords.

use crate::crypto::{KeyError, MasterKey};
use crate::store::{default_keystore_url, DatabaseUrl};
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;
use zeroize::Zeroizing;

/// Problems loading settings or the master key. Messages never include a secret.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{path}: {reason}; fix the file or remove it to use the defaults")]
    File { path: String, reason: String },
    #[error("{setting}: {reason}")]
    Invalid {
        setting: &'static str,
        reason: String,
    },
    #[error(
        "no master key at {path}; run `waledger init` to create one, or set WALEDGER_MASTER_KEY"
    )]
    MissingKey { path: String },
    #[error("cannot read the master key file {path}: {reason}")]
    UnreadableKey { path: String, reason: String },
    #[error("{source} ({origin})")]
    Key { origin: String, source: KeyError },
}

/// A secret string from the environment: redacted `Debug`, zeroed on drop.
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// The settings file's keys (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    database_url: Option<String>,
    keystore_url: Option<String>,
    key_file: Option<PathBuf>,
    policies: Option<PathBuf>,
    reports: Option<PathBuf>,
    listen: Option<String>,
}

/// Values given on the command line (highest precedence).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub database_url: Option<String>,
    pub keystore_url: Option<String>,
    pub key_file: Option<PathBuf>,
    pub policies: Option<PathBuf>,
    pub listen: Option<String>,
}

/// The settings in force.
#[derive(Debug)]
pub struct Settings {
    pub database_url: DatabaseUrl,
    pub keystore_url: DatabaseUrl,
    pub key_file: PathBuf,
    pub policies: PathBuf,
    pub reports: PathBuf,
    pub listen: String,
    pub app_secret: Option<Secret>,
    pub verify_token: Option<Secret>,
    /// Values removed per purge transaction (`WALEDGER_PURGE_BATCH`).
    pub purge_batch: i64,
}

impl Settings {
    /// Loads the layers. `env` reads one environment variable (a parameter so tests can fake it).
    pub fn load(
        overrides: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let file = read_file(overrides.config.as_deref())?;
        let pick = |flag: &Option<String>, var: &str, from_file: &Option<String>| {
            flag.clone()
                .or_else(|| env(var))
                .or_else(|| from_file.clone())
        };
        let pick_path =
            |flag: &Option<PathBuf>, var: &str, from_file: &Option<PathBuf>, default: &str| {
                flag.clone()
                    .or_else(|| env(var).map(PathBuf::from))
                    .or_else(|| from_file.clone())
                    .unwrap_or_else(|| PathBuf::from(default))
            };
        let database_url = pick(
            &overrides.database_url,
            "WALEDGER_DATABASE_URL",
            &file.database_url,
        )
        .unwrap_or_else(|| "sqlite://waledger.db".to_string());
        let database_url =
            DatabaseUrl::parse(&database_url).map_err(|reason| ConfigError::Invalid {
                setting: "database URL",
                reason,
            })?;
        let keystore_url = match pick(
            &overrides.keystore_url,
            "WALEDGER_KEYSTORE_URL",
            &file.keystore_url,
        ) {
            Some(url) => DatabaseUrl::parse(&url).map_err(|reason| ConfigError::Invalid {
                setting: "key store URL",
                reason,
            })?,
            None => default_keystore_url(&database_url),
        };
        Ok(Self {
            keystore_url,
            database_url,
            key_file: pick_path(
                &overrides.key_file,
                "WALEDGER_KEY_FILE",
                &file.key_file,
                "waledger.key",
            ),
            policies: pick_path(
                &overrides.policies,
                "WALEDGER_POLICIES",
                &file.policies,
                "policies",
            ),
            reports: pick_path(&None, "WALEDGER_REPORTS", &file.reports, "reports"),
            listen: pick(&overrides.listen, "WALEDGER_LISTEN", &file.listen)
                .unwrap_or_else(|| "127.0.0.1:8080".into()),
            app_secret: env("WALEDGER_APP_SECRET")
                .filter(|s| !s.is_empty())
                .map(Secret::new),
            verify_token: env("WALEDGER_VERIFY_TOKEN")
                .filter(|s| !s.is_empty())
                .map(Secret::new),
            purge_batch: purge_batch(env)?,
        })
    }
}

fn purge_batch(env: &dyn Fn(&str) -> Option<String>) -> Result<i64, ConfigError> {
    let Some(text) = env("WALEDGER_PURGE_BATCH") else {
        return Ok(crate::retention::BATCH);
    };
    text.trim()
        .parse()
        .ok()
        .filter(|n| (1..=1_000_000).contains(n))
        .ok_or_else(|| ConfigError::Invalid {
            setting: "WALEDGER_PURGE_BATCH",
            reason: "must be a whole number from 1 to 1000000".into(),
        })
}

fn read_file(explicit: Option<&Path>) -> Result<FileSettings, ConfigError> {
    let path = explicit.unwrap_or(Path::new("waledger.toml"));
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
            return Ok(FileSettings::default())
        }
        Err(e) => {
            return Err(ConfigError::File {
                path: path.display().to_string(),
                reason: e.to_string(),
            })
        }
    };
    toml::from_str(&text).map_err(|e| ConfigError::File {
        path: path.display().to_string(),
        reason: e.message().to_string(),
    })
}

/// The master key: `WALEDGER_MASTER_KEY` when set, else the key file.
pub fn load_master_key(
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<MasterKey, ConfigError> {
    if let Some(text) = env("WALEDGER_MASTER_KEY").map(Zeroizing::new) {
        return MasterKey::from_base64(&text).map_err(|source| ConfigError::Key {
            origin: "WALEDGER_MASTER_KEY".into(),
            source,
        });
    }
    read_key_file(&settings.key_file)
}

/// Reads a master key file.
pub fn read_key_file(file: &Path) -> Result<MasterKey, ConfigError> {
    let path = file.display().to_string();
    let text = match std::fs::read_to_string(file) {
        Ok(text) => Zeroizing::new(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ConfigError::MissingKey { path })
        }
        Err(e) => {
            return Err(ConfigError::UnreadableKey {
                path,
                reason: e.to_string(),
            })
        }
    };
    MasterKey::from_base64(&text).map_err(|source| ConfigError::Key {
        origin: path,
        source,
    })
}

/// Creates a new key file (mode 0600) unless one exists. Returns whether it created one.
pub fn create_key_file(path: &Path) -> std::io::Result<bool> {
    use std::io::Write;
    if path.exists() {
        return Ok(false);
    }
    // Written whole to a temporary file, then linked into place (which fails if the key file
    // appeared meanwhile): a crash never leaves an empty or half-written key file behind.
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".tmp-{}", std::process::id()));
    let tmp = std::path::PathBuf::from(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&tmp).and_then(|mut file| {
        let key = MasterKey::generate();
        file.write_all(key.dangerously_to_base64().as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                if let Ok(dir) = std::fs::File::open(dir) {
                    let _ = dir.sync_all();
                }
            }
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn layers_apply_in_contract_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("w.toml");
        std::fs::write(
            &file,
            "database_url = \"sqlite://file.db\"\nlisten = \"0.0.0.0:1\"\n",
        )
        .unwrap();
        let mut flags = Overrides {
            config: Some(file),
            ..Default::default()
        };
        let env = env_of(&[("WALEDGER_LISTEN", "127.0.0.1:2")]);
        let s = Settings::load(&flags, &env).unwrap();
        assert_eq!(s.database_url.expose(), "sqlite://file.db");
        assert_eq!(s.keystore_url.expose(), "sqlite://file.keys.db");
        assert_eq!(s.listen, "127.0.0.1:2");
        flags.listen = Some("127.0.0.1:3".into());
        assert_eq!(Settings::load(&flags, &env).unwrap().listen, "127.0.0.1:3");
    }

    #[test]
    fn defaults_match_the_contract() {
        let s = Settings::load(
            &Overrides {
                config: None,
                ..Default::default()
            },
            &env_of(&[]),
        )
        .unwrap();
        assert_eq!(s.database_url.expose(), "sqlite://waledger.db");
        assert_eq!(s.keystore_url.expose(), "sqlite://waledger.keys.db");
        assert_eq!(s.key_file, PathBuf::from("waledger.key"));
        assert_eq!(s.listen, "127.0.0.1:8080");
        assert!(s.app_secret.is_none());
    }

    #[test]
    fn key_file_is_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        assert!(create_key_file(&path).unwrap());
        let first = std::fs::read(&path).unwrap();
        assert!(!create_key_file(&path).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let env = env_of(&[
            ("WALEDGER_APP_SECRET", "hunter2"),
            ("WALEDGER_DATABASE_URL", "postgres://u:pw@h/db"),
        ]);
        let s = Settings::load(&Overrides::default(), &env).unwrap();
        let printed = format!("{s:?}");
        assert!(
            !printed.contains("hunter2") && !printed.contains(":pw@"),
            "{printed}"
        );
    }
}
