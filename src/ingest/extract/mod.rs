//! Extraction of every transmitted value from the real Cloud API shapes into `FieldValue`s
//! (the contract's field-kind table). Pure: no I/O, no keys, time comes from the envelope.

use super::envelope::{Envelope, EnvelopeError};
use crate::domain::{FieldValue, PhoneNumber};

/// Everything one envelope contributes to the ledger.
#[derive(Debug, Default)]
pub struct Extracted {
    pub fields: Vec<FieldValue>,
    /// Groups of numbers that are the same person (a send's `to`, `contacts[].input` and
    /// `contacts[].wa_id`; a `user_changed_number` system message's old and new number).
    pub same_person: Vec<Vec<PhoneNumber>>,
}

/// Extracts every field of one envelope.
pub fn extract(_envelope: &Envelope) -> Result<Extracted, EnvelopeError> {
    Ok(Extracted::default())
}
