//! Database URLs: which backend a URL selects, where its key store lives by default, and a
//! `Debug`/`Display` that never shows a password.

use std::fmt;

/// The two supported backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database URL whose password is redacted when printed.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Accepts `sqlite:…` and `postgres://…` / `postgresql://…` URLs.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.starts_with("sqlite:")
            || raw.starts_with("postgres://")
            || raw.starts_with("postgresql://")
        {
            Ok(Self(raw.to_string()))
        } else {
            Err("the database URL must start with sqlite: or postgres://".into())
        }
    }

    pub fn backend(&self) -> Backend {
        if self.0.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    }

    /// The URL with its password; only for handing to the driver.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// For SQLite: the file path, without scheme or query.
    pub fn sqlite_path(&self) -> Option<&str> {
        let rest = self.0.strip_prefix("sqlite:")?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        Some(rest.split('?').next().unwrap_or(rest))
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // postgres://user:password@host/… → postgres://user:***@host/…
        match (self.0.find("://"), self.0.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                let creds = &self.0[scheme + 3..at];
                match creds.find(':') {
                    Some(colon) => {
                        write!(f, "{}:***{}", &self.0[..scheme + 3 + colon], &self.0[at..])
                    }
                    None => f.write_str(&self.0),
                }
            }
            _ => f.write_str(&self.0),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// The key store beside a ledger: for SQLite the same path with `.keys` before the extension
/// (`waledger.db` → `waledger.keys.db`); for PostgreSQL the same server, database name + `_keys`.
pub fn default_keystore_url(ledger: &DatabaseUrl) -> DatabaseUrl {
    let raw = &ledger.0;
    let (base, query) = match raw.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (raw.as_str(), String::new()),
    };
    let keyed = match ledger.backend() {
        Backend::Sqlite => {
            let file_start = base
                .rfind('/')
                .map_or(base.find(':').unwrap_or(0) + 1, |i| i + 1);
            match base[file_start..].rfind('.') {
                Some(dot) => format!(
                    "{}.keys{}",
                    &base[..file_start + dot],
                    &base[file_start + dot..]
                ),
                None => format!("{base}.keys"),
            }
        }
        Backend::Postgres => {
            let after_scheme = base.find("://").map_or(0, |i| i + 3);
            if base[after_scheme..].contains('/') {
                format!("{base}_keys")
            } else {
                format!("{base}/postgres_keys")
            }
        }
    };
    DatabaseUrl(format!("{keyed}{query}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(url: &str) -> String {
        default_keystore_url(&DatabaseUrl::parse(url).unwrap())
            .expose()
            .to_string()
    }

    #[test]
    fn keystore_sits_beside_the_ledger() {
        assert_eq!(keys("sqlite://waledger.db"), "sqlite://waledger.keys.db");
        assert_eq!(
            keys("sqlite:///var/lib/w/ledger.db?mode=rwc"),
            "sqlite:///var/lib/w/ledger.keys.db?mode=rwc"
        );
        assert_eq!(keys("sqlite:data/ledger"), "sqlite:data/ledger.keys");
        assert_eq!(
            keys("postgres://u:p@h:5432/waledger"),
            "postgres://u:p@h:5432/waledger_keys"
        );
        assert_eq!(
            keys("postgres://u@h/w?sslmode=disable"),
            "postgres://u@h/w_keys?sslmode=disable"
        );
    }

    #[test]
    fn passwords_are_never_printed() {
        let url = DatabaseUrl::parse("postgres://admin:s3cret@db:5432/w").unwrap();
        assert_eq!(url.to_string(), "postgres://admin:***@db:5432/w");
        assert!(!format!("{url:?}").contains("s3cret"));
        assert!(DatabaseUrl::parse("mysql://x").is_err());
    }
}
