//! `waledger simulate`: realistic synthetic Cloud API traffic, printed as ingest envelopes
//! (CONTRACT.md, "Ingest envelopes"), one JSON object per line. Owns the options, the output
//! framing and the top-level loop; each message's life is in `flow` (the send) and `followups`
//! (statuses, replies, preferences), the JSON shapes in `sends`, `templates`, `webhooks`,
//! `inbound` and `errors`, the number pool in `subjects` and `countries`. Output is a pure
//! function of the options (a seeded ChaCha8 stream, no clock, no hash-map order) and is
//! streamed: memory stays flat however many messages.

mod countries;
mod errors;
mod flow;
mod followups;
mod ids;
mod inbound;
mod sends;
mod subjects;
mod templates;
mod webhooks;
mod words;

#[cfg(test)]
mod tests;

use std::io::{self, BufWriter, Write};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimulateOptions {
    /// How many outbound sends (each followed by its webhooks).
    pub messages: u64,
    /// The rng seed: the same options give the same bytes.
    pub seed: u64,
    /// Sends are spread uniformly over the `days` days ending at `until`.
    pub days: u32,
    pub until: DateTime<Utc>,
}

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimulateSummary {
    pub messages: u64,
    pub envelopes: u64,
}

/// One simulated business number (the originator phone number id) and its WhatsApp Business
/// Account.
pub struct Business {
    pub phone_number_id: String,
    pub waba_id: String,
    /// `display_phone_number`: digits, in the unassigned +1 555 area code Meta's test numbers use.
    pub display: String,
    pub brand: &'static str,
    pub slug: &'static str,
}

/// Writes the envelopes, one JSON object per line, streaming (memory must stay flat for
/// 1,000,000 messages: never build the whole output in memory).
pub fn generate(options: &SimulateOptions, out: &mut impl Write) -> io::Result<SimulateSummary> {
    let mut sim = flow::Sim::new(options);
    let mut lines = Lines::new(out);
    for i in 0..options.messages {
        sim.message(i, &mut lines)?;
    }
    lines.out.flush()?;
    Ok(SimulateSummary {
        messages: options.messages,
        envelopes: lines.envelopes,
    })
}

/// The envelope framing. Keys are written in the contract's order (`kind` first); the bodies are
/// serialised by serde_json into one reused line buffer.
pub(crate) struct Lines<'w, W: Write> {
    out: BufWriter<&'w mut W>,
    line: Vec<u8>,
    envelopes: u64,
}

impl<'w, W: Write> Lines<'w, W> {
    fn new(out: &'w mut W) -> Self {
        Self {
            out: BufWriter::with_capacity(1 << 17, out),
            line: Vec::with_capacity(4096),
            envelopes: 0,
        }
    }

    /// `{"kind":"send","sent_at":…,"phone_number_id":…,"request":…,"response":…}`
    pub(crate) fn send(
        &mut self,
        sent_at: i64,
        phone_number_id: &str,
        request: &Value,
        response: &Value,
    ) -> io::Result<()> {
        self.line.clear();
        self.line
            .extend_from_slice(br#"{"kind":"send","sent_at":""#);
        self.line.extend_from_slice(rfc3339(sent_at).as_bytes());
        self.line.extend_from_slice(br#"","phone_number_id":"#);
        serde_json::to_writer(&mut self.line, phone_number_id)?;
        self.line.extend_from_slice(br#","request":"#);
        serde_json::to_writer(&mut self.line, request)?;
        self.line.extend_from_slice(br#","response":"#);
        serde_json::to_writer(&mut self.line, response)?;
        self.finish()
    }

    /// `{"kind":"webhook","received_at":…,"payload":…}`
    pub(crate) fn webhook(&mut self, received_at: i64, payload: &impl Serialize) -> io::Result<()> {
        self.line.clear();
        self.line
            .extend_from_slice(br#"{"kind":"webhook","received_at":""#);
        self.line.extend_from_slice(rfc3339(received_at).as_bytes());
        self.line.extend_from_slice(br#"","payload":"#);
        serde_json::to_writer(&mut self.line, payload)?;
        self.finish()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.line.extend_from_slice(b"}\n");
        self.envelopes += 1;
        self.out.write_all(&self.line)
    }
}

/// Unix seconds as an RFC 3339 UTC time (`2026-11-01T10:00:05Z`).
fn rfc3339(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .expect("simulated times lie near the requested window")
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}
