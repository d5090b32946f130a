//! Writing one setting back to a zone's config files (`?seta`, `?setg`;
//! docs/protocol/config.md §4).
//!
//! The change goes where the key was last assigned (the file and line the
//! reader recorded, so possibly an included file), replacing that line's
//! value and keeping every other line, comments included. A key set
//! nowhere is added to its section in the top-level file (after the
//! section's last setting), or in a new section at the end. The new text
//! is parsed again before anything is written, and must give the new
//! value; then it replaces the file atomically (a temporary file in the
//! same folder, synced, renamed over the old one), so a failure leaves the
//! old file as it was.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::ConfError;
use crate::file::ConfigFile;
use crate::source::{DirSource, FileSource};
use crate::zone::base_name;

/// Which config a change is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfTarget {
    /// `global.conf`.
    Global,
    /// The `arena.conf` of this arena (found through the search path).
    Arena(String),
}

/// Why a setting could not be written; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The config could not be loaded.
    #[error("{0}")]
    Load(#[from] ConfError),
    /// A name or value that would not read back as written.
    #[error("{0}")]
    Unwritable(String),
    /// The file that holds the key is not UTF-8 text.
    #[error("{0} is not UTF-8 text; change it by hand")]
    NotText(String),
    /// The line the key was read from no longer assigns it (the file
    /// changed under us).
    #[error("{path}:{line} no longer sets {name}; try again")]
    Moved {
        /// Zone-relative path.
        path: String,
        /// The line.
        line: usize,
        /// `Section:Key`.
        name: String,
    },
    /// After the change the config would still not give the new value
    /// (for example the place is inside an `#ifdef` that is off).
    #[error(
        "the change to {path} would not take effect ({name} would read {got:?}); change it by hand"
    )]
    NoEffect {
        /// Zone-relative path.
        path: String,
        /// `Section:Key`.
        name: String,
        /// What the key would read.
        got: Option<String>,
    },
    /// Writing the file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// What [`set_in_zone`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// Zone-relative path of the file changed.
    pub path: String,
    /// Line of the setting in it now.
    pub line: usize,
    /// The value before (`None`: it was not set).
    pub previous: Option<String>,
    /// The key was added (it was set nowhere).
    pub added: bool,
}

/// A name (section or key) that can be written as is.
fn writable_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '(' | ')'))
}

/// Checks that `value` reads back as written on one line.
fn check_value(value: &str) -> Result<(), EditError> {
    if value.contains(['\n', '\r', '\0', '\\']) {
        return Err(EditError::Unwritable(format!(
            "{value:?}: a value must be one line without backslashes"
        )));
    }
    if value.trim() != value {
        return Err(EditError::Unwritable(format!(
            "{value:?}: a value cannot start or end with a blank"
        )));
    }
    Ok(())
}

/// The key text of a logical line: everything before its first unescaped
/// `=`, trimmed, or the whole line if it has none.
fn key_part(line: &str) -> &str {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'=' => return line[..i].trim(),
            _ => i += 1,
        }
    }
    line.trim()
}

/// Whether `line` (a logical line) assigns `key` (in the current section)
/// or `section:key`.
fn assigns(line: &str, section: &str, key: &str) -> bool {
    let k = key_part(line).replace('\\', "");
    match k.split_once(':') {
        Some((s, k)) => {
            s.trim().eq_ignore_ascii_case(section) && k.trim().eq_ignore_ascii_case(key)
        }
        None => k.eq_ignore_ascii_case(key),
    }
}

/// The section a line opens, if it is a section header.
fn header(line: &str) -> Option<&str> {
    let t = line.trim();
    let rest = t.strip_prefix('[')?;
    Some(
        rest.trim_start_matches([' ', '\t', '['])
            .trim_end_matches([' ', '\t', ']']),
    )
}

/// A line that assigns something (not blank, comment, directive or
/// header).
fn is_assignment(line: &str) -> bool {
    let t = line.trim_start();
    !(t.is_empty() || line.starts_with('#') || t.starts_with([';', '/', '[']))
}

/// `text` with `section:key` set to `value`: at `origin` (the 1-based line
/// where the key was last assigned, the last line of a continued line) if
/// given, else added to the section. Returns the new text and the line
/// the setting is on.
pub fn edit_text(
    text: &str,
    origin: Option<usize>,
    section: &str,
    key: &str,
    value: &str,
) -> Result<(String, usize), EditError> {
    let crlf = text.contains("\r\n");
    let eol = if crlf { "\r\n" } else { "\n" };
    let mut lines: Vec<String> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
        .collect();
    // A final newline leaves an empty last element; keep it that way.
    let name = format!("{section}:{key}");
    let at = match origin {
        Some(line) => {
            let end = line
                .checked_sub(1)
                .filter(|&e| e < lines.len())
                .ok_or_else(|| EditError::Moved {
                    path: String::new(),
                    line,
                    name: name.clone(),
                })?;
            let mut start = end;
            while start > 0 && lines[start - 1].ends_with('\\') {
                start -= 1;
            }
            let joined: String = lines[start..=end]
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    if start + i < end {
                        l.strip_suffix('\\').unwrap_or(l)
                    } else {
                        l.as_str()
                    }
                })
                .collect();
            if !assigns(&joined, section, key) {
                return Err(EditError::Moved {
                    path: String::new(),
                    line,
                    name,
                });
            }
            let indent: String = joined
                .chars()
                .take_while(|c| *c == ' ' || *c == '\t')
                .collect();
            let new_line = format!("{indent}{} = {value}", key_part(&joined));
            lines.splice(start..=end, [new_line]);
            start + 1
        }
        None => {
            // The last block of `section` in this file: from its header to
            // the next header or include (an include may change the
            // section).
            let mut block = None;
            let mut i = 0;
            while i < lines.len() {
                if header(&lines[i]).is_some_and(|h| h.eq_ignore_ascii_case(section)) {
                    let mut last = i;
                    let mut j = i + 1;
                    while j < lines.len()
                        && header(&lines[j]).is_none()
                        && !lines[j].starts_with("#include")
                    {
                        if is_assignment(&lines[j]) {
                            last = j;
                        }
                        j += 1;
                    }
                    block = Some(last);
                    i = j;
                } else {
                    i += 1;
                }
            }
            let new_line = format!("{key} = {value}");
            match block {
                Some(last) => {
                    lines.insert(last + 1, new_line);
                    last + 2
                }
                None => {
                    while lines.last().is_some_and(|l| l.trim().is_empty()) {
                        lines.pop();
                    }
                    lines.push(String::new());
                    lines.push(format!("[{section}]"));
                    lines.push(new_line);
                    let at = lines.len();
                    lines.push(String::new());
                    at
                }
            }
        }
    };
    Ok((lines.join(eol), at))
}

/// A directory source with one file replaced by new contents.
#[derive(Debug)]
struct Overlay<'a> {
    dir: &'a DirSource,
    path: &'a str,
    data: &'a [u8],
}

impl FileSource for Overlay<'_> {
    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        if path == self.path {
            Ok(Some(self.data.to_vec()))
        } else {
            self.dir.read(path)
        }
    }

    fn describe(&self) -> String {
        self.dir.describe()
    }
}

fn load(source: &dyn FileSource, target: &ConfTarget) -> Result<ConfigFile, ConfError> {
    match target {
        ConfTarget::Global => ConfigFile::load(source, None, "global.conf"),
        ConfTarget::Arena(arena) => ConfigFile::load(source, Some(base_name(arena)), "arena.conf"),
    }
}

/// Replaces `path` atomically with `data`: a temporary file beside it
/// (same permissions), synced, then renamed over it. A symbolic link is
/// followed, so the file it points to is replaced.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let real = fs::canonicalize(path)?;
    let dir = real.parent().unwrap_or(Path::new("."));
    let name = real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        if let Ok(meta) = fs::metadata(&real) {
            f.set_permissions(meta.permissions())?;
        }
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, &real)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Sets `section:key = value` in the zone folder `dir`, in the config of
/// `target` (see the module comment for where). Nothing is written unless
/// the changed config reads the new value; the file is replaced
/// atomically.
pub fn set_in_zone(
    dir: &Path,
    target: &ConfTarget,
    section: &str,
    key: &str,
    value: &str,
) -> Result<Written, EditError> {
    if !writable_name(section) || !writable_name(key) {
        return Err(EditError::Unwritable(format!(
            "{section}:{key}: names may only hold letters, digits and _ - . ( )"
        )));
    }
    check_value(value)?;
    let source = DirSource::new(dir);
    let file = load(&source, target)?;
    let previous = file.get_str(section, key).map(str::to_string);
    let (path, origin) = match file.origin(section, key) {
        Some(o) if o.line > 0 => (o.file.to_string(), Some(o.line)),
        _ => (file.path().to_string(), None),
    };
    let bytes = source
        .read(&path)
        .map_err(|e| ConfError::Io {
            path: path.clone(),
            source: e,
        })?
        .ok_or_else(|| EditError::Moved {
            path: path.clone(),
            line: origin.unwrap_or(0),
            name: format!("{section}:{key}"),
        })?;
    let text = String::from_utf8(bytes).map_err(|_| EditError::NotText(path.clone()))?;
    let (new_text, line) = edit_text(&text, origin, section, key, value).map_err(|e| match e {
        EditError::Moved { line, name, .. } => EditError::Moved {
            path: path.clone(),
            line,
            name,
        },
        e => e,
    })?;
    let overlay = Overlay {
        dir: &source,
        path: &path,
        data: new_text.as_bytes(),
    };
    let check = load(&overlay, target)?;
    let got = check.get_str(section, key);
    if got != Some(value) {
        return Err(EditError::NoEffect {
            path,
            name: format!("{section}:{key}"),
            got: got.map(str::to_string),
        });
    }
    let full = source.resolve(&path).ok_or_else(|| {
        EditError::Unwritable(format!("{path}: not a path inside the zone folder"))
    })?;
    write_atomic(&full, new_text.as_bytes()).map_err(|source| EditError::Io {
        path: full.clone(),
        source,
    })?;
    Ok(Written {
        path,
        line,
        added: previous.is_none(),
        previous,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_value_where_it_is_set() {
        let text = "; top\n[Warbird]\n; speed\nBulletSpeed = 2000\nThrust = 5\n";
        let (t, line) = edit_text(text, Some(4), "Warbird", "BulletSpeed", "3000").expect("edit");
        assert_eq!(
            t,
            "; top\n[Warbird]\n; speed\nBulletSpeed = 3000\nThrust = 5\n"
        );
        assert_eq!(line, 4);
        // Section:Key form, indentation and CRLF kept.
        let text = "[A]\r\n  Warbird:BulletSpeed=1\r\nx = 2\r\n";
        let (t, _) = edit_text(text, Some(2), "Warbird", "BulletSpeed", "7").expect("edit");
        assert_eq!(t, "[A]\r\n  Warbird:BulletSpeed = 7\r\nx = 2\r\n");
        // A continued line becomes one line.
        let text = "[S]\nK = a\\\nb\nL = 1\n";
        let (t, line) = edit_text(text, Some(3), "S", "K", "c").expect("edit");
        assert_eq!((t.as_str(), line), ("[S]\nK = c\nL = 1\n", 2));
    }

    #[test]
    fn refuses_a_line_that_no_longer_sets_the_key() {
        let text = "[S]\nOther = 1\n";
        assert!(matches!(
            edit_text(text, Some(2), "S", "K", "1"),
            Err(EditError::Moved { .. })
        ));
        assert!(matches!(
            edit_text(text, Some(9), "S", "K", "1"),
            Err(EditError::Moved { .. })
        ));
    }

    #[test]
    fn adds_a_missing_key_to_its_section_or_a_new_one() {
        let text = "[A]\nx = 1\n\n; about B\n[B]\ny = 2\n; trailing\n\n[C]\n";
        let (t, line) = edit_text(text, None, "b", "z", "3").expect("edit");
        assert_eq!(
            t,
            "[A]\nx = 1\n\n; about B\n[B]\ny = 2\nz = 3\n; trailing\n\n[C]\n"
        );
        assert_eq!(line, 7);
        let (t, line) = edit_text("[A]\nx = 1\n\n", None, "New", "k", "v").expect("edit");
        assert_eq!(t, "[A]\nx = 1\n\n[New]\nk = v\n");
        assert_eq!(line, 5);
    }

    fn zone(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("conf-edit-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("conf")).expect("mkdir");
        fs::create_dir_all(dir.join("arenas/duel")).expect("mkdir");
        fs::create_dir_all(dir.join("arenas/(default)")).expect("mkdir");
        fs::write(dir.join("conf/global.conf"), "[Listen]\nPort = 5000\n").expect("write");
        fs::write(
            dir.join("arenas/(default)/arena.conf"),
            "; shared\n[Warbird]\n; bullets\nBulletSpeed = 2000\n",
        )
        .expect("write");
        fs::write(
            dir.join("arenas/duel/arena.conf"),
            "; duel\n#include arenas/(default)/arena.conf\n[Misc]\nBounceFactor = 22\n",
        )
        .expect("write");
        dir
    }

    #[test]
    fn writes_to_the_file_the_key_came_from() {
        let dir = zone("origin");
        let arena = ConfTarget::Arena("duel2".into());
        let w = set_in_zone(&dir, &arena, "Warbird", "BulletSpeed", "3000").expect("set");
        assert_eq!(
            w,
            Written {
                path: "arenas/(default)/arena.conf".into(),
                line: 4,
                previous: Some("2000".into()),
                added: false
            }
        );
        assert_eq!(
            fs::read_to_string(dir.join("arenas/(default)/arena.conf")).expect("read"),
            "; shared\n[Warbird]\n; bullets\nBulletSpeed = 3000\n"
        );
        // A key set nowhere goes into the arena's own file.
        let w = set_in_zone(&dir, &arena, "Misc", "TickerDelay", "500").expect("set");
        assert_eq!(
            (w.path.as_str(), w.line, w.added),
            ("arenas/duel/arena.conf", 5, true)
        );
        assert_eq!(
            fs::read_to_string(dir.join("arenas/duel/arena.conf")).expect("read"),
            "; duel\n#include arenas/(default)/arena.conf\n[Misc]\nBounceFactor = 22\nTickerDelay = 500\n"
        );
        let w = set_in_zone(&dir, &ConfTarget::Global, "Net", "MaxConnections", "10").expect("set");
        assert_eq!((w.path.as_str(), w.line), ("conf/global.conf", 5));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn refuses_what_would_not_read_back_and_writes_nothing() {
        let dir = zone("refuse");
        let before = fs::read(dir.join("conf/global.conf")).expect("read");
        for (s, k, v) in [
            ("Net", "Max Connections", "1"),
            ("Net", "MaxConnections", "a\\"),
            ("Net", "MaxConnections", " 1"),
            ("N]et", "MaxConnections", "1"),
        ] {
            assert!(
                matches!(
                    set_in_zone(&dir, &ConfTarget::Global, s, k, v),
                    Err(EditError::Unwritable(_))
                ),
                "{s}:{k}={v:?}"
            );
        }
        // Inside an #ifdef that is off the change would not count.
        let text = "[Net]\nMaxRetries = 3\n#ifdef NOPE\n[Net]\n#endif\n";
        fs::write(dir.join("conf/global.conf"), text).expect("write");
        let e = set_in_zone(&dir, &ConfTarget::Global, "Net", "DropTimeout", "1").unwrap_err();
        assert!(matches!(e, EditError::NoEffect { .. }), "{e}");
        assert_eq!(
            fs::read_to_string(dir.join("conf/global.conf")).expect("read"),
            text
        );
        assert_ne!(before.len(), 0);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_that_cannot_be_written_is_an_error_and_stays_whole() {
        let dir = zone("unwritable");
        let conf = dir.join("conf");
        // The temporary file's name is taken (by a folder), so the write
        // fails whoever runs the test (root included).
        let blocker = conf.join(format!(".global.conf.tmp-{}", std::process::id()));
        fs::create_dir(&blocker).expect("mkdir");
        let e = set_in_zone(&dir, &ConfTarget::Global, "Listen", "Port", "6000").unwrap_err();
        assert!(matches!(e, EditError::Io { .. }), "{e}");
        assert!(e.to_string().starts_with("cannot write "), "{e}");
        assert_eq!(
            fs::read_to_string(conf.join("global.conf")).expect("read"),
            "[Listen]\nPort = 5000\n"
        );
        fs::remove_dir(&blocker).expect("rmdir");
        set_in_zone(&dir, &ConfTarget::Global, "Listen", "Port", "6000").expect("now it works");
        let leftovers: Vec<_> = fs::read_dir(&conf)
            .expect("ls")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty());
        let _ = fs::remove_dir_all(&dir);
    }
}
