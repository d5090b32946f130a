//! Turning the text after `?`/`*` into commands
//! (`docs/protocol/commands-and-capabilities.md` §1): multi-commands, the
//! command name, the parameter string and its words.

/// Longest command name.
pub const MAX_NAME: usize = 30;
/// A multi-command piece this long (or longer) stops the line.
pub const MAX_PIECE: usize = 512;

/// One command: its name and parameter string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parsed<'a> {
    /// The name as typed (compare case-insensitively).
    pub name: &'a str,
    /// The parameters, leading spaces and `=` removed.
    pub params: &'a str,
}

/// What one piece of a command line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A command for this server.
    Command(Parsed<'a>),
    /// A line starting with `\`: for the billing server's default handler.
    Biller(&'a str),
}

/// Splits the text after the leading `?`/`*` into the commands it holds:
/// a line starting with `|` is several commands separated by `|` (at most
/// `limit`; a piece of [`MAX_PIECE`] bytes or more ends the line), else it
/// is one command.
pub fn split_line(text: &str, limit: usize) -> Vec<Piece<'_>> {
    let pieces: Vec<&str> = match text.strip_prefix('|') {
        Some(rest) => {
            let mut out = Vec::new();
            for piece in rest.split('|').filter(|p| !p.is_empty()) {
                if out.len() >= limit || piece.len() >= MAX_PIECE {
                    break;
                }
                out.push(piece);
            }
            out
        }
        None => vec![text],
    };
    pieces.into_iter().filter_map(parse_piece).collect()
}

/// Parses one command: the name runs to the first space, `=` or `#` (at
/// most [`MAX_NAME`] characters); the parameters are the rest without
/// leading spaces and `=`.
pub fn parse_piece(piece: &str) -> Option<Piece<'_>> {
    if let Some(rest) = piece.strip_prefix('\\') {
        return Some(Piece::Biller(rest));
    }
    let end = piece.find([' ', '=', '#']).unwrap_or(piece.len());
    let name = &piece[..end];
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return None;
    }
    let params = piece[end..].trim_start_matches([' ', '=']);
    Some(Piece::Command(Parsed { name, params }))
}

/// Splits parameters into words at white space; text in double quotes is
/// one word (an unterminated quote runs to the end).
pub fn words(params: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    for c in params.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// The parameters with one pair of surrounding double quotes removed.
pub fn unquote(params: &str) -> &str {
    let t = params.trim();
    t.strip_prefix('"')
        .map(|r| r.strip_suffix('"').unwrap_or(r))
        .unwrap_or(t)
}

/// Parses an integer the way ASSS's `strtol(.., 0)` reads one: optional
/// sign, decimal, `0x` hex.
pub fn int(word: &str) -> Option<i64> {
    let w = word.trim();
    let (neg, digits) = match w.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, w.strip_prefix('+').unwrap_or(w)),
    };
    let v = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => i64::from_str_radix(hex, 16).ok()?,
        None => digits.parse::<i64>().ok()?,
    };
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(p: &Piece<'_>) -> (String, String) {
        match p {
            Piece::Command(c) => (c.name.to_string(), c.params.to_string()),
            Piece::Biller(b) => ("\\".to_string(), b.to_string()),
        }
    }

    #[test]
    fn name_ends_at_space_equals_or_hash() {
        let all = |t: &str| split_line(t, 5).iter().map(cmd).collect::<Vec<_>>();
        assert_eq!(all("setfreq 5"), vec![("setfreq".into(), "5".into())]);
        assert_eq!(all("chat=a,b"), vec![("chat".into(), "a,b".into())]);
        assert_eq!(all("prize#5"), vec![("prize".into(), "#5".into())]);
        assert_eq!(all("arena"), vec![("arena".into(), "".into())]);
        assert_eq!(all("kick  = = spam"), vec![("kick".into(), "spam".into())]);
        assert_eq!(all("\\find bob"), vec![("\\".into(), "find bob".into())]);
        assert!(all(&"x".repeat(31)).is_empty());
        assert!(all(" arena").is_empty());
    }

    #[test]
    fn multi_commands_are_split_and_limited() {
        let all = |t: &str, n| split_line(t, n).iter().map(cmd).collect::<Vec<_>>();
        assert_eq!(
            all("|arena|find bob||version", 5),
            vec![
                ("arena".into(), "".into()),
                ("find".into(), "bob".into()),
                ("version".into(), "".into())
            ]
        );
        assert_eq!(all("|a|b|c|d", 2).len(), 2);
        let long = format!("|arena|{}|version", "y".repeat(600));
        assert_eq!(all(&long, 5), vec![("arena".into(), "".into())]);
    }

    #[test]
    fn words_keep_quoted_text_together() {
        assert_eq!(
            words(r#"-s 10 "go away now"  x"#),
            vec!["-s", "10", "go away now", "x"]
        );
        assert_eq!(words(r#""unterminated quote"#), vec!["unterminated quote"]);
        assert_eq!(words(r#""""#), vec![""]);
        assert!(words("   ").is_empty());
        assert_eq!(unquote(r#" "Bob Smith" "#), "Bob Smith");
        assert_eq!(unquote("bob"), "bob");
    }

    #[test]
    fn integers() {
        assert_eq!(int("12"), Some(12));
        assert_eq!(int("-3"), Some(-3));
        assert_eq!(int("0x10"), Some(16));
        assert_eq!(int("ten"), None);
        assert_eq!(int(""), None);
    }
}
