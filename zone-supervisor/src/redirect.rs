//! Arena requests that send the player to another zone instead: a name in
//! the global `[Redirects]` section (`name = ip:port[:arena]`), or a literal
//! address, answered with S2C 0x3B (`docs/protocol/game-protocol.md` §23).

use ss_proto::game::{client_feature, Redirect, S2CPacket};
use tracing::info;

use crate::zone::Zone;

impl Zone {
    /// Redirects `pid` if the arena he asked for is a redirect and his
    /// client understands redirects (Continuum, or a bot declaring the
    /// redirect feature). Returns whether he was redirected.
    pub(crate) fn redirect_entrant(&mut self, pid: i16, arena: &str) -> bool {
        let Some(p) = self.players.get(pid) else {
            return false;
        };
        if !p.continuum && p.client_features & client_feature::REDIRECT == 0 {
            return false;
        }
        let global = self.s.zone.global().clone();
        let Some(rd) = Redirect::from_alias(arena, |name| global.get_str("Redirects", name)) else {
            return false;
        };
        info!(pid, arena, to = %rd.ip, port = rd.port, "arena request redirected");
        self.send_packet(pid, &S2CPacket::Redirect(rd));
        true
    }
}
