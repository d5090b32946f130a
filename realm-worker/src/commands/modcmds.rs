//! Commands that arena modules answer (`crate::modules::Module::on_command`):
//! the table names them, the modules attached to the arena run them. A
//! command no attached module answers says so.

use super::{CmdError, CmdResult, Ctx};
use crate::arena::Arena;

/// Hands the command to the arena's modules, in order, until one runs it.
pub(super) fn run(a: &mut Arena, ctx: &Ctx, params: &str) -> CmdResult {
    let mut result = None;
    a.each_module(|m, a| {
        if result.is_none() {
            result = m.on_command(a, ctx, params);
        }
    });
    result.unwrap_or_else(|| {
        Err(CmdError::Msg(format!(
            "?{} is not available in this arena.",
            ctx.name
        )))
    })
}
