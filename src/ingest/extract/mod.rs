//! Extraction of every transmitted value from the real Cloud API shapes into `FieldValue`s
//! (the contract's field-kind table). Pure: no I/O, no keys, time comes from the envelope.
//!
//! `send` reads a send call (request outbound, response inbound), `template` and `interactive` the
//! two rich outbound message types, `webhook` walks a notification's entries and changes,
//! `status` reads delivery statuses and `inbound` the content of received (and echoed) messages.
//! `collector` holds the output and the current scope; `values` the JSON readers. No input can
//! make extraction panic: unexpected shapes are skipped or kept under the nearest kind.

mod collector;
mod inbound;
mod interactive;
mod send;
mod status;
mod template;
mod values;
mod webhook;

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
pub fn extract(envelope: &Envelope) -> Result<Extracted, EnvelopeError> {
    match envelope {
        Envelope::Send {
            sent_at,
            phone_number_id,
            request,
            response,
        } => Ok(send::extract(
            *sent_at,
            phone_number_id,
            request,
            response.as_ref(),
        )),
        Envelope::Webhook {
            received_at,
            payload,
        } => webhook::extract(*received_at, payload),
    }
}
