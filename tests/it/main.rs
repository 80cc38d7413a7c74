//! One integration test binary (faster to link than one per file). Every store behaviour runs on
//! SQLite and, when `WALEDGER_TEST_DATABASE_URL` is set, on PostgreSQL.

mod cli;
mod erasure;
mod erasure_crash;
mod extract_fixtures;
mod helpers;
mod http;
mod ledger_roundtrip;
mod purge_crash;
mod report;
mod report_html;
mod retention;
mod robustness;
mod roundtrip;
mod scheduling;
mod tamper;
