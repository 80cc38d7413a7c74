//! Policies a DPO edits, in TOML under `policies/`: loaded and validated once into typed values.
//! Every problem in a file is collected and reported as one line each that names the file, the
//! line and the fix (`policies/retention.toml: line 12: unknown category 'phone_nmber' …`).
//! Evaluation is pure: nothing here reads the clock or touches storage.

mod catalogue;
mod retention;
mod window;

pub use catalogue::{
    Catalogue, Document, DocumentedFlow, MetaRetention, Owner, DEFAULT_FLOWS, DEFAULT_TERMS,
};
pub use retention::{Cron, RetentionPolicy, Schedules};
pub use window::Window;

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in a policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyIssue {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for PolicyIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}: line {line}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// Every problem found in the policy files (never empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError(pub Vec<PolicyIssue>);

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

/// The policies in force.
#[derive(Debug, Clone)]
pub struct Policies {
    pub retention: RetentionPolicy,
    pub catalogue: Catalogue,
    /// Catalogue files missing from the folder, for which the shipped ones are in force.
    pub shipped_catalogues: Vec<PathBuf>,
}

impl Policies {
    /// A retention policy with the shipped catalogues.
    pub fn new(retention: RetentionPolicy) -> Self {
        let catalogue = Catalogue::parse(
            Path::new("terms.toml"),
            DEFAULT_TERMS,
            Path::new("data_flows.toml"),
            DEFAULT_FLOWS,
        )
        .expect("the shipped catalogues are valid");
        Self {
            retention,
            catalogue,
            shipped_catalogues: Vec::new(),
        }
    }

    /// Loads the policy folder (`policies/` by default), or a retention file and the catalogues
    /// beside it. Problems in every file are reported together.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let (file, folder) = if path.is_dir() {
            (path.join("retention.toml"), path.to_path_buf())
        } else {
            let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
            (path.to_path_buf(), folder)
        };
        let retention = std::fs::read_to_string(&file)
            .map_err(|e| {
                PolicyError(vec![PolicyIssue {
                    file: file.clone(),
                    line: None,
                    message: if path.exists() {
                        format!("cannot read it ({e}); check its permissions")
                    } else {
                        format!("not found ({e}); run `waledger init` to write the default policies, or point --policies at yours")
                    },
                }])
            })
            .and_then(|text| RetentionPolicy::parse(&file, &text));
        let catalogue = Catalogue::load(&folder);
        match (retention, catalogue) {
            (Ok(retention), Ok((catalogue, shipped_catalogues))) => Ok(Self {
                retention,
                catalogue,
                shipped_catalogues,
            }),
            (Err(a), Err(b)) => Err(PolicyError([a.0, b.0].concat())),
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    }
}

/// The retention policy shipped with waledger, for `serve` on a fresh checkout.
pub const DEFAULT_RETENTION: &str = include_str!("../../policies/retention.toml");

/// The line (1-based) of `key = …` inside `[section]`, for error messages.
pub(crate) fn line_of(text: &str, section: &str, key: &str) -> Option<usize> {
    let mut current = String::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            current = name.trim().to_string();
            if key.is_empty() && current == section {
                return Some(i + 1);
            }
            continue;
        }
        let Some((k, _)) = line.split_once('=') else {
            continue;
        };
        if current == section && k.trim().trim_matches('"') == key {
            return Some(i + 1);
        }
    }
    None
}
