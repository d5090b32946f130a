//! Changing one `key = value` line of an ASSS-format config file
//! (`staff.conf`, `passwd.conf`) the way an operator would by hand: every
//! other line, comments included, stays as it was, and the file is
//! replaced atomically (written to a temporary file beside it, synced, then
//! renamed over it), so a failed write leaves the old file whole
//! (`docs/protocol/commands-and-capabilities.md` §4.1).

use std::io::Write;
use std::path::Path;

/// Why a key cannot be written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EditError {
    /// The key or value would not read back as one setting.
    #[error("{0:?} cannot be written as a config key or value")]
    Unwritable(String),
}

/// Whether `s` reads back as the same key or value on one line.
fn writable(s: &str, is_key: bool) -> bool {
    let t = s.trim();
    !t.is_empty()
        && t.len() == s.len()
        && !s.contains(['\n', '\r'])
        && !(is_key && (s.contains('=') || s.starts_with(['[', ';', '#', '/'])))
}

/// The section a line opens, if it is a section header.
fn header(line: &str) -> Option<&str> {
    let t = line.trim();
    t.strip_prefix('[')?.strip_suffix(']').map(str::trim)
}

/// The key of a setting line (`key = value` or a bare `key`).
fn key_of(line: &str) -> Option<&str> {
    let t = line.trim();
    if t.is_empty() || t.starts_with([';', '#', '/', '[']) {
        return None;
    }
    Some(t.split('=').next().unwrap_or(t).trim())
}

/// `text` with `key` in `section` set to `value` (`None` removes it). The
/// first line of the key is replaced and later ones dropped (the parser
/// takes the last, so they would win); a missing key goes after the last
/// setting of the section's last occurrence; a missing section is added at
/// the end. Names compare case-insensitively.
pub fn set_key(
    text: &str,
    section: &str,
    key: &str,
    value: Option<&str>,
) -> Result<String, EditError> {
    if !writable(key, true) {
        return Err(EditError::Unwritable(key.to_string()));
    }
    if let Some(v) = value.filter(|v| !writable(v, false)) {
        return Err(EditError::Unwritable(v.to_string()));
    }
    let new_line = value.map(|v| format!("{key} = {v}"));
    let mut out: Vec<String> = Vec::new();
    let mut in_section = false;
    let mut done = false;
    // Where to insert a missing key: after this output line.
    let mut insert_at: Option<usize> = None;
    for line in text.lines() {
        if let Some(name) = header(line) {
            in_section = name.eq_ignore_ascii_case(section);
            out.push(line.to_string());
            if in_section {
                insert_at = Some(out.len());
            }
            continue;
        }
        if in_section {
            if key_of(line).is_some_and(|k| k.eq_ignore_ascii_case(key)) {
                if let (Some(l), false) = (&new_line, done) {
                    out.push(l.clone());
                    done = true;
                }
                continue;
            }
            if key_of(line).is_some() {
                insert_at = Some(out.len() + 1);
            }
        }
        out.push(line.to_string());
    }
    if let (Some(l), false) = (new_line, done) {
        match insert_at {
            Some(i) => out.insert(i, l),
            None => {
                if out.last().is_some_and(|l| !l.trim().is_empty()) {
                    out.push(String::new());
                }
                out.push(format!("[{section}]"));
                out.push(l);
            }
        }
    }
    let mut s = out.join("\n");
    s.push('\n');
    Ok(s)
}

/// Replaces `path` with `contents` atomically: a temporary file in the same
/// folder, synced, renamed over it. On failure the old file is untouched
/// and the temporary file removed.
pub fn write_atomic(path: &Path, contents: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Reads `path` (missing = empty), sets the key and writes it back
/// atomically; a message for the caller on failure.
pub fn edit_file(path: &Path, section: &str, key: &str, value: Option<&str>) -> Result<(), String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let new = set_key(&text, section, key, value).map_err(|e| e.to_string())?;
    write_atomic(path, &new).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAFF: &str = "; Staff list\n[GroupPasswords]\n; group = password\n\n[(global)]\n; comment\nAlice = sysop\n\n[duel]\nBob = mod\n";

    #[test]
    fn a_new_key_goes_into_its_section_and_comments_stay() {
        let out = set_key(STAFF, "(global)", "Carol", Some("mod")).unwrap();
        assert_eq!(
            out,
            "; Staff list\n[GroupPasswords]\n; group = password\n\n[(global)]\n; comment\nAlice = sysop\nCarol = mod\n\n[duel]\nBob = mod\n"
        );
        let conf = conf::ConfigFile::parse_str(&out).unwrap();
        assert_eq!(conf.get_str("(global)", "carol"), Some("mod"));
        assert_eq!(conf.get_str("duel", "bob"), Some("mod"));
    }

    #[test]
    fn an_existing_key_is_replaced_and_duplicates_dropped() {
        let text = "[(global)]\nalice = mod\nALICE = smod\n";
        let out = set_key(text, "(Global)", "Alice", Some("sysop")).unwrap();
        assert_eq!(out, "[(global)]\nAlice = sysop\n");
        let out = set_key(text, "(global)", "alice", None).unwrap();
        assert_eq!(out, "[(global)]\n");
    }

    #[test]
    fn a_missing_section_is_added_and_empty_sections_get_the_key() {
        let out = set_key("[Users]\n", "Users", "bob", Some("any")).unwrap();
        assert_eq!(out, "[Users]\nbob = any\n");
        let out = set_key("; x\n", "duel", "bob", Some("mod")).unwrap();
        assert_eq!(out, "; x\n\n[duel]\nbob = mod\n");
        assert_eq!(set_key("", "a", "b", Some("c")).unwrap(), "[a]\nb = c\n");
    }

    #[test]
    fn keys_and_values_that_would_not_read_back_are_refused() {
        for (k, v) in [
            ("a=b", "x"),
            ("[x", "y"),
            (";c", "y"),
            ("a", "x\ny"),
            (" a", "x"),
        ] {
            assert!(set_key("", "s", k, Some(v)).is_err(), "{k:?} {v:?}");
        }
    }

    #[test]
    fn files_are_replaced_whole_or_not_at_all() {
        let dir = std::env::temp_dir().join(format!("conf-edit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("staff.conf");
        std::fs::write(&path, STAFF).unwrap();
        edit_file(&path, "(global)", "Dave", Some("smod")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("Dave = smod") && text.starts_with("; Staff list"));
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left");
        // A folder that cannot be written: a clear error, the file intact.
        let missing = dir.join("nosuch").join("staff.conf");
        let err = edit_file(&missing, "(global)", "Eve", Some("mod")).unwrap_err();
        assert!(err.contains("cannot write"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
