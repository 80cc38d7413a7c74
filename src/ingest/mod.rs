//! Ingest: reads envelopes (JSON Lines from files, stdin or HTTP), extracts every transmitted
//! value, and records each envelope whole or not at all, many envelopes per transaction.

pub mod envelope;
pub mod extract;
pub mod run;

pub use envelope::{Envelope, EnvelopeError};
pub use extract::{extract, Extracted};
pub use run::{prepare, prepare_envelope, IngestSummary, Ingestor, RejectedLine};
