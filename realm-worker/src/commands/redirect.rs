//! `?redirect`: sends its targets to another zone (or arena) with S2C 0x3B
//! (`docs/protocol/game-protocol.md` §23).

use ss_proto::game::{Redirect, S2CPacket};

use super::{CmdError, CmdResult, CmdTarget, Ctx};
use crate::arena::Arena;

/// `?redirect <alias> | <ip>:<port>[:<arena>]`. The alias is a key of the
/// global `[Redirects]` section. Sent in public it redirects the issuer
/// (as ASSS does); privately, the player; to a team, that freq.
pub(super) fn redirect(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let alias = params.trim();
    if alias.is_empty() {
        return Err(CmdError::Usage);
    }
    let global = a.assets.config.global().clone();
    let Some(rd) = Redirect::from_alias(alias, |name| global.get_str("Redirects", name)) else {
        return Err(CmdError::Msg(format!(
            "{alias} is neither a redirect name nor an address ip:port[:arena]."
        )));
    };
    let pids = match ctx.target {
        CmdTarget::Arena => vec![ctx.issuer.pid],
        target => a.target_pids(target),
    };
    a.send_to_list(&pids, &S2CPacket::Redirect(rd));
    Ok(())
}
