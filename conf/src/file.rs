//! A parsed configuration file and its typed lookups.

use std::fmt;
use std::ops::RangeInclusive;
use std::sync::Arc;

use crate::error::{ConfError, Warning};
use crate::source::{EmbeddedSource, FileSource};
use crate::value::{parse_bool_strict, parse_enum, parse_int, parse_int_strict};

/// At most this many warnings are kept per loaded file.
pub const MAX_WARNINGS: usize = 1000;

/// Where a value was last assigned: a file and line, or a label such as
/// `--set` for values set in memory (line 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The zone-relative path of the file, or a label.
    pub file: Arc<str>,
    /// 1-based line number; 0 when the value did not come from a file line.
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.file)
        } else {
            write!(f, "{}:{}", self.file, self.line)
        }
    }
}

/// One key of a section.
#[derive(Debug, Clone)]
struct Entry {
    key: Box<str>,
    value: Box<str>,
    origin: Option<Origin>,
}

/// Orders two names ASCII case-insensitively (without allocating).
fn cmp_name(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

/// Case-insensitive lookup by name into a list that keeps its own order
/// (keys of a section, sections of a file): the list's positions sorted by
/// name, binary-searched. No lower-cased copies, so a lookup allocates
/// nothing and the index costs four bytes a name.
#[derive(Debug, Clone, Default)]
struct NameIndex(Vec<u32>);

impl NameIndex {
    /// `Ok(position in the list)` of `name`, or `Err(slot)` to pass to
    /// [`insert`](Self::insert) when adding it; `name_at` gives the name
    /// at a list position.
    fn find<'a>(&self, name: &str, name_at: impl Fn(usize) -> &'a str) -> Result<usize, usize> {
        self.0
            .binary_search_by(|&i| cmp_name(name_at(i as usize), name))
            .map(|slot| self.0[slot] as usize)
    }

    /// Records that list position `at` holds a new name whose `find`
    /// answered `Err(slot)`.
    fn insert(&mut self, slot: usize, at: usize) {
        // Lists of config names stay far below 4 billion: the parser's
        // include budget bounds a file long before that.
        self.0.insert(slot, at as u32);
    }

    fn shrink_to_fit(&mut self) {
        self.0.shrink_to_fit();
    }
}

/// One `[Section]` of a parsed file: its keys and values in the order each
/// key was first assigned.
///
/// Kept small because every realm holds its arena's parsed config for its
/// whole life (about 1,600 keys for the default arena): keys and values are
/// boxed strings of their exact size, and keys are found through a
/// `NameIndex` instead of a hash map of lower-cased copies, which cost
/// three allocations a key.
#[derive(Debug, Clone)]
pub struct Section {
    name: String,
    entries: Vec<Entry>,
    keys: NameIndex,
}

impl Section {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            entries: Vec::new(),
            keys: NameIndex::default(),
        }
    }

    /// The section name as first written in the file.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `Ok(entry number)` of `key`, or where the index would take it.
    fn find(&self, key: &str) -> Result<usize, usize> {
        self.keys.find(key, |i| &self.entries[i].key)
    }

    /// The value of `key` (case-insensitive).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.find(key).ok().map(|i| &*self.entries[i].value)
    }

    /// Where `key` was last assigned, if known.
    pub fn origin(&self, key: &str) -> Option<&Origin> {
        self.find(key)
            .ok()
            .and_then(|i| self.entries[i].origin.as_ref())
    }

    /// All (key, value) pairs; keys as first written, values as last
    /// assigned.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|e| (&*e.key, &*e.value))
    }

    /// All keys, as first written.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| &*e.key)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if the section has no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn set(&mut self, key: &str, value: &str, origin: Option<Origin>) {
        match self.find(key) {
            Ok(i) => {
                self.entries[i].value = value.into();
                self.entries[i].origin = origin;
            }
            Err(slot) => {
                self.keys.insert(slot, self.entries.len());
                self.entries.push(Entry {
                    key: key.into(),
                    value: value.into(),
                    origin,
                });
            }
        }
    }
}

/// A fully parsed configuration file, includes expanded, "last value wins"
/// applied. Section and key names are case-insensitive (ASCII), values keep
/// their case.
#[derive(Debug, Clone, Default)]
pub struct ConfigFile {
    path: String,
    sections: Vec<Section>,
    names: NameIndex,
    files: Vec<String>,
    warnings: Vec<Warning>,
}

impl ConfigFile {
    /// Loads config file `name` found through the ASSS search path
    /// (docs/protocol/config.md §2) for arena group `arena_base` (`None` for
    /// global files such as `global.conf`, `staff.conf`).
    pub fn load(
        source: &dyn FileSource,
        arena_base: Option<&str>,
        name: &str,
    ) -> Result<Self, ConfError> {
        crate::parse::load(source, arena_base, name)
    }

    /// Parses text with no file access: every `#include` is reported as not
    /// found. Useful for tests and for config text from elsewhere.
    pub fn parse_str(text: &str) -> Result<Self, ConfError> {
        Self::parse_bytes(&EmbeddedSource::new(), None, "<string>", text.as_bytes())
    }

    /// Parses `data` as the contents of the file at `path`, resolving
    /// `#include`s through `source` for arena group `arena_base`.
    pub fn parse_bytes(
        source: &dyn FileSource,
        arena_base: Option<&str>,
        path: &str,
        data: &[u8],
    ) -> Result<Self, ConfError> {
        crate::parse::parse_top(source, arena_base, path, data)
    }

    /// Gives back the spare capacity the tables grew while parsing: a
    /// parsed file is kept for the process's life (one per realm).
    pub(crate) fn shrink_to_fit(&mut self) {
        for section in &mut self.sections {
            section.entries.shrink_to_fit();
            section.keys.shrink_to_fit();
        }
        self.sections.shrink_to_fit();
        self.names.shrink_to_fit();
    }

    pub(crate) fn empty(path: &str) -> Self {
        Self {
            path: path.to_string(),
            ..Self::default()
        }
    }

    /// The zone-relative path of the top-level file.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Every file read for this config, top-level first, then includes in
    /// the order first read (each once).
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// Problems ASSS would have logged and ignored while loading.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The raw string value of `section:key`, if set.
    pub fn get_str(&self, section: &str, key: &str) -> Option<&str> {
        self.section(section).and_then(|s| s.get(key))
    }

    /// The value of `section:key` trimmed, if set to something other than
    /// blanks (a text setting written empty means "not set").
    pub fn get_text(&self, section: &str, key: &str) -> Option<&str> {
        self.get_str(section, key)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    /// True if `section:key` is set (possibly to the empty string).
    pub fn contains(&self, section: &str, key: &str) -> bool {
        self.get_str(section, key).is_some()
    }

    /// An integer setting: `default` when missing, else ASSS `GetInt`
    /// rules (C `strtol` base 0, 32-bit truncation; a non-number is 1 if it
    /// starts with `y`/`Y`, else 0). See [`crate::parse_int`].
    pub fn get_int(&self, section: &str, key: &str, default: i32) -> i32 {
        self.get_str(section, key).map_or(default, parse_int)
    }

    /// A boolean setting: `default` when missing, else integer value ≠ 0
    /// (`yes` is true, `no`/`true`/`false` read 0 and are false, as in ASSS).
    pub fn get_bool(&self, section: &str, key: &str, default: bool) -> bool {
        self.get_str(section, key)
            .map_or(default, |v| parse_int(v) != 0)
    }

    /// An enum setting: a decimal number, or one of `names` with an optional
    /// `$` prefix, case-insensitive; anything else (or missing) is
    /// `default`. See [`crate::parse_enum`].
    pub fn get_enum(&self, section: &str, key: &str, names: &[(&str, i32)], default: i32) -> i32 {
        self.get_str(section, key)
            .map_or(default, |v| parse_enum(v, names, default))
    }

    /// Where `section:key` was last assigned, if it is set and the place is
    /// known (values set with [`set`](Self::set) have no origin).
    pub fn origin(&self, section: &str, key: &str) -> Option<&Origin> {
        self.section(section).and_then(|s| s.origin(key))
    }

    /// An integer setting read strictly: `default` when missing; the value
    /// when it is a whole number (see [`crate::parse_int_strict`]) inside
    /// `range`; otherwise `default` together with a [`Warning::BadValue`]
    /// naming the file and line the value came from, the section, the key,
    /// the bad value and the default used instead.
    pub fn get_int_checked(
        &self,
        section: &str,
        key: &str,
        default: i64,
        range: RangeInclusive<i64>,
    ) -> (i64, Option<Warning>) {
        debug_assert!(
            range.contains(&default),
            "{section}:{key} default outside its range"
        );
        let Some(text) = self.get_str(section, key) else {
            return (default, None);
        };
        let problem = match parse_int_strict(text) {
            Some(v) if range.contains(&v) => return (v, None),
            Some(_) => format!("is outside the range {}..={}", range.start(), range.end()),
            None => "is not a whole number".to_string(),
        };
        let warning = self.bad_value(section, key, text, problem, default.to_string());
        (default, Some(warning))
    }

    /// A boolean setting read strictly: `default` when missing; the value
    /// when it is a number or yes/no/on/off/true/false (see
    /// [`crate::parse_bool_strict`]); otherwise `default` with a
    /// [`Warning::BadValue`].
    pub fn get_bool_checked(
        &self,
        section: &str,
        key: &str,
        default: bool,
    ) -> (bool, Option<Warning>) {
        let Some(text) = self.get_str(section, key) else {
            return (default, None);
        };
        match parse_bool_strict(text) {
            Some(v) => (v, None),
            None => {
                let used = if default { "yes" } else { "no" };
                let problem = "is not yes or no".to_string();
                let warning = self.bad_value(section, key, text, problem, used.to_string());
                (default, Some(warning))
            }
        }
    }

    /// A [`Warning::BadValue`] for `section:key`, placed where the value
    /// was set.
    pub fn bad_value(
        &self,
        section: &str,
        key: &str,
        value: &str,
        problem: String,
        used: String,
    ) -> Warning {
        let (file, line) = match self.origin(section, key) {
            Some(o) => (o.file.to_string(), o.line),
            None => (format!("{} (set in memory)", self.path), 0),
        };
        Warning::BadValue {
            file,
            line,
            section: section.to_string(),
            key: key.to_string(),
            value: value.to_string(),
            problem,
            used,
        }
    }

    /// A section by name (case-insensitive).
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.find_section(name).ok().map(|i| &self.sections[i])
    }

    /// `Ok(index)` of section `name`, or where the index would take it.
    fn find_section(&self, name: &str) -> Result<usize, usize> {
        self.names.find(name, |i| &self.sections[i].name)
    }

    /// All sections in the order first seen (a `[Section]` header with no
    /// keys still makes an empty section).
    pub fn sections(&self) -> impl Iterator<Item = &Section> {
        self.sections.iter()
    }

    /// Sets a value in memory only (like `?seta -t`): later lookups see it,
    /// nothing is written to disk.
    pub fn set(&mut self, section: &str, key: &str, value: &str) {
        let i = self.ensure_section(section);
        self.sections[i].set(key, value, None);
    }

    /// Like [`set`](Self::set), recording where the value came from (for
    /// warnings about it), e.g. a command-line override labelled `--set`.
    pub fn set_from(&mut self, section: &str, key: &str, value: &str, origin: Origin) {
        let i = self.ensure_section(section);
        self.sections[i].set(key, value, Some(origin));
    }

    /// The index of `section`, created empty if new.
    pub(crate) fn ensure_section(&mut self, section: &str) -> usize {
        match self.find_section(section) {
            Ok(i) => i,
            Err(slot) => {
                self.names.insert(slot, self.sections.len());
                self.sections.push(Section::new(section));
                self.sections.len() - 1
            }
        }
    }

    pub(crate) fn add_file(&mut self, path: &str) {
        if !self.files.iter().any(|f| f == path) {
            self.files.push(path.to_string());
        }
    }

    /// Records a warning; past [`MAX_WARNINGS`] further ones are dropped.
    pub(crate) fn warn(&mut self, w: Warning) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(w);
        }
    }
}
