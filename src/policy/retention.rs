//! `policies/retention.toml` (CONTRACT.md): a window per category, optional per-field-kind
//! overrides, and the cron schedules (with a seconds field, in UTC) of the purge, erasure and
//! report jobs. Parsed once; every problem reported with its line and its fix.

use super::{line_of, PolicyError, PolicyIssue, Window};
use crate::domain::{Category, FieldKind};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use strum::IntoEnumIterator;

/// A cron expression, kept with the text it was written as.
#[derive(Debug, Clone)]
pub struct Cron {
    pub text: String,
    schedule: cron::Schedule,
}

impl Cron {
    /// The first fire time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule.after(&after).next()
    }

    /// The last fire time at or before `at`, searching back at most `horizon`. Widens the search
    /// window step by step, so a schedule that fires every second costs a minute of ticks, not a
    /// year of them.
    pub fn last_at_or_before(
        &self,
        at: DateTime<Utc>,
        horizon: chrono::Duration,
    ) -> Option<DateTime<Utc>> {
        let steps = [
            chrono::Duration::minutes(1),
            chrono::Duration::hours(1),
            chrono::Duration::days(1),
            chrono::Duration::days(32),
        ];
        for window in steps.into_iter().filter(|w| *w < horizon).chain([horizon]) {
            // `after` is exclusive: start a second earlier so `at - window` itself counts.
            let from = at - window - chrono::Duration::seconds(1);
            let found = self.schedule.after(&from).take_while(|t| *t <= at).last();
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// The next `n` fire times after `after`.
    pub fn upcoming(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        self.schedule.after(&after).take(n).collect()
    }
}

/// The three job schedules.
#[derive(Debug, Clone)]
pub struct Schedules {
    pub purge: Cron,
    pub erasures: Cron,
    pub report: Cron,
}

/// The retention policy in force.
#[derive(Debug, Clone)]
pub struct RetentionPolicy {
    pub file: PathBuf,
    /// Hex SHA-256 of the file: tombstones name the policy that removed a value.
    pub digest: String,
    windows: BTreeMap<Category, Window>,
    fields: BTreeMap<FieldKind, Window>,
    pub schedule: Schedules,
}

const SCHEDULE_DEFAULTS: [(&str, &str); 3] = [
    ("purge", "0 0 3 * * *"),
    ("erasures", "0 */15 * * * *"),
    ("report", "0 0 6 1 * *"),
];

impl RetentionPolicy {
    /// Parses and validates the file's text, collecting every problem.
    pub fn parse(file: &Path, text: &str) -> Result<Self, PolicyError> {
        let mut issues = Issues {
            file,
            text,
            found: Vec::new(),
        };
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start].matches('\n').count() + 1);
            PolicyError(vec![PolicyIssue {
                file: file.to_path_buf(),
                line,
                message: format!("not valid TOML: {}", e.message()),
            }])
        })?;
        for key in table
            .keys()
            .filter(|k| !["windows", "fields", "schedule"].contains(&k.as_str()))
        {
            issues.add(
                key,
                "",
                format!("unknown section [{key}] (expected windows, fields, schedule)"),
            );
        }
        let windows = read_windows(&table, &mut issues);
        let fields = read_fields(&table, &mut issues);
        let schedule = read_schedules(&table, &mut issues);
        if !issues.found.is_empty() {
            return Err(PolicyError(issues.found));
        }
        Ok(Self {
            file: file.to_path_buf(),
            digest: hex::encode(crate::crypto::sha256(&[text.as_bytes()])),
            windows,
            fields,
            schedule: schedule.expect("schedules are set when there are no issues"),
        })
    }

    /// The window that applies to a field kind: its override, else its category's window.
    pub fn window_for(&self, kind: FieldKind) -> Window {
        self.fields
            .get(&kind)
            .copied()
            .unwrap_or_else(|| self.windows[&kind.category()])
    }

    /// Whether the kind has an override of its own.
    pub fn is_overridden(&self, kind: FieldKind) -> bool {
        self.fields.contains_key(&kind)
    }

    /// Entries of `kind` that occurred at or before this instant are due at `now`
    /// (`occurred_at + window <= now`).
    pub fn cutoff(&self, kind: FieldKind, now: i64) -> i64 {
        now - self.window_for(kind).seconds()
    }

    pub fn is_due(&self, kind: FieldKind, occurred_at: i64, now: i64) -> bool {
        occurred_at <= self.cutoff(kind, now)
    }
}

struct Issues<'a> {
    file: &'a Path,
    text: &'a str,
    found: Vec<PolicyIssue>,
}

impl Issues<'_> {
    fn add(&mut self, section: &str, key: &str, message: String) {
        let line = line_of(self.text, section, key).or_else(|| line_of(self.text, section, ""));
        self.found.push(PolicyIssue {
            file: self.file.to_path_buf(),
            line,
            message,
        });
    }
}

fn section<'t>(table: &'t toml::Table, name: &str, issues: &mut Issues) -> Option<&'t toml::Table> {
    match table.get(name) {
        None => None,
        Some(toml::Value::Table(t)) => Some(t),
        Some(_) => {
            issues.add(
                name,
                "",
                format!("`{name}` must be a section: write [{name}] on a line of its own"),
            );
            None
        }
    }
}

fn window_value(
    section_name: &str,
    key: &str,
    value: &toml::Value,
    issues: &mut Issues,
) -> Option<Window> {
    let Some(text) = value.as_str() else {
        issues.add(
            section_name,
            key,
            format!("the window of '{key}' must be a quoted duration such as \"90d\""),
        );
        return None;
    };
    text.parse()
        .map_err(|e| issues.add(section_name, key, e))
        .ok()
}

fn read_windows(table: &toml::Table, issues: &mut Issues) -> BTreeMap<Category, Window> {
    let mut windows = BTreeMap::new();
    let names = Category::iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let Some(raw) = section(table, "windows", issues) else {
        issues.found.push(PolicyIssue {
            file: issues.file.to_path_buf(),
            line: None,
            message: format!("missing [windows]; add one window per category ({names}), e.g. phone_number = \"90d\""),
        });
        return windows;
    };
    for (key, value) in raw {
        match Category::from_str(key) {
            Ok(category) => {
                if let Some(w) = window_value("windows", key, value, issues) {
                    windows.insert(category, w);
                }
            }
            Err(_) => issues.add(
                "windows",
                key,
                format!("unknown category '{key}' (expected one of: {names})"),
            ),
        }
    }
    for category in Category::iter().filter(|c| !raw.contains_key(c.as_ref())) {
        issues.add(
            "windows",
            "",
            format!(
                "missing window for category '{category}'; add {category} = \"…d\" under [windows]"
            ),
        );
    }
    windows
}

fn read_fields(table: &toml::Table, issues: &mut Issues) -> BTreeMap<FieldKind, Window> {
    let mut fields = BTreeMap::new();
    let Some(raw) = section(table, "fields", issues) else {
        return fields;
    };
    for (key, value) in raw {
        match FieldKind::from_str(key) {
            Ok(kind) => {
                if let Some(w) = window_value("fields", key, value, issues) {
                    fields.insert(kind, w);
                }
            }
            Err(_) => {
                let names = FieldKind::iter()
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                issues.add(
                    "fields",
                    key,
                    format!("unknown field kind '{key}' (expected one of: {names})"),
                );
            }
        }
    }
    fields
}

fn read_schedules(table: &toml::Table, issues: &mut Issues) -> Option<Schedules> {
    let raw = section(table, "schedule", issues)
        .cloned()
        .unwrap_or_default();
    for key in raw
        .keys()
        .filter(|k| !SCHEDULE_DEFAULTS.iter().any(|(name, _)| name == k))
    {
        issues.add(
            "schedule",
            key,
            format!("unknown schedule '{key}' (expected purge, erasures, report)"),
        );
    }
    let mut read = |name: &str, default: &str| -> Option<Cron> {
        let text = match raw.get(name) {
            None => default.to_string(),
            Some(toml::Value::String(s)) => s.clone(),
            Some(_) => {
                issues.add("schedule", name, format!("the '{name}' schedule must be a quoted cron expression such as \"{default}\""));
                return None;
            }
        };
        match cron::Schedule::from_str(&text) {
            Ok(schedule) => Some(Cron { text, schedule }),
            Err(_) => {
                issues.add(
                    "schedule",
                    name,
                    format!("bad cron expression '{text}' for '{name}'; write six fields with seconds first, in UTC, e.g. \"{default}\""),
                );
                None
            }
        }
    };
    let [purge, erasures, report] = SCHEDULE_DEFAULTS.map(|(name, default)| read(name, default));
    Some(Schedules {
        purge: purge?,
        erasures: erasures?,
        report: report?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "[windows]\nphone_number = \"90d\"\ntext = \"30d\"\nmedia = \"30d\"\nmetadata = \"400d\"\n\n[fields]\nmessage_status = \"2y\"\n\n[schedule]\npurge = \"0 0 3 * * *\"\n";

    fn parse(text: &str) -> Result<RetentionPolicy, PolicyError> {
        RetentionPolicy::parse(Path::new("policies/retention.toml"), text)
    }

    #[test]
    fn overrides_win_over_categories() {
        let p = parse(GOOD).unwrap();
        assert_eq!(p.window_for(FieldKind::MessageStatus).to_string(), "2y");
        assert_eq!(p.window_for(FieldKind::MessageId).to_string(), "400d");
        assert_eq!(p.window_for(FieldKind::RecipientPhone).to_string(), "90d");
    }

    #[test]
    fn due_exactly_at_the_window_and_not_a_second_before() {
        let p = parse(GOOD).unwrap();
        let occurred = 1_700_000_000;
        let window = 30 * 86_400;
        assert!(p.is_due(FieldKind::MessageText, occurred, occurred + window));
        assert!(!p.is_due(FieldKind::MessageText, occurred, occurred + window - 1));
    }

    #[test]
    fn every_problem_is_one_line_with_its_line_number_and_fix() {
        let bad = "[windows]\nphone_nmber = \"90d\"\ntext = \"30 days\"\nmedia = \"30d\"\n\n[fields]\nmesage_text = \"1d\"\n\n[schedule]\npurge = \"every night\"\n";
        let err = parse(bad).unwrap_err();
        let lines: Vec<String> = err.0.iter().map(ToString::to_string).collect();
        assert!(lines.contains(&"policies/retention.toml: line 2: unknown category 'phone_nmber' (expected one of: phone_number, text, media, metadata)".to_string()), "{lines:#?}");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("policies/retention.toml: line 3: bad duration '30 days'")),
            "{lines:#?}"
        );
        assert!(
            lines.iter().any(|l| l
                .starts_with("policies/retention.toml: line 7: unknown field kind 'mesage_text'")),
            "{lines:#?}"
        );
        assert!(
            lines.iter().any(|l| l.starts_with(
                "policies/retention.toml: line 10: bad cron expression 'every night'"
            )),
            "{lines:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("missing window for category 'phone_number'")),
            "{lines:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("missing window for category 'metadata'")),
            "{lines:#?}"
        );
    }

    #[test]
    fn a_missing_windows_section_and_bad_toml_are_refused() {
        assert!(parse("[schedule]\npurge = \"0 0 3 * * *\"\n")
            .unwrap_err()
            .to_string()
            .contains("missing [windows]"));
        let err = parse("[windows\nx = 1").unwrap_err();
        assert_eq!(err.0[0].line, Some(1));
    }

    #[test]
    fn schedules_fire_at_the_right_utc_instants() {
        let p = parse(GOOD).unwrap();
        let at = DateTime::parse_from_rfc3339("2026-11-26T02:59:59Z")
            .unwrap()
            .to_utc();
        let next: Vec<String> = p
            .schedule
            .purge
            .upcoming(at, 3)
            .iter()
            .map(|t| t.to_rfc3339())
            .collect();
        assert_eq!(
            next,
            [
                "2026-11-26T03:00:00+00:00",
                "2026-11-27T03:00:00+00:00",
                "2026-11-28T03:00:00+00:00"
            ]
        );
        let erasures = p.schedule.erasures.next_after(at).unwrap();
        assert_eq!(erasures.to_rfc3339(), "2026-11-26T03:00:00+00:00");
        let last = p
            .schedule
            .purge
            .last_at_or_before(at, chrono::Duration::days(2))
            .unwrap();
        assert_eq!(last.to_rfc3339(), "2026-11-25T03:00:00+00:00");
        let exactly = DateTime::parse_from_rfc3339("2026-11-26T03:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            p.schedule
                .purge
                .last_at_or_before(exactly, chrono::Duration::days(2)),
            Some(exactly)
        );
        let every_second = parse(&GOOD.replace("0 0 3 * * *", "* * * * * *")).unwrap();
        let started = std::time::Instant::now();
        let year = chrono::Duration::days(400);
        assert_eq!(
            every_second.schedule.purge.last_at_or_before(at, year),
            Some(at)
        );
        assert!(
            started.elapsed() < std::time::Duration::from_millis(200),
            "a frequent schedule must not scan a year"
        );
    }
}
