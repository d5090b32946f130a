//! ASSS's `conf/modules.conf`: which zone-wide features an operator's zone
//! folder asks for.
//!
//! ASSS loads exactly the modules that file lists; an ASSS zone folder that
//! leaves out `billing_ssc` has no biller link even if `[Billing]` is
//! filled in. We honour the same choice for the features we implement as
//! switchable parts (the table in [`SWITCHABLE`]); the core modules ASSS
//! needs to run at all are always part of ours. A zone folder without
//! `modules.conf` (and the embedded zone) keeps our defaults: everything on
//! that is configured.
//!
//! The file is one module per line, `name` or `file:name`; `;` and `#`
//! start comments. See `docs/protocol/config.md` §9.

use std::collections::BTreeSet;
use std::path::Path;

/// The ASSS module names we implement as switchable features, and what
/// each switches.
pub const SWITCHABLE: &[(&str, &str)] = &[
    ("billing_ssc", "the UDP billing server link"),
    ("auth_file", "local passwords from passwd.conf"),
    ("persist", "scores kept in the database"),
    ("directory", "directory server listing"),
    ("chatnet", "the chatnet TCP listener"),
];

/// ASSS modules whose work is always part of our zone (the core, game
/// rules, chat, commands, logging, encryption) or of every realm.
const BUILT_IN: &[&str] = &[
    "unixsignal",
    "deadlock",
    "prng",
    "logman",
    "log_console",
    "mainloop",
    "config",
    "log_file",
    "playerdata",
    "lagdata",
    "bw_default",
    "bw_nolimit",
    "net",
    "arenaman",
    "mapdata",
    "capman",
    "core",
    "clientset",
    "cmdman",
    "obscene",
    "chat",
    "cmdlist",
    "stats",
    "basicstats",
    "log_sysop",
    "log_staff",
    "auth_ban",
    "banners",
    "freqman",
    "game",
    "points_kill",
    "playercmd",
    "admincmd",
    "help",
    "enc_vie",
    "enc_null",
    "enc_cont",
    "enf_legalship",
    "enf_shipcount",
];

/// What `modules.conf` asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ZoneModules {
    /// The module names listed (the part after `file:`), or `None` when
    /// the zone has no `modules.conf`.
    listed: Option<BTreeSet<String>>,
}

impl ZoneModules {
    /// Every switchable feature on (no `modules.conf`).
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
    /// zone has none. An unreadable file is an error naming it.
    pub fn read(zone_dir: Option<&Path>) -> anyhow::Result<Self> {
        let Some(dir) = zone_dir else {
            return Ok(ZoneModules::all());
        };
        let path = dir.join("conf").join("modules.conf");
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(ZoneModules::parse(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ZoneModules::all()),
            Err(e) => Err(anyhow::anyhow!("reading {}: {e}", path.display())),
        }
    }

    /// Whether the switchable feature `name` (one of [`SWITCHABLE`]) may
    /// run: listed, or no `modules.conf` at all.
    pub fn enabled(&self, name: &str) -> bool {
        self.listed.as_ref().is_none_or(|l| l.contains(name))
    }

    /// What to tell the operator once at start: the switchable features
    /// left off, and the listed modules we do not have.
    pub fn notes(&self) -> (Vec<String>, Vec<String>) {
        let Some(listed) = &self.listed else {
            return (Vec::new(), Vec::new());
        };
        let off = SWITCHABLE
            .iter()
            .filter(|(name, _)| !listed.contains(*name))
            .map(|(name, what)| format!("{name} ({what})"))
            .collect();
        let unknown = listed
            .iter()
            .filter(|name| {
                !BUILT_IN.contains(&name.as_str()) && !SWITCHABLE.iter().any(|(s, _)| s == name)
            })
            .cloned()
            .collect();
        (off, unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASSS_STYLE: &str = "\
;; a comment
unixsignal
net
chatnet
scoring:persist ; inline comment
; directory
; billing_ssc
auth_file
funky:autowarp
peer:peer
";

    #[test]
    fn listed_modules_switch_features_on_and_the_rest_off() {
        let m = ZoneModules::parse(ASSS_STYLE);
        assert!(m.enabled("chatnet"));
        assert!(m.enabled("persist"), "file:name form");
        assert!(m.enabled("auth_file"));
        assert!(!m.enabled("billing_ssc"), "commented out");
        assert!(!m.enabled("directory"));
        let (off, unknown) = m.notes();
        assert_eq!(
            off,
            vec![
                "billing_ssc (the UDP billing server link)".to_string(),
                "directory (directory server listing)".to_string()
            ]
        );
        assert_eq!(unknown, vec!["autowarp".to_string(), "peer".to_string()]);
    }

    #[test]
    fn no_file_keeps_everything_on() {
        let m = ZoneModules::all();
        for (name, _) in SWITCHABLE {
            assert!(m.enabled(name));
        }
        assert_eq!(m.notes(), (Vec::new(), Vec::new()));
    }

    #[test]
    fn a_zone_folder_without_the_file_keeps_defaults() {
        let dir = std::env::temp_dir().join(format!("modules-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("conf")).unwrap();
        assert_eq!(ZoneModules::read(Some(&dir)).unwrap(), ZoneModules::all());
        std::fs::write(dir.join("conf/modules.conf"), "net\nbilling_ssc\n").unwrap();
        let m = ZoneModules::read(Some(&dir)).unwrap();
        assert!(m.enabled("billing_ssc"));
        assert!(!m.enabled("auth_file"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
