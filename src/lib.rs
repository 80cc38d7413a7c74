//! waledger: an encrypted, tamper-evident ledger of every field a business sends to and receives
//! from Meta's WhatsApp Cloud API, with retention, erasure and audit reports built on it.
//!
//! Dependencies point inward: `cli` (the edge) → capabilities (`ingest`, `simulate`) →
//! mechanisms (`ledger`, `crypto`, `store`) → `domain` (pure types).

pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod erasure;
pub mod http;
pub mod ingest;
pub mod ledger;
pub mod policy;
pub mod report;
pub mod retention;
pub mod scheduler;
pub mod simulate;
pub mod store;
pub mod telemetry;
