//! The obscene-word filter (`Chat:Obscene`, as ASSS filters).
//!
//! The word list is space-separated; a word starting with `?` is written
//! in rot-13. Matching is a case-insensitive substring search, and every
//! match is overwritten with the same number of "garbage" characters.

/// Characters obscene words are replaced with, taken in turn.
const GARBAGE: &[u8] = b"%@$&%*!#@&%!#&*$#?@!*%@&!%#&%!?$*#!*$&@#&%$!*%@#&%!@&#$!*@&$%*@?";

/// A loaded word list.
#[derive(Debug, Default, Clone)]
pub struct WordFilter {
    words: Vec<Vec<char>>,
    next: usize,
}

fn rot13(c: char) -> char {
    match c {
        'a'..='m' => (c as u8 + 13) as char,
        'n'..='z' => (c as u8 - 13) as char,
        _ => c,
    }
}

impl WordFilter {
    /// Parses a `Chat:Obscene` value.
    pub fn from_list(list: &str) -> WordFilter {
        let words = list
            .split([' ', '\t'])
            .filter(|w| !w.is_empty())
            .map(|w| {
                let lower = w.to_lowercase();
                match lower.strip_prefix('?') {
                    Some(enc) => enc.chars().map(rot13).collect::<Vec<char>>(),
                    None => lower.chars().collect(),
                }
            })
            .filter(|w| !w.is_empty())
            .collect();
        WordFilter { words, next: 0 }
    }

    /// The filtered text if `text` contains an obscene word, else `None`.
    pub fn filter(&mut self, text: &str) -> Option<String> {
        if self.words.is_empty() {
            return None;
        }
        let mut chars: Vec<char> = text.chars().collect();
        let lower: Vec<char> = chars
            .iter()
            .map(|c| c.to_lowercase().next().unwrap_or(*c))
            .collect();
        let mut found = false;
        for word in &self.words {
            let n = word.len();
            let mut i = 0;
            while i + n <= lower.len() {
                if lower[i..i + n] == word[..] {
                    found = true;
                    for c in &mut chars[i..i + n] {
                        *c = GARBAGE[self.next % GARBAGE.len()] as char;
                        self.next = self.next.wrapping_add(1);
                    }
                    i += n;
                } else {
                    i += 1;
                }
            }
        }
        found.then(|| chars.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_words_case_insensitively_keeping_the_length() {
        let mut f = WordFilter::from_list("darn  heck");
        let out = f.filter("Well DARN it, heck!").unwrap();
        assert_eq!(out.len(), "Well DARN it, heck!".len());
        assert!(out.starts_with("Well ") && out.ends_with('!'));
        assert!(!out.to_lowercase().contains("darn"));
        assert!(!out.contains("heck"));
        assert_eq!(f.filter("nothing to see"), None);
    }

    #[test]
    fn rot13_words_and_empty_lists() {
        // "?qnea" is rot-13 for "darn".
        let mut f = WordFilter::from_list("?qnea");
        assert!(f.filter("darned").is_some());
        let mut empty = WordFilter::from_list("  ");
        assert_eq!(empty.filter("darn"), None);
    }

    #[test]
    fn non_ascii_text_does_not_panic() {
        let mut f = WordFilter::from_list("é");
        assert_eq!(f.filter("ééa").map(|s| s.chars().count()), Some(3));
        assert_eq!(f.filter("über"), None);
    }
}
