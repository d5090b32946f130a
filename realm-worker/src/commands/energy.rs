//! `?energy` (`docs/protocol/game-protocol.md` §8.4a): who sees whose
//! energy. Sent to a player it changes his viewing; sent in public the
//! arena's rule for players who enter from now on.

use super::{CmdResult, CmdTarget, Ctx};
use crate::arena::Arena;
use crate::energy::SeeEnergy;

/// `?energy [-t] [-n] [-s]`: everyone's energy (default), `-t` teammates'
/// only, `-n` nobody's; `-s` changes the spectator rule instead.
pub(super) fn energy(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let words: Vec<&str> = params.split_whitespace().collect();
    let has = |flag: &str| words.contains(&flag);
    let rule = if has("-n") {
        SeeEnergy::None
    } else if has("-t") {
        SeeEnergy::Team
    } else {
        SeeEnergy::All
    };
    let spec = has("-s");
    let what = format!(
        "{}energy viewing: {rule:?}",
        if spec { "spectator " } else { "" }
    );
    match ctx.target {
        CmdTarget::Player(pid) => {
            let Some(p) = a.players.get_mut(&pid) else {
                return Err(super::CmdError::NeedPlayer);
            };
            if spec {
                p.see_nrg_spec = rule;
            } else {
                p.see_nrg = rule;
            }
            let name = p.info.name.clone();
            a.reply(&ctx.issuer, &format!("{name}: {what}."));
        }
        _ => {
            if spec {
                a.energy.spec = rule;
            } else {
                a.energy.in_ship = rule;
            }
            a.reply(
                &ctx.issuer,
                &format!("Arena {what} (for players entering from now on)."),
            );
        }
    }
    Ok(())
}
