//! Settings changed from the game: `?seta`/`?setg` and `?reloadconf`
//! (`docs/protocol/config.md` §4). The zone folder belongs to the
//! supervisor, so it is the only writer: a realm forwards the request, the
//! supervisor checks it against the settings registry, writes the file the
//! key comes from (`conf::set_in_zone`: atomic, re-parsed first) and
//! reloads as `zone-supervisor reload` does, which makes every realm
//! re-read its config and send changed arena settings to its players.

use conf::registry::{self, Scope};
use conf::ConfTarget;
use ss_proto::game::chat_type;
use tracing::{info, warn};

use crate::config::Settings;
use crate::state::SlotId;
use crate::zone::Zone;

impl Zone {
    fn tell(&mut self, pid: i16, text: &str) {
        self.call_message_to(pid, chat_type::ARENA, 0, text);
    }

    /// A player's name for the log (his pid if he is gone).
    fn asker_name(&self, pid: i16) -> String {
        self.players
            .get(pid)
            .map_or_else(|| format!("pid {pid}"), |p| p.name.clone())
    }

    /// `?seta`/`?setg` from a player of realm `slot_id`.
    pub(crate) fn call_set_setting(
        &mut self,
        slot_id: SlotId,
        pid: i16,
        global: bool,
        section: &str,
        key: &str,
        value: &str,
    ) {
        let who = self.asker_name(pid);
        match self.set_setting(slot_id, &who, global, section, key, value.trim()) {
            Ok(lines) => {
                for line in lines {
                    self.tell(pid, &line);
                }
            }
            Err(msg) => {
                info!(player = %who, "setting {section}:{key} refused: {msg}");
                self.tell(pid, &msg);
            }
        }
    }

    /// Several arena settings from `?quickfix` (C2S 0x1D): each written as
    /// `?seta` writes it, then one reload; the player gets one line for
    /// what was written and one for each refusal.
    pub(crate) fn call_set_arena_settings(
        &mut self,
        slot_id: SlotId,
        pid: i16,
        changes: &[(String, String, String)],
    ) {
        let who = self.asker_name(pid);
        let mut written = 0;
        if changes.len() > ipc_proto::MAX_SETTINGS_AT_ONCE {
            warn!(player = %who, n = changes.len(), "more settings at once than taken; the rest dropped");
        }
        for (section, key, value) in changes.iter().take(ipc_proto::MAX_SETTINGS_AT_ONCE) {
            match self.write_setting(slot_id, &who, false, section, key, value.trim()) {
                Ok(_) => written += 1,
                Err(msg) => {
                    info!(player = %who, "setting {section}:{key} refused: {msg}");
                    self.tell(pid, &msg);
                }
            }
        }
        if written == 0 {
            return;
        }
        self.tell(pid, &format!("{written} arena settings written."));
        if let Some(e) = self.reload_after_writing("?quickfix") {
            self.tell(
                pid,
                &format!("The files were written but the reload failed: {e}"),
            );
        }
    }

    /// Reloads after `what` was written; why the reload failed, if it did
    /// (logged).
    fn reload_after_writing(&mut self, what: &str) -> Option<String> {
        let e = self.reload().err()?;
        warn!("reload after {what} changed: {e}");
        Some(e)
    }

    fn set_setting(
        &mut self,
        slot_id: SlotId,
        who: &str,
        global: bool,
        section: &str,
        key: &str,
        value: &str,
    ) -> Result<Vec<String>, String> {
        let (name, mut lines) = self.write_setting(slot_id, who, global, section, key, value)?;
        if let Some(e) = self.reload_after_writing(&name) {
            lines.push(format!("The file was written but the reload failed: {e}"));
        }
        Ok(lines)
    }

    /// Checks and writes one setting without reloading; its name and the
    /// lines for the player.
    fn write_setting(
        &mut self,
        slot_id: SlotId,
        who: &str,
        global: bool,
        section: &str,
        key: &str,
        value: &str,
    ) -> Result<(String, Vec<String>), String> {
        let scope = if global { Scope::Global } else { Scope::Arena };
        // The realm checked this too; the supervisor does not rely on it.
        registry::check_set(scope, section, key, value)?;
        let section = registry::canonical_section(section);
        let key = registry::canonical_key(&section, key);
        let name = format!("{section}:{key}");
        let Some(dir) = self.s.zone_dir.clone() else {
            return Err(format!(
                "This zone runs on its built-in defaults (no zone folder), so there is no file to \
                 write {name} to. Nothing was changed. Write the zone out with `zone-supervisor \
                 init DIR` and run it with --zone DIR."
            ));
        };
        let target = if global {
            ConfTarget::Global
        } else {
            let realm = self
                .state
                .registry
                .get(slot_id)
                .map(|s| s.name.clone())
                .ok_or("Your arena is gone. Nothing was changed.")?;
            ConfTarget::Arena(realm)
        };
        // A global value that would make the zone's settings contradict
        // each other (a reload would refuse them) is refused before
        // anything is written.
        if global {
            let mut args = self.s.args.clone();
            args.overrides.push(format!("{name}={value}"));
            if let Err(e) = Settings::read(&args) {
                return Err(format!(
                    "{name} = {value} refused: {e:#}. Nothing was changed."
                ));
            }
        }
        let written = conf::set_in_zone(&dir, &target, &section, &key, value)
            .map_err(|e| format!("{name} was not changed: {e}."))?;
        let secret =
            key.to_ascii_lowercase().contains("password") || key.eq_ignore_ascii_case("token");
        info!(
            player = %who,
            file = %written.path,
            line = written.line,
            "config: {name} = {} written",
            if secret { "..." } else { value }
        );
        let mut lines = vec![match &written.previous {
            Some(_) if secret => format!(
                "{name} changed, written to {}:{}.",
                written.path, written.line
            ),
            Some(old) => format!(
                "{name} = {value} (was {old}), written to {}:{}.",
                written.path, written.line
            ),
            None => format!(
                "{name} = {value} added to {}:{}.",
                written.path, written.line
            ),
        }];
        if let Some(o) =
            self.s.overrides.iter().find(|o| {
                o.section.eq_ignore_ascii_case(&section) && o.key.eq_ignore_ascii_case(&key)
            })
        {
            lines.push(format!(
                "Note: --set {name}={} on the zone's command line overrides the file until the zone restarts.",
                o.value
            ));
        }
        if let Some(s) = registry::server_setting(&section, &key) {
            if s.read_at_start() {
                lines.push(format!(
                    "{name} is read at start: it takes effect when the zone restarts."
                ));
            }
        }
        if section == "Modules" && key == "AttachModules" {
            lines.push(
                "Modules are attached when an arena's realm starts: `zone-supervisor realm restart NAME` applies it."
                    .to_string(),
            );
        }
        Ok((name, lines))
    }

    /// `?reloadconf` from a player.
    pub(crate) fn call_reload_config(&mut self, pid: i16) {
        let who = self.asker_name(pid);
        info!(player = %who, "?reloadconf");
        let text = match self.reload() {
            Ok(()) => "Reloading the zone's settings and every arena's config.".to_string(),
            Err(e) => e,
        };
        self.tell(pid, &text);
    }
}
