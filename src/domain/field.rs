//! The closed sets of the contract: field kinds, the retention category each belongs to, the
//! direction of a flow and the state of an entry. Their string forms are fixed (CONTRACT.md) and
//! are what the chain hashes, so they must never change once released.

use serde::{Deserialize, Serialize};
use strum::{AsRefStr, Display, EnumIter, EnumString, IntoStaticStr};

/// Every kind of value that crosses the boundary with Meta. Names are fixed by the contract.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    Display,
    EnumString,
    AsRefStr,
    IntoStaticStr,
    EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum FieldKind {
    RecipientPhone,
    SenderPhone,
    UserId,
    ProfileName,
    MessageText,
    TemplateField,
    Location,
    ContactCard,
    Media,
    Attachment,
    TemplateId,
    OriginatorPhoneId,
    MessageId,
    MessageStatus,
    Pricing,
    ErrorDetail,
    OptOut,
}

impl FieldKind {
    /// The retention category the contract assigns to this kind.
    pub fn category(self) -> Category {
        use FieldKind::*;
        match self {
            RecipientPhone | SenderPhone | UserId => Category::PhoneNumber,
            ProfileName | MessageText | TemplateField | Location | ContactCard | ErrorDetail => {
                Category::Text
            }
            Media | Attachment => Category::Media,
            TemplateId | OriginatorPhoneId | MessageId | MessageStatus | Pricing | OptOut => {
                Category::Metadata
            }
        }
    }
}

/// Retention categories: each has one window in `policies/retention.toml`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    Display,
    EnumString,
    AsRefStr,
    IntoStaticStr,
    EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Category {
    PhoneNumber,
    Text,
    Media,
    Metadata,
}

/// Which way a value crossed: to Meta (`outbound`) or from Meta (`inbound`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    Display,
    EnumString,
    AsRefStr,
    IntoStaticStr,
    EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Direction {
    Outbound,
    Inbound,
}

/// Whether an entry's value is still stored.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    Display,
    EnumString,
    AsRefStr,
    IntoStaticStr,
    EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum EntryState {
    /// The value is stored, encrypted, and can be decrypted.
    Held,
    /// The value was removed by the retention policy.
    Purged,
    /// The value was removed by an erasure request.
    Erased,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;
    use strum::IntoEnumIterator;

    #[test]
    fn string_forms_round_trip_and_match_the_contract() {
        for kind in FieldKind::iter() {
            let text = kind.to_string();
            assert_eq!(FieldKind::from_str(&text).unwrap(), kind);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{text}\""));
        }
        assert_eq!(FieldKind::OriginatorPhoneId.as_ref(), "originator_phone_id");
        assert_eq!(Category::PhoneNumber.as_ref(), "phone_number");
    }

    #[test]
    fn categories_follow_the_contract_table() {
        assert_eq!(FieldKind::UserId.category(), Category::PhoneNumber);
        assert_eq!(FieldKind::ErrorDetail.category(), Category::Text);
        assert_eq!(FieldKind::Attachment.category(), Category::Media);
        assert_eq!(FieldKind::OptOut.category(), Category::Metadata);
        assert_eq!(FieldKind::iter().count(), 17);
    }
}
