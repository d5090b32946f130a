//! Hooks a flag game plugs into (`docs/protocol/game-protocol.md` §14). No flag
//! game is implemented yet; [`NoFlags`] answers "no flags" everywhere, and the
//! kill and scoring code already asks these questions.

/// What the rest of the arena needs from a flag game.
pub trait FlagGame {
    /// Flags `pid` carries.
    fn flags_carried(&self, _pid: i16) -> i32 {
        0
    }

    /// Flags owned by `freq` (turf games).
    fn freq_flags(&self, _freq: i16) -> i32 {
        0
    }

    /// `killer` killed `killed`, who carried `flags`: move the flags as the
    /// game's rules say. Returns the flags that went to the killer.
    fn on_kill(&mut self, _killer: i16, _killed: i16, _flags: i32) -> i32 {
        0
    }

    /// A player left the arena or changed ship or freq: drop his flags.
    fn on_player_gone(&mut self, _pid: i16) {}
}

/// The arena without a flag game.
#[derive(Debug, Default)]
pub struct NoFlags;

impl FlagGame for NoFlags {}
