//! Data subjects' phone numbers, normalised to E.164 with the `phonenumber` crate, and the aliases
//! under which Meta may report the same person (Brazil's ninth digit, Mexico's `1`).
//!
//! A `PhoneNumber` is personal data: it has no `Display`, its `Debug` is redacted, and the only way
//! to read it is `expose_e164()`, which the blind index and the sealing code call.

use std::fmt;
use thiserror::Error;

/// A phone number in E.164 form (`+` and digits), built only through [`PhoneNumber::parse`] or
/// [`PhoneNumber::from_wire`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

/// Why a written phone number could not be normalised. Never carries the number itself.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PhoneError {
    #[error(
        "the phone number cannot be read; write it with its country code, e.g. +44 7700 900123"
    )]
    Unparseable,
}

impl PhoneNumber {
    /// Strict parse for numbers a person types (`--phone`, HTTP bodies): any common written form
    /// with a country code (`+44 7700 900123`, `447700900123`, `+1 (415) 555-0134`).
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let trimmed = input.trim();
        let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
        let allowed = trimmed
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.'));
        if !allowed || digits.len() < 7 || digits.len() > 15 || trimmed.matches('+').count() > 1 {
            return Err(PhoneError::Unparseable);
        }
        if trimmed.contains('+') && !trimmed.starts_with('+') {
            return Err(PhoneError::Unparseable);
        }
        // Without a `+` the digits are read as international: wa_ids and most CRM exports are
        // written that way, and guessing a home region would misdeliver an erasure.
        let number =
            phonenumber::parse(None, format!("+{digits}")).map_err(|_| PhoneError::Unparseable)?;
        let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
        Ok(Self(e164))
    }

    /// Lenient parse for numbers found in Cloud API payloads (`to`, `wa_id`, `recipient_id`, …):
    /// whatever [`parse`](Self::parse) accepts, else any 7 to 15 digits taken as E.164 digits.
    /// `None` for values that are not phone numbers at all (group ids, placeholders).
    pub fn from_wire(raw: &str) -> Option<Self> {
        if let Ok(number) = Self::parse(raw) {
            return Some(number);
        }
        let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
        let only_number_chars = raw
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')'));
        (only_number_chars && (7..=15).contains(&digits.len())).then(|| Self(format!("+{digits}")))
    }

    /// The E.164 string. Personal data: callers must not log it.
    pub fn expose_e164(&self) -> &str {
        &self.0
    }

    /// This number and every form under which Meta may report the same WhatsApp user: Brazil's
    /// mobile numbers with and without the ninth digit, Mexico's with and without the legacy `1`.
    /// The first element is always `self`.
    pub fn aliases(&self) -> Vec<PhoneNumber> {
        let mut all = vec![self.clone()];
        let digits = &self.0[1..];
        if let Some(national) = digits.strip_prefix("55") {
            all.extend(brazil_alias(national).map(|n| Self(format!("+55{n}"))));
        } else if let Some(national) = digits.strip_prefix("52") {
            all.extend(mexico_alias(national).map(|n| Self(format!("+52{n}"))));
        }
        all
    }
}

/// Brazil: mobile numbers gained a leading 9 (2012-2016); WhatsApp ids outside some area codes
/// keep the old eight-digit subscriber number.
fn brazil_alias(national: &str) -> Option<String> {
    let (area, subscriber) = national.split_at_checked(2)?;
    match subscriber.len() {
        9 if subscriber.starts_with('9') => Some(format!("{area}{}", &subscriber[1..])),
        8 if subscriber.starts_with(['6', '7', '8', '9']) => Some(format!("{area}9{subscriber}")),
        _ => None,
    }
}

/// Mexico: older WhatsApp ids keep the `1` that used to follow the country code for mobiles.
fn mexico_alias(national: &str) -> Option<String> {
    match national.len() {
        11 if national.starts_with('1') => Some(national[1..].to_string()),
        10 => Some(format!("1{national}")),
        _ => None,
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PhoneNumber([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_written_forms_normalise_to_one_e164() {
        for written in [
            "+44 7700 900123",
            "447700900123",
            "+447700900123",
            "+44 (7700) 900-123",
        ] {
            assert_eq!(
                PhoneNumber::parse(written).unwrap().expose_e164(),
                "+447700900123"
            );
        }
        let us = PhoneNumber::parse("+1 (415) 555-0134").unwrap();
        assert_eq!(us.expose_e164(), "+14155550134");
    }

    #[test]
    fn unreadable_numbers_are_refused_without_echoing_them() {
        for bad in [
            "",
            "hello",
            "5",
            "+44 77OO 900123",
            "44+7700900123",
            "1234567890123456789",
        ] {
            let err = PhoneNumber::parse(bad).unwrap_err().to_string();
            assert!(bad.is_empty() || !err.contains(bad), "{err}");
        }
    }

    #[test]
    fn debug_never_shows_the_number() {
        let n = PhoneNumber::parse("+447700900123").unwrap();
        assert!(!format!("{n:?}").contains("900123"));
    }

    #[test]
    fn brazil_and_mexico_aliases_cover_meta_rewrites() {
        let br = PhoneNumber::parse("+55 92 98172 3241").unwrap();
        let forms: Vec<_> = br
            .aliases()
            .iter()
            .map(|p| p.expose_e164().to_owned())
            .collect();
        assert_eq!(forms, ["+5592981723241", "+559281723241"]);
        let br_wa = PhoneNumber::from_wire("559281723241").unwrap();
        assert!(br_wa.aliases().contains(&br));

        let mx = PhoneNumber::parse("+52 56 3969 1841").unwrap();
        let mx_wa = PhoneNumber::from_wire("5215639691841").unwrap();
        assert!(mx.aliases().contains(&mx_wa));
        assert!(mx_wa.aliases().contains(&mx));
    }

    #[test]
    fn wire_values_that_are_not_numbers_have_no_subject() {
        assert!(PhoneNumber::from_wire("fowefinoewcnw").is_none());
        assert!(PhoneNumber::from_wire("<USER_PHONE_NUMBER>").is_none());
        assert!(PhoneNumber::from_wire("16505551234").is_some());
    }
}
