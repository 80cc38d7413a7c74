//! Retention windows: a whole number and a unit (`h`, `d`, `w`, `y` = 365 days), as CONTRACT.md
//! writes them (`"90d"`), parsed once into a `chrono::Duration`.

use chrono::Duration;
use std::fmt;
use std::str::FromStr;

/// A retention window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Window {
    amount: u32,
    unit: char,
}

impl Window {
    pub fn duration(&self) -> Duration {
        let n = i64::from(self.amount);
        match self.unit {
            'h' => Duration::hours(n),
            'd' => Duration::days(n),
            'w' => Duration::weeks(n),
            _ => Duration::days(365 * n),
        }
    }

    pub fn seconds(&self) -> i64 {
        self.duration().num_seconds()
    }
}

impl serde::Serialize for Window {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl FromStr for Window {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fix = "write a whole number and a unit: h, d, w or y (365 days), e.g. \"90d\"";
        let text = text.trim();
        let unit = text
            .chars()
            .last()
            .ok_or_else(|| format!("empty duration; {fix}"))?;
        if !matches!(unit, 'h' | 'd' | 'w' | 'y') {
            return Err(format!("bad duration '{text}'; {fix}"));
        }
        let amount: u32 = text[..text.len() - 1]
            .parse()
            .map_err(|_| format!("bad duration '{text}'; {fix}"))?;
        if amount == 0 {
            return Err(format!(
                "a window of '{text}' would purge everything at once; use at least 1h"
            ));
        }
        if amount > 100 * 365 * 24 {
            return Err(format!("'{text}' is longer than a century; {fix}"));
        }
        Ok(Self { amount, unit })
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.amount, self.unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_unit() {
        assert_eq!("36h".parse::<Window>().unwrap().seconds(), 36 * 3600);
        assert_eq!("90d".parse::<Window>().unwrap().seconds(), 90 * 86_400);
        assert_eq!("2w".parse::<Window>().unwrap().seconds(), 14 * 86_400);
        assert_eq!("1y".parse::<Window>().unwrap().seconds(), 365 * 86_400);
        assert_eq!("400d".parse::<Window>().unwrap().to_string(), "400d");
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for bad in ["", "d", "90", "90 days", "-1d", "1.5d", "0d", "90m"] {
            assert!(bad.parse::<Window>().is_err(), "{bad}");
        }
    }
}
