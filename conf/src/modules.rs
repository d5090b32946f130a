//! ASSS's `conf/modules.conf`: which modules an operator's zone folder
//! loads (`docs/protocol/config.md` §9). The supervisor switches its
//! optional features by it; realms run ASSS's zone-wide game modules
//! (`balls`, `bricks`) in every arena when it lists them.
//!
//! The file is one module per line, `name` or `file:name`; `;` and `#`
//! start comments. Names are compared in lower case.

use std::collections::BTreeSet;
use std::path::Path;

/// What `modules.conf` asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ZoneModules {
    /// The module names listed (the part after `file:`), or `None` when
    /// the zone has no `modules.conf`.
    listed: Option<BTreeSet<String>>,
}

impl ZoneModules {
    /// No `modules.conf`: every optional feature on, nothing more.
    pub fn all() -> Self {
        ZoneModules::default()
    }

    /// Parses the text of a `modules.conf`.
    pub fn parse(text: &str) -> Self {
        let listed = text
            .lines()
            .map(|line| line.split([';', '#']).next().unwrap_or("").trim())
            .filter(|line| !line.is_empty())
            .map(|entry| {
                let name = entry.rsplit(':').next().unwrap_or(entry);
                name.trim().to_ascii_lowercase()
            })
            .filter(|name| !name.is_empty())
            .collect();
        ZoneModules {
            listed: Some(listed),
        }
    }

    /// Reads `DIR/conf/modules.conf` of a zone folder; `all()` when the
    /// zone has none (or is the embedded one). An unreadable file is an
    /// error naming it.
    pub fn read(zone_dir: Option<&Path>) -> std::io::Result<Self> {
        let Some(dir) = zone_dir else {
            return Ok(ZoneModules::all());
        };
        let path = dir.join("conf").join("modules.conf");
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(ZoneModules::parse(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ZoneModules::all()),
            Err(e) => Err(std::io::Error::new(
                e.kind(),
                format!("reading {}: {e}", path.display()),
            )),
        }
    }

    /// Whether an optional feature may run: listed, or no `modules.conf`
    /// at all.
    pub fn enabled(&self, name: &str) -> bool {
        self.listed.as_ref().is_none_or(|l| l.contains(name))
    }

    /// Whether the file exists and names `name`.
    pub fn lists(&self, name: &str) -> bool {
        self.listed.as_ref().is_some_and(|l| l.contains(name))
    }

    /// The names listed, in order (none without a file).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.listed.iter().flatten().map(String::as_str)
    }

    /// Whether the zone has a `modules.conf`.
    pub fn has_file(&self) -> bool {
        self.listed.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_comments_and_file_prefixes() {
        let m =
            ZoneModules::parse(";; c\nnet\nscoring:Persist ; inline\n# bricks\nfunky:autowarp\n");
        assert_eq!(
            m.names().collect::<Vec<_>>(),
            ["autowarp", "net", "persist"]
        );
        assert!(m.lists("persist") && m.enabled("persist"));
        assert!(!m.lists("bricks") && !m.enabled("bricks"));
        let none = ZoneModules::all();
        assert!(none.enabled("bricks") && !none.lists("bricks") && !none.has_file());
    }

    #[test]
    fn a_zone_folder_without_the_file_keeps_defaults() {
        let dir = std::env::temp_dir().join(format!("conf-modules-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("conf")).unwrap();
        assert_eq!(ZoneModules::read(Some(&dir)).unwrap(), ZoneModules::all());
        std::fs::write(dir.join("conf/modules.conf"), "net\nbilling_ssc\n").unwrap();
        let m = ZoneModules::read(Some(&dir)).unwrap();
        assert!(m.enabled("billing_ssc"));
        assert!(!m.enabled("auth_file"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
