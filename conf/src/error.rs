//! Error and warning types.
//!
//! A [`ConfError`] stops a load (the top-level file is missing, unreadable or
//! too large). A [`Warning`] is something ASSS would log and then carry on
//! from (a missing `#include`, an unmatched `#endif`, a value outside any
//! section); it is kept on the parsed file so the caller can log it.

use std::io;
use std::path::PathBuf;

/// A failure that prevents a configuration file (or the default zone) from
/// being loaded or written.
#[derive(Debug, thiserror::Error)]
pub enum ConfError {
    /// No candidate on the search path is a readable regular file.
    #[error("config file '{name}' not found (tried: {})", tried.join(", "))]
    NotFound {
        /// The requested file name (`%n` of the search path).
        name: String,
        /// Every path that was tried, in order.
        tried: Vec<String>,
    },
    /// A file was found but could not be read.
    #[error("cannot read '{path}': {source}")]
    Io {
        /// The zone-relative path.
        path: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The file plus everything it includes exceeds the size budget.
    #[error("'{path}' and its includes exceed the limit of {limit} bytes")]
    TooLarge {
        /// The top-level file being loaded.
        path: String,
        /// The byte budget that was exceeded.
        limit: usize,
    },
    /// `write_default_zone` found a file it would overwrite (and `force`
    /// was not given).
    #[error("refusing to overwrite existing file {0}")]
    WouldOverwrite(PathBuf),
    /// Writing the default zone to disk failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or directory being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// A problem found while loading a file that ASSS reports and then ignores.
///
/// `file` is the zone-relative path of the file containing the offending
/// line and `line` its 1-based physical line number (the last line of a
/// continued line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Warning {
    /// `#include` named a file not found on the search path; it was skipped.
    #[error("{file}:{line}: cannot find include file '{name}'")]
    IncludeNotFound {
        /// Including file.
        file: String,
        /// Line of the directive.
        line: usize,
        /// The name given to `#include`.
        name: String,
    },
    /// `#include` named a file that exists but could not be read.
    #[error("{file}:{line}: cannot read include file '{name}': {error}")]
    IncludeUnreadable {
        /// Including file.
        file: String,
        /// Line of the directive.
        line: usize,
        /// The name given to `#include`.
        name: String,
        /// Description of the I/O error.
        error: String,
    },
    /// `#include` of a file that is already being read (a cycle); skipped.
    #[error("{file}:{line}: include loop: '{path}' is already being read")]
    IncludeLoop {
        /// Including file.
        file: String,
        /// Line of the directive.
        line: usize,
        /// Resolved path of the file that would have been re-entered.
        path: String,
    },
    /// `#include` nesting reached the depth limit; skipped.
    #[error("{file}:{line}: #include nesting deeper than {limit}, '{name}' skipped")]
    IncludeTooDeep {
        /// Including file.
        file: String,
        /// Line of the directive.
        line: usize,
        /// The name given to `#include`.
        name: String,
        /// The nesting limit.
        limit: usize,
    },
    /// `#else` or `#endif` without an open `#ifdef`/`#ifndef`.
    #[error("{file}:{line}: #{directive} without #ifdef")]
    UnmatchedConditional {
        /// File containing the directive.
        file: String,
        /// Line of the directive.
        line: usize,
        /// `else` or `endif`.
        directive: &'static str,
    },
    /// A second `#else` in the same `#ifdef` block.
    #[error("{file}:{line}: multiple #else directives")]
    DuplicateElse {
        /// File containing the directive.
        file: String,
        /// Line of the directive.
        line: usize,
    },
    /// The top-level file ended inside an `#ifdef`/`#ifndef` block.
    #[error("{file}: {open} unterminated #ifdef/#ifndef block(s) at end of file")]
    UnterminatedConditional {
        /// The top-level file.
        file: String,
        /// Number of blocks still open.
        open: usize,
    },
    /// A (joined) line longer than the maximum line length was cut.
    #[error("{file}:{line}: line longer than {limit} bytes truncated")]
    LineTooLong {
        /// File containing the line.
        file: String,
        /// Line number.
        line: usize,
        /// The maximum length.
        limit: usize,
    },
    /// A `key = value` line before any `[Section]` header; ignored.
    #[error("{file}:{line}: ignoring value not in any section")]
    NoSection {
        /// File containing the line.
        file: String,
        /// Line number.
        line: usize,
    },
    /// A line that is neither a setting, a section header, a comment nor a
    /// directive (e.g. `= 5`, or words without `=`).
    #[error("{file}:{line}: not a setting: {text:?}")]
    Garbage {
        /// File containing the line.
        file: String,
        /// Line number.
        line: usize,
        /// The line, trimmed.
        text: String,
    },
    /// A `[Section` header without its closing `]`; the name was used
    /// anyway.
    #[error("{file}:{line}: section header without closing ']': {text:?}")]
    UnterminatedSection {
        /// File containing the line.
        file: String,
        /// Line number.
        line: usize,
        /// The line, trimmed.
        text: String,
    },
    /// An arena's `arena.conf` could not be loaded (none on the search
    /// path, unreadable, too large); the arena cannot start.
    #[error("arena '{arena}': {error}")]
    ArenaConfig {
        /// The arena name.
        arena: String,
        /// What went wrong (names the file or the paths tried).
        error: String,
    },
    /// `General:Map` names a map file found nowhere on the map search path;
    /// the arena gets an empty map.
    #[error("{}: arena '{arena}': map file '{map}' not found (tried: {})", location(file, *line), tried.join(", "))]
    MapNotFound {
        /// File that sets `General:Map`.
        file: String,
        /// Line of the setting (0 = unknown).
        line: usize,
        /// The arena name.
        arena: String,
        /// The map file name.
        map: String,
        /// Every path tried, in order.
        tried: Vec<String>,
    },
    /// A file the zone serves (such as the news file) cannot be used.
    #[error("{path}: {problem}")]
    File {
        /// Zone-relative path of the file.
        path: String,
        /// What is wrong with it and what is done instead.
        problem: String,
    },
    /// A setting read with a checked accessor does not parse or is out of
    /// range; `used` was used instead. `line` is 0 when the value did not
    /// come from a file line (then `file` is a label).
    #[error("{}: {section}:{key} = {value:?} {problem}; using {used}", location(file, *line))]
    BadValue {
        /// File the value came from (or a label such as `--set`).
        file: String,
        /// Line of the assignment (0 = not from a file line).
        line: usize,
        /// Section name.
        section: String,
        /// Key name.
        key: String,
        /// The value as written.
        value: String,
        /// What is wrong with it ("is not a whole number").
        problem: String,
        /// The value used instead.
        used: String,
    },
    /// A key nothing reads: not a setting of Subsumption, of its client
    /// settings, or of ASSS (docs/protocol/config.md §10).
    #[error("{}: {name} is not a setting Subsumption knows; nothing reads it", location(file, *line))]
    UnknownSetting {
        /// File that sets it.
        file: String,
        /// Line of the assignment (0 = not from a file line).
        line: usize,
        /// `Section:Key`.
        name: String,
    },
    /// A setting in the wrong kind of file (a global setting in an arena
    /// file or the reverse): nothing reads it there.
    #[error("{}: {name} is {belongs} setting; nothing reads it from this file", location(file, *line))]
    WrongScope {
        /// File that sets it.
        file: String,
        /// Line of the assignment (0 = not from a file line).
        line: usize,
        /// `Section:Key`.
        name: String,
        /// `a global` or `an arena`: where it belongs.
        belongs: &'static str,
    },
    /// Settings ASSS reads that Subsumption does not implement, reported
    /// once for the whole zone: they have no effect.
    #[error("{} ASSS setting(s) set in this zone are not implemented by Subsumption and have no effect: {}", names.len(), names.join(", "))]
    NotImplemented {
        /// `Section:Key` (with `file` where known), in the order found.
        names: Vec<String>,
    },
}

/// `file:line`, or just `file` when the line is unknown (0).
fn location(file: &str, line: usize) -> String {
    if line == 0 {
        file.to_string()
    } else {
        format!("{file}:{line}")
    }
}
