//! The ASSS line preprocessor and key/value parser (docs/protocol/config.md
//! §3).
//!
//! Stage one turns files into logical lines: CR/LF stripped, `\`
//! continuations joined, `#` directives in column 1 handled (`#include`,
//! `#define`, `#undef`, `#ifdef`, `#ifndef`, `#else`, `#endif`, matched by
//! prefix; other `#` lines ignored), `;`/`/` comment lines and blank lines
//! dropped. Stage two reads `[Section]` headers and `key = value` lines.
//!
//! Deliberate differences from ASSS, all in the direction of "never loop,
//! never panic": `#include` nesting is capped at [`MAX_INCLUDE_DEPTH`] and a
//! file that is already being read is not entered again (ASSS would recurse
//! until it runs out of file handles); the total input including every
//! include is capped at [`MAX_TOTAL_BYTES`]; an over-long line is cut at
//! [`MAX_LINE`] bytes (ASSS would split it); section and key names are not
//! cut at 63 characters; a leading UTF-8 byte-order mark is ignored; a
//! line without `=` is treated like `key =` (so `Section:Key` works there
//! too, and before any section header it is reported and ignored rather
//! than stored under a section-less name).
//! Files that are not valid UTF-8 are read as Latin-1 (byte = code point),
//! so no byte is lost.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{ConfError, Warning};
use crate::file::{ConfigFile, Origin};
use crate::source::{config_search_path, find_first, FileSource};
use crate::value::is_c_space;

/// Longest logical line in bytes, continuations included (ASSS
/// `CFG_MAX_LINE` 4096 including the terminating NUL).
pub const MAX_LINE: usize = 4095;
/// Deepest `#include` nesting, counting the top-level file.
pub const MAX_INCLUDE_DEPTH: usize = 50;
/// Budget for one load: bytes of every file read (each inclusion counted),
/// plus [`INCLUDE_COST`] per file read.
pub const MAX_TOTAL_BYTES: usize = 32 * 1024 * 1024;
/// Budget charged per file read, so that many includes of empty files are
/// bounded too.
pub const INCLUDE_COST: usize = 256;

/// Finds `name` on the config search path and parses it.
pub(crate) fn load(
    source: &dyn FileSource,
    arena_base: Option<&str>,
    name: &str,
) -> Result<ConfigFile, ConfError> {
    let candidates = config_search_path(arena_base, name);
    match find_first(source, &candidates)? {
        Some(found) => parse_top(source, arena_base, &found.path, &found.data),
        None => Err(ConfError::NotFound {
            name: name.to_string(),
            tried: candidates,
        }),
    }
}

/// Parses `data` as the top-level file `path`.
pub(crate) fn parse_top(
    source: &dyn FileSource,
    arena_base: Option<&str>,
    path: &str,
    data: &[u8],
) -> Result<ConfigFile, ConfError> {
    let mut p = Parser {
        source,
        arena_base,
        out: ConfigFile::empty(path),
        defines: HashMap::new(),
        ifs: Vec::new(),
        stack: Vec::new(),
        used: 0,
        section: None,
    };
    p.file(path, data)?;
    if !p.ifs.is_empty() {
        p.out.warn(Warning::UnterminatedConditional {
            file: path.to_string(),
            open: p.ifs.len(),
        });
    }
    p.out.shrink_to_fit();
    Ok(p.out)
}

/// One open `#ifdef`/`#ifndef`.
struct IfBlock {
    cond: bool,
    in_else: bool,
}

struct Parser<'a> {
    source: &'a dyn FileSource,
    arena_base: Option<&'a str>,
    out: ConfigFile,
    /// `#define`s, by lowercased name (ASSS hash tables ignore case).
    defines: HashMap<String, String>,
    /// Open conditionals; like ASSS, shared across include boundaries.
    ifs: Vec<IfBlock>,
    /// Paths of the files being read, outermost first.
    stack: Vec<Arc<str>>,
    /// Budget used so far.
    used: usize,
    /// The current section; like ASSS, it carries across includes.
    section: Option<String>,
}

/// Where a line came from, for warnings.
#[derive(Clone, Copy)]
struct Pos<'p> {
    file: &'p str,
    line: usize,
}

impl Pos<'_> {
    fn file(&self) -> String {
        self.file.to_string()
    }
}

/// Bytes → text: UTF-8 if valid, else Latin-1. A leading BOM is dropped.
fn decode(data: &[u8]) -> String {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    match std::str::from_utf8(data) {
        Ok(s) => s.to_string(),
        Err(_) => data.iter().map(|&b| char::from(b)).collect(),
    }
}

/// One physical line without its line terminator; like C string handling,
/// a NUL ends the line.
fn physical(line: &str) -> &str {
    let line = line.split('\0').next().unwrap_or("");
    line.trim_end_matches(['\r', '\n'])
}

/// Cuts `s` to at most `max` bytes on a character boundary.
fn truncate(s: &mut String, max: usize) -> bool {
    if s.len() <= max {
        return false;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    true
}

fn trim_c(s: &str) -> &str {
    s.trim_matches(is_c_space)
}

/// Reads an escaped string: `\x` stands for `x` (a lone trailing `\` is
/// dropped). Stops before the first unescaped `stop` character; returns the
/// text and the unconsumed rest (starting with `stop`, or empty).
fn unescape(s: &str, stop: Option<char>) -> (String, &str) {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        if Some(c) == stop {
            return (out, &s[i..]);
        }
        if c == '\\' {
            if let Some((_, n)) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    (out, "")
}

impl Parser<'_> {
    fn processing(&self) -> bool {
        self.ifs.iter().all(|b| b.cond != b.in_else)
    }

    /// Reads one file (top-level or included) line by line.
    fn file(&mut self, path: &str, data: &[u8]) -> Result<(), ConfError> {
        self.used = self
            .used
            .saturating_add(data.len())
            .saturating_add(INCLUDE_COST);
        if self.used > MAX_TOTAL_BYTES {
            return Err(ConfError::TooLarge {
                path: self.out.path().to_string(),
                limit: MAX_TOTAL_BYTES,
            });
        }
        self.out.add_file(path);
        self.stack.push(Arc::from(path));
        let text = decode(data);
        let mut lines = text.split('\n').enumerate();
        let mut result = Ok(());
        while let Some((idx, raw)) = lines.next() {
            let mut line = physical(raw).to_string();
            let mut lineno = idx + 1;
            // Continuations: a trailing backslash joins the next line as-is.
            while line.ends_with('\\') && line.len() <= MAX_LINE {
                line.pop();
                match lines.next() {
                    Some((i, next)) => {
                        lineno = i + 1;
                        line.push_str(physical(next));
                    }
                    None => break,
                }
            }
            let pos = Pos {
                file: path,
                line: lineno,
            };
            if truncate(&mut line, MAX_LINE) {
                self.out.warn(Warning::LineTooLong {
                    file: pos.file(),
                    line: lineno,
                    limit: MAX_LINE,
                });
            }
            if let Err(e) = self.logical_line(pos, &line) {
                result = Err(e);
                break;
            }
        }
        self.stack.pop();
        result
    }

    fn logical_line(&mut self, pos: Pos<'_>, line: &str) -> Result<(), ConfError> {
        if let Some(directive) = line.strip_prefix('#') {
            return self.directive(pos, directive);
        }
        let text = line.trim_start_matches(is_c_space);
        if text.is_empty() || text.starts_with([';', '/']) || !self.processing() {
            return Ok(());
        }
        self.key_value(pos, text);
        Ok(())
    }

    fn directive(&mut self, pos: Pos<'_>, d: &str) -> Result<(), ConfError> {
        // Conditionals are tracked even while skipping, so nesting works.
        let (is_ifdef, is_ifndef) = (d.starts_with("ifdef"), d.starts_with("ifndef"));
        if is_ifdef || is_ifndef {
            let rest = if is_ifdef { &d[5..] } else { &d[6..] };
            let name = rest
                .trim_start_matches(|c| is_c_space(c) || c == '{' || c == '(')
                .trim_end_matches(|c| is_c_space(c) || c == '}' || c == ')');
            let defined = self.defines.contains_key(&name.to_ascii_lowercase());
            self.ifs.push(IfBlock {
                cond: defined == is_ifdef,
                in_else: false,
            });
        } else if d.starts_with("else") {
            match self.ifs.last_mut() {
                Some(b) if !b.in_else => b.in_else = true,
                Some(_) => self.out.warn(Warning::DuplicateElse {
                    file: pos.file(),
                    line: pos.line,
                }),
                None => self.out.warn(Warning::UnmatchedConditional {
                    file: pos.file(),
                    line: pos.line,
                    directive: "else",
                }),
            }
        } else if d.starts_with("endif") {
            if self.ifs.pop().is_none() {
                self.out.warn(Warning::UnmatchedConditional {
                    file: pos.file(),
                    line: pos.line,
                    directive: "endif",
                });
            }
        } else if !self.processing() {
            // Everything below only applies in an active block.
        } else if let Some(rest) = d.strip_prefix("define") {
            let rest = rest.trim_start_matches(is_c_space);
            let (name, value) = match rest.find(is_c_space) {
                Some(i) => (&rest[..i], trim_c(&rest[i..])),
                None => (rest, "1"),
            };
            if !name.is_empty() {
                self.defines
                    .insert(name.to_ascii_lowercase(), value.to_string());
            }
        } else if let Some(rest) = d.strip_prefix("undef") {
            self.defines.remove(&trim_c(rest).to_ascii_lowercase());
        } else if let Some(rest) = d.strip_prefix("include") {
            let name = rest
                .trim_start_matches(|c| is_c_space(c) || c == '"' || c == '<')
                .trim_end_matches(|c| is_c_space(c) || c == '"' || c == '>');
            return self.include(pos, name);
        }
        // Any other `#` line is a comment.
        Ok(())
    }

    fn include(&mut self, pos: Pos<'_>, name: &str) -> Result<(), ConfError> {
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            self.out.warn(Warning::IncludeTooDeep {
                file: pos.file(),
                line: pos.line,
                name: name.to_string(),
                limit: MAX_INCLUDE_DEPTH,
            });
            return Ok(());
        }
        let found = if name.is_empty() {
            Ok(None)
        } else {
            find_first(self.source, &config_search_path(self.arena_base, name))
        };
        match found {
            Ok(Some(found)) => {
                if self.stack.iter().any(|p| **p == *found.path) {
                    self.out.warn(Warning::IncludeLoop {
                        file: pos.file(),
                        line: pos.line,
                        path: found.path,
                    });
                    return Ok(());
                }
                self.file(&found.path, &found.data)
            }
            Ok(None) => {
                self.out.warn(Warning::IncludeNotFound {
                    file: pos.file(),
                    line: pos.line,
                    name: name.to_string(),
                });
                Ok(())
            }
            Err(e) => {
                self.out.warn(Warning::IncludeUnreadable {
                    file: pos.file(),
                    line: pos.line,
                    name: name.to_string(),
                    error: e.to_string(),
                });
                Ok(())
            }
        }
    }

    /// Stage two: a section header or an assignment.
    fn key_value(&mut self, pos: Pos<'_>, line: &str) {
        let line = trim_c(line);
        if let Some(rest) = line.strip_prefix('[') {
            if !rest.ends_with(']') {
                self.out.warn(Warning::UnterminatedSection {
                    file: pos.file(),
                    line: pos.line,
                    text: line.to_string(),
                });
            }
            let name = rest
                .trim_start_matches(|c| is_c_space(c) || c == '[')
                .trim_end_matches(|c| is_c_space(c) || c == ']');
            self.out.ensure_section(name);
            self.section = Some(name.to_string());
            return;
        }
        let (key, rest) = unescape(line, Some('='));
        if key.trim_matches(is_c_space).is_empty() {
            self.out.warn(Warning::Garbage {
                file: pos.file(),
                line: pos.line,
                text: line.to_string(),
            });
            return;
        }
        if !rest.starts_with('=') && key.contains(is_c_space) {
            // Not `key = value` and not a lone name either (capability
            // lists); kept as before, but most likely a mistake.
            self.out.warn(Warning::Garbage {
                file: pos.file(),
                line: pos.line,
                text: line.to_string(),
            });
        }
        let (key, value) = match rest.strip_prefix('=') {
            Some(v) => (
                key.trim_end_matches(is_c_space).to_string(),
                unescape(v.trim_start_matches(is_c_space), None).0,
            ),
            // A key with no `=` (groupdef.conf capability lists) gets "".
            None => (key, String::new()),
        };
        let origin = || Origin {
            file: self
                .stack
                .last()
                .cloned()
                .unwrap_or_else(|| Arc::from(pos.file)),
            line: pos.line,
        };
        if let Some((section, key)) = key.split_once(':') {
            // `Section:Key = value` leaves the current section unchanged.
            let origin = origin();
            self.out.set_from(section, key, &value, origin);
        } else if let Some(section) = &self.section {
            let origin = origin();
            let section = section.clone();
            self.out.set_from(&section, &key, &value, origin);
        } else {
            self.out.warn(Warning::NoSection {
                file: pos.file(),
                line: pos.line,
            });
        }
    }
}
