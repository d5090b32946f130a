//! How ASSS interprets setting strings (docs/protocol/config.md §3.3).

/// C `isspace` in the "C" locale.
pub(crate) fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// Parses the longest integer prefix of `s` the way C `strtol(s, &end, 0)`
/// does on a platform with a 64-bit `long`: leading whitespace, an optional
/// sign, then `0x`/`0X` hex, a leading `0` for octal, or decimal. Stops at
/// the first character that is not a digit of the base. Out-of-range values
/// saturate at the `i64` limits.
///
/// Returns `None` if no digit was consumed (strtol's "no conversion").
pub fn strtol(s: &str) -> Option<i64> {
    strtol_end(s).map(|(v, _)| v)
}

/// [`strtol`] that also returns the byte index where parsing stopped.
fn strtol_end(s: &str) -> Option<(i64, usize)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && is_c_space(b[i] as char) {
        i += 1;
    }
    let negative = match b.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let radix: u32 = if b.get(i) == Some(&b'0') {
        // "0x" only counts as a prefix when a hex digit follows; otherwise
        // strtol parses the "0" and stops at the 'x'.
        if matches!(b.get(i + 1), Some(b'x' | b'X'))
            && b.get(i + 2).is_some_and(|c| c.is_ascii_hexdigit())
        {
            i += 2;
            16
        } else {
            8
        }
    } else {
        10
    };
    let mut value: i64 = 0;
    let mut any = false;
    while let Some(d) = b.get(i).and_then(|&c| (c as char).to_digit(radix)) {
        any = true;
        let d = i64::from(d);
        // Accumulate negatively so that i64::MIN is reachable, saturating.
        value = value
            .checked_mul(i64::from(radix))
            .and_then(|v| v.checked_sub(d))
            .unwrap_or(i64::MIN);
        i += 1;
    }
    if !any {
        return None;
    }
    let value = if negative {
        value
    } else {
        value.checked_neg().unwrap_or(i64::MAX)
    };
    Some((value, i))
}

/// Parses a whole setting string as an integer, strictly: like [`strtol`]
/// (decimal, `0x` hex, leading-`0` octal, optional sign, surrounding
/// whitespace) but the whole value must be the number. `None` for anything
/// else (`abc`, `12abc`, `yes`, the empty string). Values beyond `i64`
/// saturate, so a range check catches them.
pub fn parse_int_strict(value: &str) -> Option<i64> {
    let (v, end) = strtol_end(value)?;
    value[end..].chars().all(is_c_space).then_some(v)
}

/// Parses a whole setting string as a boolean, strictly: an integer (0 is
/// false, anything else true), or (case-insensitive) `yes`/`y`/`on`/`true`
/// or `no`/`n`/`off`/`false`. `None` for anything else.
pub fn parse_bool_strict(value: &str) -> Option<bool> {
    if let Some(n) = parse_int_strict(value) {
        return Some(n != 0);
    }
    let word = value.trim_matches(is_c_space).to_ascii_lowercase();
    match word.as_str() {
        "yes" | "y" | "on" | "true" => Some(true),
        "no" | "n" | "off" | "false" => Some(false),
        _ => None,
    }
}

/// The integer value of a setting string, as ASSS `GetInt` computes it:
/// `strtol(value, 0)` truncated to 32 bits (C `long` → `int`); if no digits
/// parse, 1 when the value starts with `y`/`Y`, else 0.
pub fn parse_int(value: &str) -> i32 {
    match strtol(value) {
        // Truncation (not saturation) is what the C cast does.
        Some(v) => v as i32,
        None => i32::from(value.starts_with(['y', 'Y'])),
    }
}

/// Parses an enum setting like ASSS's `DEFINE_FROM_STRING` helpers: a value
/// starting with a decimal digit is read with `atoi`; otherwise an optional
/// leading `$` is dropped and the rest is compared case-insensitively with
/// `names`. Anything else yields `default`.
pub fn parse_enum(value: &str, names: &[(&str, i32)], default: i32) -> i32 {
    if value.starts_with(|c: char| c.is_ascii_digit()) {
        return strtol_decimal(value);
    }
    let name = value.strip_prefix('$').unwrap_or(value);
    names
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map_or(default, |&(_, v)| v)
}

/// C `atoi` for a string that starts with a digit: decimal, truncated to
/// 32 bits.
fn strtol_decimal(value: &str) -> i32 {
    let digits: &str = value
        .find(|c: char| !c.is_ascii_digit())
        .map_or(value, |end| &value[..end]);
    let mut v: i64 = 0;
    for d in digits.bytes() {
        v = v.saturating_mul(10).saturating_add(i64::from(d - b'0'));
    }
    v as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtol_forms() {
        assert_eq!(strtol("42"), Some(42));
        assert_eq!(strtol("  -17xyz"), Some(-17));
        assert_eq!(strtol("+5"), Some(5));
        assert_eq!(strtol("0x1F"), Some(31));
        assert_eq!(strtol("0X1f"), Some(31));
        assert_eq!(strtol("-0x10"), Some(-16));
        assert_eq!(strtol("010"), Some(8));
        assert_eq!(strtol("09"), Some(0));
        assert_eq!(strtol("0x"), Some(0));
        assert_eq!(strtol("0xg"), Some(0));
        assert_eq!(strtol("0"), Some(0));
        assert_eq!(strtol("5 - 7"), Some(5));
        assert_eq!(strtol(""), None);
        assert_eq!(strtol("-"), None);
        assert_eq!(strtol("yes"), None);
        assert_eq!(strtol(" \t"), None);
        assert_eq!(strtol("99999999999999999999999"), Some(i64::MAX));
        assert_eq!(strtol("-99999999999999999999999"), Some(i64::MIN));
        assert_eq!(strtol("-9223372036854775808"), Some(i64::MIN));
    }

    #[test]
    fn strict_ints() {
        assert_eq!(parse_int_strict("42"), Some(42));
        assert_eq!(parse_int_strict(" -7 \t"), Some(-7));
        assert_eq!(parse_int_strict("0x10"), Some(16));
        assert_eq!(parse_int_strict("010"), Some(8));
        assert_eq!(parse_int_strict("abc"), None);
        assert_eq!(parse_int_strict("12abc"), None);
        assert_eq!(parse_int_strict("5 7"), None);
        assert_eq!(parse_int_strict("yes"), None);
        assert_eq!(parse_int_strict(""), None);
        assert_eq!(parse_int_strict("99999999999999999999"), Some(i64::MAX));
    }

    #[test]
    fn strict_bools() {
        assert_eq!(parse_bool_strict("1"), Some(true));
        assert_eq!(parse_bool_strict("0"), Some(false));
        assert_eq!(parse_bool_strict("Yes"), Some(true));
        assert_eq!(parse_bool_strict("false"), Some(false));
        assert_eq!(parse_bool_strict(" on "), Some(true));
        assert_eq!(parse_bool_strict("maybe"), None);
        assert_eq!(parse_bool_strict(""), None);
    }

    #[test]
    fn int_values() {
        assert_eq!(parse_int("7500"), 7500);
        assert_eq!(parse_int("yes"), 1);
        assert_eq!(parse_int("Y"), 1);
        assert_eq!(parse_int("no"), 0);
        assert_eq!(parse_int("true"), 0);
        assert_eq!(parse_int(""), 0);
        assert_eq!(parse_int(" yes"), 0);
        assert_eq!(parse_int("$SEE_TEAM"), 0);
        // C truncates long to int.
        assert_eq!(parse_int("4294967295"), -1);
        assert_eq!(parse_int("0xFFFFFFFF"), -1);
        assert_eq!(parse_int("4294967296"), 0);
    }

    #[test]
    fn enum_values() {
        let names = [("SEE_NONE", 0), ("SEE_ALL", 1), ("SEE_TEAM", 2)];
        assert_eq!(parse_enum("$SEE_TEAM", &names, -1), 2);
        assert_eq!(parse_enum("see_all", &names, -1), 1);
        assert_eq!(parse_enum("2", &names, -1), 2);
        assert_eq!(parse_enum("12abc", &names, -1), 12);
        assert_eq!(parse_enum("SEE_SPEC", &names, -1), -1);
        assert_eq!(parse_enum("-1", &names, 9), 9);
        assert_eq!(parse_enum("", &names, 9), 9);
    }
}
