//! How the admin command line speaks: JSON of what each command did, with money as
//! decimal amounts and times as ISO 8601 in UTC, and amounts read the same way.
//!
//! The wire counts money in cents (`*_cents`, and a money quota's `limit`, `used`,
//! `reserved`, `remaining`) and times in Unix milliseconds (`*_ms`); this is the one
//! place that turns them into what a person reads, for every command alike:
//! `"credit_cents": 2050` is shown `"credit": "20.50"` (a string, so that no amount is
//! ever rounded by a JSON reader) and `"expires_at_ms": 1796126400000` is shown
//! `"expires_at": "2026-12-01T12:00:00Z"`. Page counts stay whole numbers.

use anyhow::Context;
use serde::Serialize;
use serde_json::{Map, Value};

use ream_server::clock::iso8601;

/// Prints `value` as a person reads it (see the module's header).
pub fn print<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let value = for_people(serde_json::to_value(value)?);
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}

/// Cents as a decimal amount: `2050` → `"20.50"`, `-125` → `"-1.25"`.
pub fn amount(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// `12.5` → 1250 cents: digits, at most two decimals; a leading `-` for adjustments.
pub fn parse_amount(s: &str) -> anyhow::Result<i64> {
    let bad = || anyhow::anyhow!("{s:?} is not an amount like 5, 5.5 or 5.50");
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 2
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let frac: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
    let cents = whole.checked_mul(100).and_then(|w| w.checked_add(frac)).ok_or_else(bad)?;
    Ok(if neg { -cents } else { cents })
}

/// A whole, non-negative number of pages.
pub fn parse_pages(s: &str) -> anyhow::Result<i64> {
    let pages: i64 = s
        .parse()
        .ok()
        .filter(|p| *p >= 0)
        .with_context(|| format!("{s:?} is not a number of pages (a whole number, 0 or more)"))?;
    Ok(pages)
}

/// The JSON of the wire turned into what a person reads: money and times as above.
pub fn for_people(value: Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(for_people).collect()),
        Value::Object(fields) => {
            let money_quota = fields.get("metric").and_then(Value::as_str) == Some("money");
            let mut out = Map::new();
            for (key, value) in fields {
                let (key, value) = if let Some(name) = key.strip_suffix("_cents") {
                    (name.to_string(), map_number(value, |c| Value::String(amount(c))))
                } else if let Some(name) = key.strip_suffix("_ms") {
                    (name.to_string(), map_number(value, |t| Value::String(iso8601(t))))
                } else if money_quota && matches!(key.as_str(), "limit" | "used" | "reserved" | "remaining") {
                    (key, map_number(value, |c| Value::String(amount(c))))
                } else {
                    (key, for_people(value))
                };
                out.insert(key, value);
            }
            Value::Object(out)
        }
        other => other,
    }
}

/// An integer through `f`; anything else (null: no such time) as it is.
fn map_number(value: Value, f: impl Fn(i64) -> Value) -> Value {
    match value.as_i64() {
        Some(n) => f(n),
        None => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn amounts_parse_to_cents() {
        for (text, cents) in [
            ("5", 500),
            ("5.5", 550),
            ("5.50", 550),
            ("5.05", 505),
            ("30", 3_000),
            ("-1.25", -125),
            ("+2", 200),
            ("0.01", 1),
        ] {
            assert_eq!(parse_amount(text).unwrap(), cents, "{text}");
        }
        for bad in ["", "1.234", "abc", "1,5", "-", ".5", "1e3", "99999999999999999999"] {
            assert!(parse_amount(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn amounts_read_back_as_they_were_written() {
        for (cents, text) in [(0, "0.00"), (5, "0.05"), (2_050, "20.50"), (-125, "-1.25"), (3_000, "30.00")] {
            assert_eq!(amount(cents), text);
            assert_eq!(parse_amount(text).unwrap(), cents);
        }
    }

    #[test]
    fn pages_are_whole_numbers() {
        assert_eq!(parse_pages("30").unwrap(), 30);
        for bad in ["30.5", "-1", "", "x"] {
            assert!(parse_pages(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn money_and_times_are_shown_for_people() {
        let wire = json!([
            {"username": "alice", "credit_cents": 2050, "cards": [{"id": "c", "created_at_ms": 0}]},
            {"metric": "money", "limit": 3000, "used": 5, "reserved": 0, "remaining": 2995,
             "period_start_ms": null},
            {"metric": "total_pages", "limit": 500, "used": 3},
        ]);
        assert_eq!(
            for_people(wire),
            json!([
                {"username": "alice", "credit": "20.50", "cards": [{"id": "c", "created_at": "1970-01-01T00:00:00Z"}]},
                {"metric": "money", "limit": "30.00", "used": "0.05", "reserved": "0.00", "remaining": "29.95",
                 "period_start": null},
                {"metric": "total_pages", "limit": 500, "used": 3},
            ])
        );
    }
}
