//! Text on the wire: single-byte Windows-1252 characters, fixed NUL-padded
//! fields, NUL-terminated strings, and the login-name rules (§5.2).

use super::wire::Sink;
use super::LoginCode;

/// Unicode characters for bytes 0x80–0x9F in Windows-1252; the five
/// undefined bytes map to the C1 control character of the same value
/// (as WHATWG does), so every byte has its own character.
const CP1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}', '\u{017D}', '\u{008F}',
    '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
];

/// Maps a wire byte to its Windows-1252 character (every byte maps).
pub fn byte_to_char(b: u8) -> char {
    match b {
        0x80..=0x9F => CP1252_HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

/// Maps a character to its Windows-1252 byte; characters with no byte
/// become `?`.
pub fn char_to_byte(c: char) -> u8 {
    match u32::from(c) {
        v @ (0..=0x7F | 0xA0..=0xFF) => v as u8,
        _ => CP1252_HIGH
            .iter()
            .position(|&h| h == c)
            .map_or(b'?', |i| 0x80 + i as u8),
    }
}

/// Decodes bytes as Windows-1252 text (lossless: one character per byte).
pub fn decode_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| byte_to_char(b)).collect()
}

/// Reads a fixed-size NUL-padded field, stopping at the first NUL.
pub fn read_fixed_str(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    decode_bytes(field.get(..end).unwrap_or(&[]))
}

/// Writes `s` into a fixed field: truncated to the field, padded with NULs
/// (a full field has no terminating NUL).
pub fn write_fixed_str(s: &str, field: &mut [u8]) {
    let mut chars = s.chars();
    for slot in field.iter_mut() {
        *slot = chars.next().map_or(0, char_to_byte);
    }
}

/// Appends `s` as an `n`-byte fixed field.
pub(crate) fn put_fixed_str(out: &mut impl Sink, s: &str, n: usize) {
    let mut written = 0;
    for c in s.chars().take(n) {
        out.put_u8(char_to_byte(c));
        written += 1;
    }
    out.put_zeros(n - written);
}

/// Splits NUL-terminated text off the front of `bytes`: the text (bytes
/// mapped by `map`) and the number of bytes consumed including the NUL, or
/// `None` for the count when no NUL was found (the text is then all bytes).
pub(crate) fn split_cstr(bytes: &[u8], map: fn(u8) -> char) -> (String, Option<usize>) {
    match bytes.iter().position(|&b| b == 0) {
        Some(end) => (
            bytes
                .get(..end)
                .unwrap_or(&[])
                .iter()
                .map(|&b| map(b))
                .collect(),
            Some(end + 1),
        ),
        None => (bytes.iter().map(|&b| map(b)).collect(), None),
    }
}

/// Appends `s` (up to `max` characters, stopping at an embedded NUL) and a NUL.
pub(crate) fn put_cstr(out: &mut impl Sink, s: &str, max: usize) {
    for c in s.chars().take_while(|&c| c != '\0').take(max) {
        out.put_u8(char_to_byte(c));
    }
    out.put_u8(0);
}

/// Chat byte mapping (§9.1): control characters (< 32, 127, 255) become `_`.
pub(crate) fn chat_char(b: u8) -> char {
    match b {
        0..=31 | 127 | 255 => '_',
        _ => byte_to_char(b),
    }
}

/// Why a login name was refused (§5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BadName {
    /// Nothing valid was left of the name.
    Empty,
    /// The name does not start with a letter or digit.
    BadFirstChar,
}

impl BadName {
    /// The login response code: [`LoginCode::BAD_NAME`] for VIE; Continuum
    /// gets [`LoginCode::CUSTOM_TEXT`] after an S2C 0x33 with
    /// [`BadName::continuum_text`].
    pub fn code(self, continuum: bool) -> LoginCode {
        if continuum {
            LoginCode::CUSTOM_TEXT
        } else {
            LoginCode::BAD_NAME
        }
    }

    /// The text ASSS sends Continuum clients in S2C 0x33.
    pub fn continuum_text(self) -> &'static str {
        match self {
            BadName::Empty => "Your player name contains no valid characters",
            BadName::BadFirstChar => "Your player name must start with a letter or number",
        }
    }
}

impl From<BadName> for LoginCode {
    fn from(_: BadName) -> Self {
        LoginCode::BAD_NAME
    }
}

/// Maximum length of a login name after cleaning (§5.2).
pub const MAX_LOGIN_NAME_CHARS: usize = 19;

/// Cleans a login name as ASSS does (§5.2): cut to 19 characters, keep only
/// printable ASCII 32–126 except `:`, drop leading spaces, collapse runs of
/// spaces (one trailing space survives), and require a letter or digit
/// first. `raw` is the decoded 32-byte name field (one char per byte).
pub fn sanitize_login_name(raw: &str) -> Result<String, BadName> {
    let mut out = String::with_capacity(MAX_LOGIN_NAME_CHARS);
    let mut last = ' ';
    for c in raw
        .chars()
        .take_while(|&c| c != '\0')
        .take(MAX_LOGIN_NAME_CHARS)
    {
        let printable = (' '..='~').contains(&c) && c != ':';
        if !printable || (c == ' ' && last == ' ') {
            continue;
        }
        out.push(c);
        last = c;
    }
    match out.chars().next() {
        None => Err(BadName::Empty),
        Some(first) if !first.is_ascii_alphanumeric() => Err(BadName::BadFirstChar),
        Some(_) => Ok(out),
    }
}

/// Joins `items` with `", "` into chat lines of at most `max` bytes each
/// (an item longer than `max` gets a line of its own): how lists of names
/// are answered in chat.
pub fn join_lines(items: &[String], max: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for item in items {
        if !cur.is_empty() && cur.len() + 2 + item.len() > max {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push_str(", ");
        }
        cur.push_str(item);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

#[cfg(test)]
mod join_tests {
    use super::join_lines;

    #[test]
    fn lists_wrap_at_the_limit() {
        let items: Vec<String> = ["alpha", "beta", "gamma", "delta"].map(String::from).into();
        assert_eq!(join_lines(&items, 200), ["alpha, beta, gamma, delta"]);
        assert_eq!(join_lines(&items, 11), ["alpha, beta", "gamma", "delta"]);
        assert_eq!(join_lines(&[], 10), Vec::<String>::new());
        assert_eq!(join_lines(&["a".repeat(20)], 10), ["a".repeat(20)]);
    }
}
