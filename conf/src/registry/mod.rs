//! The registry of settings: every `Section:Key` Subsumption knows, with
//! its scope, type, default, what reads it and a help text
//! (docs/protocol/config.md §10).
//!
//! Three kinds of names are known:
//!
//! - **read**: settings the server itself reads (module `table`);
//! - **client**: fields of the arena settings packet, which the server only
//!   sends to clients (`ss_proto::settings::fields`,
//!   docs/protocol/client-settings.md);
//! - **not implemented**: names ASSS reads that Subsumption does not
//!   (module `asss`); setting them does nothing.
//!
//! Anything else is unknown: nothing reads it. [`check_file`] reports such
//! keys of a loaded file, and `?seta`/`?setg` refuse them.

mod asss;
mod table;

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use ss_proto::settings::{fields, FieldKind, FieldSpec, SHIP_NAMES};

use crate::error::Warning;
use crate::file::ConfigFile;
use crate::value::parse_int_strict;

/// Which file a setting is read from (docs/protocol/config.md §2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `global.conf` (`?setg`).
    Global,
    /// The arena's `arena.conf` (`?seta`).
    Arena,
}

impl Scope {
    /// `a global` or `an arena`.
    pub fn with_article(self) -> &'static str {
        match self {
            Scope::Global => "a global",
            Scope::Arena => "an arena",
        }
    }

    /// `global` or `arena`.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Arena => "arena",
        }
    }
}

/// What values a setting takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A whole number in `min..=max`.
    Int {
        /// Smallest value.
        min: i64,
        /// Largest value.
        max: i64,
    },
    /// Yes or no: a number (0 = no) or `yes`/`no`.
    Bool,
    /// Any text on one line.
    Text,
    /// One of these words (case-insensitive).
    Choice(&'static [&'static str]),
}

impl Kind {
    /// A short description: `int 0..65534`, `bool`, `text`, `one of a, b`.
    pub fn describe(&self) -> String {
        match self {
            Kind::Int { min, max } => format!("integer {min}..{max}"),
            Kind::Bool => "yes/no (1/0)".to_string(),
            Kind::Text => "text".to_string(),
            Kind::Choice(words) => format!("one of {}", words.join(", ")),
        }
    }

    /// Whether `value` is a valid value; the error says why not.
    pub fn check(&self, value: &str) -> Result<(), String> {
        let v = value.trim();
        match *self {
            Kind::Int { min, max } => match parse_int_strict(v) {
                Some(n) if (min..=max).contains(&n) => Ok(()),
                Some(_) => Err(format!("{v:?} is outside the range {min}..{max}")),
                None => Err(format!("{v:?} is not a whole number")),
            },
            Kind::Bool => {
                // The realm reads yes/no as ASSS does (a number, or a word
                // starting with y); only spellings both readers agree on
                // are accepted.
                let ok = parse_int_strict(v).is_some()
                    || matches!(v.to_ascii_lowercase().as_str(), "yes" | "no" | "y" | "n");
                if ok {
                    Ok(())
                } else {
                    Err(format!("{v:?} is not yes/no (use 1 or 0)"))
                }
            }
            Kind::Text => Ok(()),
            Kind::Choice(words) => {
                if words.iter().any(|w| w.eq_ignore_ascii_case(v)) {
                    Ok(())
                } else {
                    Err(format!("{v:?} is not one of {}", words.join(", ")))
                }
            }
        }
    }
}

/// One entry of the server-side table.
#[derive(Clone, Copy, Debug)]
pub struct Setting {
    /// Section; `All` means each ship section.
    pub section: &'static str,
    /// Key; `#` stands for a number, `*` for any key.
    pub key: &'static str,
    /// Which file it is read from.
    pub scope: Scope,
    /// Its values.
    pub kind: Kind,
    /// The value used when it is not set (empty: none).
    pub default: &'static str,
    /// What reads it.
    pub reader: &'static str,
    /// What it does.
    pub help: &'static str,
}

impl Setting {
    /// Whether the setting is read only when the zone starts (a change
    /// needs a restart).
    pub fn read_at_start(&self) -> bool {
        self.help.ends_with("Read at start.")
    }
}

/// How a known name is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The server reads it.
    Read,
    /// A client setting: sent to players in the arena settings packet.
    Client,
    /// ASSS reads it; Subsumption does not implement it.
    NotImplemented,
}

/// Everything known about one `Section:Key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Known {
    /// How it is used.
    pub status: Status,
    /// Which file it is read from.
    pub scope: Scope,
    /// Its values.
    pub kind: Kind,
    /// Default when unset ("" = none).
    pub default: String,
    /// What reads it.
    pub reader: &'static str,
    /// What it does.
    pub help: String,
    /// Also a client setting (sent in the arena settings packet), so it
    /// belongs in arena files even when the server reads it globally.
    pub client: bool,
}

impl Known {
    /// Whether a file of `scope` is a place where this key is read.
    pub fn read_in(&self, scope: Scope) -> bool {
        self.scope == scope || (self.client && scope == Scope::Arena)
    }
}

fn is_ship(section: &str) -> bool {
    SHIP_NAMES.iter().any(|s| s.eq_ignore_ascii_case(section))
}

fn section_matches(pattern: &str, section: &str) -> bool {
    pattern.eq_ignore_ascii_case(section) || (pattern == "All" && is_ship(section))
}

/// `*` = any key; one `#` = one or more digits.
fn key_matches(pattern: &str, key: &str) -> bool {
    if pattern == "*" {
        return !key.is_empty();
    }
    match pattern.split_once('#') {
        None => pattern.eq_ignore_ascii_case(key),
        Some((pre, post)) => {
            key.len() > pre.len() + post.len()
                && key.is_char_boundary(pre.len())
                && key.is_char_boundary(key.len() - post.len())
                && key[..pre.len()].eq_ignore_ascii_case(pre)
                && key[key.len() - post.len()..].eq_ignore_ascii_case(post)
                && key[pre.len()..key.len() - post.len()]
                    .bytes()
                    .all(|b| b.is_ascii_digit())
        }
    }
}

/// What one exact `section:key` (lowercase) names, for fast lookups.
#[derive(Default)]
struct Names {
    server: Option<&'static Setting>,
    client: Option<FieldSpec>,
    asss: Option<Scope>,
}

/// Every exact name, indexed once; ship entries (`All`) under each ship.
fn index() -> &'static HashMap<String, Names> {
    static INDEX: OnceLock<HashMap<String, Names>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut map: HashMap<String, Names> = HashMap::new();
        let sections = |s: &'static str| -> Vec<&'static str> {
            if s == "All" {
                SHIP_NAMES.to_vec()
            } else {
                vec![s]
            }
        };
        let lower =
            |s: &str, k: &str| format!("{}:{}", s.to_ascii_lowercase(), k.to_ascii_lowercase());
        for e in table::SETTINGS
            .iter()
            .filter(|e| !e.key.contains(['#', '*']))
        {
            for s in sections(e.section) {
                map.entry(lower(s, e.key))
                    .or_default()
                    .server
                    .get_or_insert(e);
            }
        }
        for f in fields() {
            map.entry(lower(f.section, f.key))
                .or_default()
                .client
                .get_or_insert(f);
        }
        for &(section, key, scope) in asss::ASSS_SETTINGS {
            for s in sections(section) {
                map.entry(lower(s, key))
                    .or_default()
                    .asss
                    .get_or_insert(scope);
            }
        }
        map
    })
}

fn names(section: &str, key: &str) -> Option<&'static Names> {
    index().get(&format!(
        "{}:{}",
        section.to_ascii_lowercase(),
        key.to_ascii_lowercase()
    ))
}

/// The server-side entry of `section:key`, if the server reads it.
pub fn server_setting(section: &str, key: &str) -> Option<&'static Setting> {
    // Exact names before patterns (`Directory:Port` before `Port#`).
    static PATTERNS: OnceLock<Vec<&'static Setting>> = OnceLock::new();
    let patterns = PATTERNS.get_or_init(|| {
        table::SETTINGS
            .iter()
            .filter(|s| s.key.contains(['#', '*']))
            .collect()
    });
    names(section, key).and_then(|n| n.server).or_else(|| {
        patterns
            .iter()
            .copied()
            .find(|s| section_matches(s.section, section) && key_matches(s.key, key))
    })
}

fn client_kind(kind: FieldKind, scale: i32) -> Kind {
    let scale = i64::from(scale.max(1));
    match kind {
        FieldKind::I32 => Kind::Int {
            min: i64::from(i32::MIN) / scale,
            max: i64::from(i32::MAX) / scale,
        },
        FieldKind::I16 => Kind::Int {
            min: i64::from(i16::MIN),
            max: i64::from(i16::MAX),
        },
        FieldKind::U8 => Kind::Int { min: 0, max: 255 },
        FieldKind::Bits { width, .. } => Kind::Int {
            min: 0,
            max: (1i64 << width) - 1,
        },
    }
}

/// Everything known about `section:key`, or `None` if nothing reads it.
pub fn lookup(section: &str, key: &str) -> Option<Known> {
    let server = server_setting(section, key);
    let exact = names(section, key);
    let client = exact.and_then(|n| n.client);
    if let Some(s) = server {
        let mut help = s.help.to_string();
        if client.is_some() {
            help.push_str(" Also sent to clients in the arena settings packet.");
        }
        return Some(Known {
            status: Status::Read,
            scope: s.scope,
            kind: s.kind,
            default: s.default.to_string(),
            reader: s.reader,
            help,
            client: client.is_some(),
        });
    }
    if let Some(f) = client {
        let what = if is_ship(section) {
            "Ship setting"
        } else {
            "Client setting"
        };
        return Some(Known {
            status: Status::Client,
            scope: Scope::Arena,
            kind: client_kind(f.kind, f.scale),
            default: "0".to_string(),
            reader: "clients (arena settings packet)",
            help: format!(
                "{what} sent to every player in the arena settings packet \
                 (docs/protocol/client-settings.md); the client applies it."
            ),
            client: true,
        });
    }
    exact.and_then(|n| n.asss).map(|scope| Known {
        status: Status::NotImplemented,
        scope,
        kind: Kind::Text,
        default: String::new(),
        reader: "nothing (ASSS setting not implemented by Subsumption)",
        help: "ASSS reads this setting; Subsumption does not implement it, so it has no effect."
            .to_string(),
        client: false,
    })
}

/// The canonical spelling of a section name: the table's, else as given.
pub fn canonical_section(section: &str) -> String {
    if let Some(s) = SHIP_NAMES.iter().find(|s| s.eq_ignore_ascii_case(section)) {
        return s.to_string();
    }
    if let Some(s) = table::SETTINGS
        .iter()
        .find(|s| s.section.eq_ignore_ascii_case(section))
    {
        return s.section.to_string();
    }
    if let Some(f) = fields().find(|f| f.section.eq_ignore_ascii_case(section)) {
        return f.section.to_string();
    }
    section.to_string()
}

/// The canonical spelling of a key of `section`: the table's or the
/// settings packet's, else as given (keys matched by a pattern).
pub fn canonical_key(section: &str, key: &str) -> String {
    if let Some(s) = server_setting(section, key).filter(|s| !s.key.contains(['#', '*'])) {
        return s.key.to_string();
    }
    if let Some(f) = fields()
        .find(|f| f.section.eq_ignore_ascii_case(section) && f.key.eq_ignore_ascii_case(key))
    {
        return f.key.to_string();
    }
    key.to_string()
}

/// Every section name known (server, client and ASSS), sorted, ships
/// listed by name.
pub fn sections() -> Vec<String> {
    let mut set: BTreeSet<String> = BTreeSet::new();
    for s in table::SETTINGS.iter().map(|s| s.section) {
        if s != "All" {
            set.insert(s.to_string());
        }
    }
    for f in fields() {
        set.insert(f.section.to_string());
    }
    set.into_iter().collect()
}

/// The keys known in `section` that Subsumption uses (server and client),
/// in table order, patterns as written (`Server#`).
pub fn keys(section: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |k: &str| {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(k)) {
            out.push(k.to_string());
        }
    };
    for s in table::SETTINGS.iter() {
        if section_matches(s.section, section) {
            push(s.key);
        }
    }
    for f in fields() {
        if f.section.eq_ignore_ascii_case(section) {
            push(f.key);
        }
    }
    out
}

/// The lines `?help Section:Key` shows (like ASSS's `cfghelp`).
pub fn help_lines(section: &str, key: &str) -> Vec<String> {
    let Some(k) = lookup(section, key) else {
        return vec![format!(
            "{section}:{key} is not a setting Subsumption knows; nothing reads it."
        )];
    };
    let section = canonical_section(section);
    let key = canonical_key(&section, key);
    let mut lines = vec![format!("Help on setting {section}:{key}")];
    lines.push(format!(
        "  Location: {}",
        match k.scope {
            Scope::Global => "global (global.conf, ?setg)",
            Scope::Arena => "arena (arena.conf, ?seta)",
        }
    ));
    lines.push(format!("  Type: {}", k.kind.describe()));
    if !k.default.is_empty() {
        lines.push(format!("  Default: {}", k.default));
    }
    lines.push(format!("  Read by: {}", k.reader));
    lines.push(format!("  {}", k.help));
    lines
}

/// One problem [`check_file`] found with a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyProblem {
    /// Nothing reads this key.
    Unknown,
    /// A setting of the other scope: nothing reads it from this file.
    WrongScope(Scope),
    /// An ASSS setting Subsumption does not implement.
    NotImplemented,
}

/// Checks every key of a loaded `global.conf` (`scope` = Global) or arena
/// file (`scope` = Arena): unknown keys and keys of the other scope are
/// [`Warning::UnknownSetting`] / [`Warning::WrongScope`] at the file and
/// line that set them; ASSS keys we do not implement are returned by name
/// (`Section:Key`) for one summary line. Keys set without a file line
/// (`--set`) are placed at `--set`.
pub fn check_file(file: &ConfigFile, scope: Scope) -> (Vec<Warning>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut ignored = Vec::new();
    for section in file.sections() {
        for key in section.keys() {
            if key.contains(char::is_whitespace) {
                // Not a `key = value` line: the parser reported it already.
                continue;
            }
            let problem = match lookup(section.name(), key) {
                None => Some(KeyProblem::Unknown),
                Some(k) if k.status == Status::NotImplemented => Some(KeyProblem::NotImplemented),
                Some(k) if !k.read_in(scope) => Some(KeyProblem::WrongScope(k.scope)),
                Some(_) => None,
            };
            let Some(problem) = problem else { continue };
            let (path, line) = match section.origin(key) {
                Some(o) => (o.file.to_string(), o.line),
                None => (file.path().to_string(), 0),
            };
            let name = format!("{}:{key}", section.name());
            match problem {
                KeyProblem::NotImplemented => ignored.push(name),
                KeyProblem::Unknown => warnings.push(Warning::UnknownSetting {
                    file: path,
                    line,
                    name,
                }),
                KeyProblem::WrongScope(belongs) => warnings.push(Warning::WrongScope {
                    file: path,
                    line,
                    name,
                    belongs: belongs.with_article(),
                }),
            }
        }
    }
    (warnings, ignored)
}

/// Settings `?setg` may not change: they name a program the supervisor
/// runs, a file it writes, or a listener that shows player data, so a
/// game account (or a misbehaving realm) must not be able to point them
/// elsewhere.
const OPERATOR_ONLY: &[(&str, &str)] = &[
    ("Realms", "WorkerPath"),
    ("Persist", "DatabasePath"),
    ("Metrics", "Listen"),
    ("Metrics", "Token"),
];

/// Whether `?seta`/`?setg` may change `section:key` (docs/protocol/config.md §4).
pub fn settable_from_game(section: &str, key: &str) -> bool {
    !OPERATOR_ONLY
        .iter()
        .any(|(s, k)| s.eq_ignore_ascii_case(section) && k.eq_ignore_ascii_case(key))
}

/// Checks a value for `section:key` before it is set from the game: the
/// key must be one Subsumption uses, of `scope`, and the value of its type.
/// The error is a message for the person who typed it.
pub fn check_set(scope: Scope, section: &str, key: &str, value: &str) -> Result<Known, String> {
    if section.is_empty() || key.is_empty() {
        return Err("Give the setting as Section:Key=Value.".to_string());
    }
    if value.contains(['\n', '\r', '\0']) {
        return Err("A value must be one line.".to_string());
    }
    let Some(known) = lookup(section, key) else {
        let hint = if sections().iter().any(|s| s.eq_ignore_ascii_case(section)) {
            format!("; ?help {section}: lists its keys")
        } else {
            "; ?help : lists the sections".to_string()
        };
        return Err(format!(
            "{section}:{key} is not a setting Subsumption knows{hint}. Nothing was changed."
        ));
    };
    if known.status == Status::NotImplemented {
        return Err(format!(
            "{section}:{key} is an ASSS setting Subsumption does not implement; nothing would read it. Nothing was changed."
        ));
    }
    if !settable_from_game(section, key) {
        return Err(format!(
            "{section}:{key} names a program, file or listener on the server; only the operator changes it, in the file. Nothing was changed."
        ));
    }
    if !known.read_in(scope) {
        let cmd = match known.scope {
            Scope::Global => "?setg",
            Scope::Arena => "?seta",
        };
        return Err(format!(
            "{section}:{key} is {} setting; use {cmd}. Nothing was changed.",
            known.scope.with_article()
        ));
    }
    known
        .kind
        .check(value)
        .map_err(|e| format!("{section}:{key}: {e}. Nothing was changed."))?;
    Ok(known)
}

#[cfg(test)]
mod tests;
