//! The report as text: a terminal table (tabled), CSV (one row per flow), and Markdown.

use super::model::{Flow, Report};
use std::fmt::Write as _;
use tabled::settings::Style;
use tabled::{Table, Tabled};

#[derive(Tabled)]
struct FlowRow {
    field: String,
    direction: String,
    category: String,
    documented: String,
    retention: String,
    recorded: u64,
    held: u64,
    purged: u64,
    erased: u64,
    #[tabled(rename = "past window")]
    past_window: u64,
    compliant: String,
}

fn yes(b: bool) -> String {
    if b { "yes" } else { "NO" }.to_string()
}

impl From<&Flow> for FlowRow {
    fn from(f: &Flow) -> Self {
        Self {
            field: f.field.to_string(),
            direction: f.direction.to_string(),
            category: f.category.to_string(),
            documented: yes(f.documented),
            retention: f.retention.clone(),
            recorded: f.recorded,
            held: f.held,
            purged: f.purged,
            erased: f.erased,
            past_window: f.held_past_window,
            compliant: yes(f.compliant),
        }
    }
}

fn headline(r: &Report) -> Vec<String> {
    let e = &r.erasures;
    let i = &r.integrity;
    let verified = match (i.verified, i.verified_at) {
        (Some(true), Some(at)) => format!(
            "intact (verified {at}, {} entries since)",
            i.entries_since_verification
        ),
        (Some(false), Some(at)) => format!(
            "TAMPERED: verify failed at entry {} ({at})",
            i.first_bad_seq.unwrap_or_default()
        ),
        _ => "never verified: run `waledger verify`".to_string(),
    };
    vec![
        format!("period: {} to {}", r.period.from, r.period.to),
        format!(
            "overall: {} ({} flows, {} undocumented, {} not compliant)",
            if r.summary.compliant { "compliant" } else { "NOT compliant" },
            r.summary.flows,
            r.summary.undocumented_flows,
            r.summary.non_compliant_flows
        ),
        format!(
            "erasure requests: {} received, {} on time, {} late, {} pending ({} overdue), {} refused",
            e.received, e.completed_on_time, e.completed_late, e.pending, e.overdue, e.refused
        ),
        format!("legal holds in force: {}", r.holds.in_force),
        format!("ledger: {verified}"),
    ]
}

/// A terminal table of the flows and the headline figures.
pub fn table(r: &Report) -> String {
    let mut out = headline(r).join("\n");
    let mut table = Table::new(r.flows.iter().map(FlowRow::from));
    table.with(Style::rounded());
    let _ = write!(out, "\n{table}\n");
    out
}

/// One CSV row per flow.
pub fn csv(r: &Report) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "field",
        "direction",
        "category",
        "documented",
        "flow",
        "terms",
        "retention",
        "recorded",
        "held",
        "purged",
        "erased",
        "held_past_window",
        "oldest_held_age_days",
        "compliant",
        "meta_retention",
        "meta_copy_outlives_ours_days",
    ])?;
    for f in &r.flows {
        let terms: Vec<String> = f
            .terms
            .iter()
            .map(|t| format!("{:?}: {}", t.owner, t.document))
            .collect();
        w.write_record([
            f.field.to_string(),
            f.direction.to_string(),
            f.category.to_string(),
            f.documented.to_string(),
            f.name.clone().unwrap_or_default(),
            terms.join("; "),
            f.retention.clone(),
            f.recorded.to_string(),
            f.held.to_string(),
            f.purged.to_string(),
            f.erased.to_string(),
            f.held_past_window.to_string(),
            f.oldest_held_age_days
                .map(|d| d.to_string())
                .unwrap_or_default(),
            f.compliant.to_string(),
            f.meta_retention.clone().unwrap_or_default(),
            f.meta_copy_outlives_ours_days
                .map(|d| d.to_string())
                .unwrap_or_default(),
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8(bytes).expect("CSV of UTF-8 fields is UTF-8"))
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The report as Markdown.
pub fn markdown(r: &Report) -> String {
    let mut out = String::from("# WhatsApp data-flow compliance report\n\n");
    for line in headline(r) {
        let _ = writeln!(out, "- {}", cell(&line));
    }
    out.push_str("\n## Flows\n\n| field | direction | documented | governing terms | retention | recorded | held | purged | erased | past window | compliant |\n|---|---|---|---|---|---:|---:|---:|---:|---:|---|\n");
    for f in &r.flows {
        let terms: Vec<String> = f
            .terms
            .iter()
            .map(|t| format!("[{}]({})", cell(&t.document), t.url))
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            f.field,
            f.direction,
            yes(f.documented),
            terms.join(", "),
            f.retention,
            f.recorded,
            f.held,
            f.purged,
            f.erased,
            f.held_past_window,
            yes(f.compliant)
        );
    }
    let undocumented: Vec<&Flow> = r.flows.iter().filter(|f| !f.documented).collect();
    if !undocumented.is_empty() {
        out.push_str("\n## Flows the published data-flow page does not list\n\n");
        for f in undocumented {
            let _ = writeln!(
                out,
                "- `{}` ({}): {} values recorded in the period",
                f.field, f.direction, f.recorded
            );
        }
    }
    out.push_str("\n## Retention: ours and Meta's\n\n| category | ours (longest) | Meta | source |\n|---|---|---|---|\n");
    for c in &r.retention {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            c.category,
            c.ours,
            c.meta.as_deref().unwrap_or("-"),
            cell(c.meta_document.as_deref().unwrap_or("-"))
        );
    }
    let e = &r.erasures;
    let hours = |h: Option<f64>| h.map_or("-".to_string(), |h| format!("{h} h"));
    let _ = write!(
        out,
        "\n## Erasure requests\n\n| received | on time | late | pending | overdue | refused | median | slowest |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n| {} | {} | {} | {} | {} | {} | {} | {} |\n",
        e.received, e.completed_on_time, e.completed_late, e.pending, e.overdue, e.refused,
        hours(e.median_hours_to_complete), hours(e.slowest_hours_to_complete)
    );
    let _ = write!(out, "\n## Legal holds in force: {}\n", r.holds.in_force);
    for h in &r.holds.holds {
        let _ = writeln!(
            out,
            "- `{}` since {}{}",
            h.id,
            h.from,
            h.until.map(|u| format!(" until {u}")).unwrap_or_default()
        );
    }
    let i = &r.integrity;
    let _ = write!(
        out,
        "\n## Integrity\n\n- chain head: entry {}\n- last signed checkpoint: {}\n",
        i.chain_head_seq,
        match (i.checkpoint_seq, i.checkpoint_in_chain) {
            (Some(seq), Some(true)) => format!(
                "entry {seq}, still in the chain (key {})",
                i.checkpoint_key_id.as_deref().unwrap_or("?")
            ),
            (Some(seq), _) => format!("entry {seq}, NOT in the chain any more"),
            _ => "none".to_string(),
        }
    );
    out
}
