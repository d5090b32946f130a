//! Staff groups and capabilities (`staff.conf`, `groupdef.conf`;
//! `docs/protocol/commands-and-capabilities.md`).
//!
//! A player's group comes from `staff.conf` (the arena's base-name section
//! first, then `[(global)]`), and only for players who logged in with a
//! verified password; everyone else is in `default`. A group's
//! capabilities are the keys of its section in `groupdef.conf`.

use conf::{ConfigFile, ZoneConfig};

/// The group of players not listed in `staff.conf`.
pub const DEFAULT_GROUP: &str = "default";

/// Group and capability lookups for one arena.
#[derive(Default)]
pub struct Capabilities {
    staff: Option<ConfigFile>,
    groupdef: Option<ConfigFile>,
    base: String,
}

impl Capabilities {
    /// Loads `staff.conf` and `groupdef.conf` for the arena with this base
    /// name; missing files mean "everyone is default".
    pub fn load(zone: &ZoneConfig, arena_base: &str) -> Capabilities {
        Capabilities {
            staff: zone.load_file("staff.conf").ok(),
            groupdef: zone.load_file("groupdef.conf").ok(),
            base: arena_base.to_string(),
        }
    }

    /// From already parsed files (for tests).
    #[cfg(test)]
    pub fn from_files(staff: Option<ConfigFile>, groupdef: Option<ConfigFile>, base: &str) -> Self {
        Capabilities {
            staff,
            groupdef,
            base: base.to_string(),
        }
    }

    /// The group of a player.
    pub fn group_of(&self, name: &str, authenticated: bool) -> String {
        if !authenticated {
            return DEFAULT_GROUP.to_string();
        }
        let Some(staff) = &self.staff else {
            return DEFAULT_GROUP.to_string();
        };
        staff
            .get_str(&self.base, name)
            .or_else(|| staff.get_str("(global)", name))
            .filter(|g| !g.is_empty())
            .map_or_else(|| DEFAULT_GROUP.to_string(), |g| g.to_ascii_lowercase())
    }

    /// Whether `group` is defined (has a section in `groupdef.conf`);
    /// `default` always is.
    pub fn group_exists(&self, group: &str) -> bool {
        group.eq_ignore_ascii_case(DEFAULT_GROUP)
            || self
                .groupdef
                .as_ref()
                .is_some_and(|g| g.section(group).is_some())
    }

    /// The `?grplogin` password of a group (`[GroupPasswords]` in
    /// `staff.conf`), if it has one.
    pub fn group_password(&self, group: &str) -> Option<&str> {
        self.staff
            .as_ref()?
            .get_str("GroupPasswords", group)
            .filter(|p| !p.is_empty())
    }

    /// The `staff.conf` section that gives `name` his group: the arena's
    /// base name or `(global)`.
    pub fn staff_section(&self, name: &str) -> Option<String> {
        let staff = self.staff.as_ref()?;
        if staff.get_str(&self.base, name).is_some() {
            Some(self.base.clone())
        } else if staff.get_str("(global)", name).is_some() {
            Some("(global)".to_string())
        } else {
            None
        }
    }

    /// The arena's base name (its `staff.conf` section).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Whether a group has a capability.
    pub fn group_has(&self, group: &str, capability: &str) -> bool {
        self.groupdef
            .as_ref()
            .and_then(|g| g.section(group))
            .is_some_and(|s| s.get(capability).is_some())
    }

    /// The "higher than" rule (`docs/protocol/commands-and-capabilities.md`
    /// §2.3): a member of `group` may act on a member of `other` only if
    /// `group` has `higher_than_<other>`.
    pub fn higher_than(&self, group: &str, other: &str) -> bool {
        self.group_has(group, &format!("higher_than_{other}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps() -> Capabilities {
        let staff =
            ConfigFile::parse_str("[(global)]\nAlice = sysop\n[duel]\nBob = mod\n").unwrap();
        let groupdef = ConfigFile::parse_str(
            "[default]\ncmd_go\n[mod]\ncmd_go\nprivcmd_kick\n[sysop]\ncmd_realms\n",
        )
        .unwrap();
        Capabilities::from_files(Some(staff), Some(groupdef), "duel")
    }

    #[test]
    fn groups_need_authentication_and_arena_sections_win() {
        let c = caps();
        assert_eq!(c.group_of("alice", true), "sysop");
        assert_eq!(c.group_of("alice", false), "default");
        assert_eq!(c.group_of("bob", true), "mod");
        assert_eq!(c.group_of("carol", true), "default");
    }

    #[test]
    fn higher_than_follows_groupdef() {
        let groupdef = ConfigFile::parse_str(
            "[default]\n[mod]\nhigher_than_default\n[sysop]\nhigher_than_mod\nhigher_than_sysop\n",
        )
        .unwrap();
        let c = Capabilities::from_files(None, Some(groupdef), "0");
        assert!(c.higher_than("mod", "default"));
        assert!(!c.higher_than("mod", "mod"), "equals are not higher");
        assert!(!c.higher_than("default", "mod"));
        assert!(c.higher_than("sysop", "sysop"));
        assert!(
            !c.higher_than("sysop", "default"),
            "only what groupdef lists"
        );
    }

    #[test]
    fn groups_passwords_and_sections() {
        let staff = ConfigFile::parse_str(
            "[GroupPasswords]\nmod = letmein\n[(global)]\nAlice = sysop\n[duel]\nBob = mod\n",
        )
        .unwrap();
        let groupdef = ConfigFile::parse_str("[default]\n[mod]\ncmd_go\n").unwrap();
        let c = Capabilities::from_files(Some(staff), Some(groupdef), "duel");
        assert!(c.group_exists("mod") && c.group_exists("default"));
        assert!(!c.group_exists("wizard"));
        assert_eq!(c.group_password("mod"), Some("letmein"));
        assert_eq!(c.group_password("sysop"), None);
        assert_eq!(c.staff_section("bob").as_deref(), Some("duel"));
        assert_eq!(c.staff_section("alice").as_deref(), Some("(global)"));
        assert_eq!(c.staff_section("carol"), None);
    }

    #[test]
    fn capabilities_come_from_groupdef() {
        let c = caps();
        assert!(c.group_has("mod", "privcmd_kick"));
        assert!(!c.group_has("default", "privcmd_kick"));
        assert!(c.group_has("sysop", "cmd_realms"));
        assert!(!c.group_has("nosuchgroup", "cmd_go"));
    }
}
