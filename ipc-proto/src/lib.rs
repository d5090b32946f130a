//! Messages between the zone supervisor and its realm workers, and the
//! framing that carries them over one Unix-domain stream socket per realm.
//!
//! Every message is encoded with postcard and framed as a little-endian
//! `u32` length followed by the encoded bytes. Writers append many frames to
//! one buffer and write it with a single syscall per loop pass; readers feed
//! whatever arrived into a [`FrameReader`] and decode frames in place,
//! borrowing packet bytes from the read buffer instead of copying them.
//!
//! The first message on each link is [`FromRealm::Hello`] carrying
//! [`PROTOCOL_VERSION`]; the supervisor refuses a worker built from other
//! sources.

use serde::{Deserialize, Serialize};

pub mod relay;
#[cfg(feature = "socket")]
pub mod socket;
#[cfg(feature = "socket")]
pub mod timerfd;
pub mod version;

/// Version of this message set; bumped on every incompatible change.
pub const PROTOCOL_VERSION: u32 = 7;

/// Most settings one [`ZoneCall::SetArenaSettings`] changes: each is a
/// file write on the supervisor's thread.
pub const MAX_SETTINGS_AT_ONCE: usize = 50;

/// Largest frame either side accepts. A peer that announces more is broken
/// or hostile and the link is dropped.
pub const MAX_FRAME: usize = 1 << 20;

/// Errors of encoding and decoding frames.
#[derive(Debug, thiserror::Error)]
pub enum IpcError {
    /// A frame announced a length over [`MAX_FRAME`].
    #[error("frame of {0} bytes exceeds the limit of {MAX_FRAME}")]
    FrameTooLarge(usize),
    /// A frame's bytes are not a valid message.
    #[error("undecodable message: {0}")]
    Decode(#[from] postcard::Error),
}

/// A player's game state handed to a realm when the player enters it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlayerInfo {
    /// Player id, zone-wide.
    pub pid: i16,
    /// Display name.
    pub name: String,
    /// Squad name (may be empty).
    pub squad: String,
    /// Ship the client asked for (0–8).
    pub ship_request: u8,
    /// Obscenity filter on.
    pub obscenity_filter: bool,
    /// Accepts audio messages.
    pub allow_audio: bool,
    /// Screen width in pixels.
    pub x_res: i16,
    /// Screen height in pixels.
    pub y_res: i16,
    /// Continuum client (else SubSpace/VIE).
    pub continuum: bool,
    /// Wants optional LVZ files listed.
    pub optional_graphics: bool,
    /// Re-entry after a realm restart (keep ship and freq if possible).
    pub reentry: bool,
    /// Ship before the restart, for re-entries.
    pub previous_ship: u8,
    /// Freq before the restart, for re-entries.
    pub previous_freq: i16,
    /// Logged in with a verified password (staff groups need this).
    pub authenticated: bool,
    /// The player's saved score in this arena's score group (reset
    /// interval), when the zone keeps scores; the realm starts from it.
    pub score: Option<SavedScore>,
    /// The player's banner (96-byte bitmap), if he has one.
    pub banner: Option<Vec<u8>>,
    /// A timed chat mask still running: (mask, seconds left).
    pub chat_mask: Option<(u32, u32)>,
    /// Tile to warp him to once he is in (an auto-warp region of the
    /// arena he came from named this arena and place,
    /// [`ZoneCall::MovePlayerTo`]).
    pub spawn: Option<(i16, i16)>,
}

/// The four SubSpace scores of a player (the "reset" interval).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SavedScore {
    /// Kill points.
    pub kill_points: i32,
    /// Flag points.
    pub flag_points: i32,
    /// Kills.
    pub kills: u16,
    /// Deaths.
    pub deaths: u16,
}

/// Who a [`FromRealm::Send`] goes to.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum Target<'a> {
    /// One player.
    Player(i16),
    /// A list of players, as little-endian `i16` pids back to back.
    #[serde(borrow)]
    Players(&'a [u8]),
    /// Everyone in the realm.
    Arena,
    /// Everyone in the realm but one player.
    ArenaExcept(i16),
}

impl Target<'_> {
    /// Iterates the pids of a [`Target::Players`] list.
    pub fn list(bytes: &[u8]) -> impl Iterator<Item = i16> + '_ {
        bytes
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
    }
}

/// Appends a pid to a packed [`Target::Players`] list.
pub fn push_pid(list: &mut Vec<u8>, pid: i16) {
    list.extend_from_slice(&pid.to_le_bytes());
}

/// Delivery class of a packet sent to players.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum Delivery {
    /// Reliable, in order.
    Reliable,
    /// Unreliable, ordinary priority.
    Unreliable,
    /// Unreliable, sent ahead of ordinary traffic (weapons).
    UnreliableHigh,
    /// Unreliable, after ordinary traffic.
    UnreliableLow,
}

/// Messages from the supervisor to a realm worker.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum ToRealm<'a> {
    /// A player enters the realm.
    PlayerEnter(PlayerInfo),
    /// A player leaves the realm (left, moved, or disconnected).
    PlayerLeave {
        /// Who.
        pid: i16,
    },
    /// A game packet from a player in this realm.
    PlayerPacket {
        /// Sender.
        pid: i16,
        /// The packet, starting with its type byte.
        #[serde(borrow)]
        bytes: &'a [u8],
    },
    /// Liveness probe; the worker answers with [`FromRealm::HeartbeatAck`].
    Heartbeat {
        /// Echoed back.
        seq: u32,
    },
    /// Configuration on disk changed: reload and resend settings.
    ReloadConfig,
    /// Stop: the worker exits after flushing.
    Shutdown,
    /// A chat message routed here from elsewhere in the zone (for example a
    /// private message from another realm), already encoded as S2C 0x07.
    Deliver {
        /// Receiver.
        pid: i16,
        /// The packet bytes.
        #[serde(borrow)]
        bytes: &'a [u8],
    },
    /// The zone ended the score interval of this arena (scheduled or staff
    /// reset): every player's score starts from zero.
    ResetScores,
    /// Staff chat from somewhere in the zone ([`ZoneCall::StaffChat`]): the
    /// realm shows it to its players with `seemodchat`, except the sender.
    StaffChat {
        /// The sender (−1 = none).
        from: i16,
        /// The whole line as shown, `name> text`.
        text: String,
    },
    /// `?listmod` ([`ZoneCall::ListStaff`]): the realm tells `asker` (who
    /// may be elsewhere) about its staff players with
    /// [`ZoneCall::MessageTo`].
    ListStaff {
        /// Who asked.
        asker: i16,
        /// The asker may see private arena names.
        see_private: bool,
        /// The asker sees every non-default group, not only staff.
        see_all_staff: bool,
    },
    /// A player's lag figures, sent by the supervisor every
    /// `Lag:CheckInterval` for every player in the realm; the realm applies
    /// its `[Lag]` rules to them.
    LagReport {
        /// Who.
        pid: i16,
        /// Reliable round trip, milliseconds.
        ping_ms: u32,
        /// Server-to-client loss, tenths of a percent (from the counts in
        /// the client's time sync requests).
        s2c_loss: u16,
        /// Client-to-server loss, tenths of a percent.
        c2s_loss: u16,
        /// Time since the supervisor last heard from him, milliseconds.
        silent_ms: u32,
    },
    /// A command sent as a remote private message (`:name:?cmd`) to a
    /// player in this realm from a player in another one
    /// ([`ZoneCall::RemoteCommand`]); replies go back with
    /// [`ZoneCall::MessageTo`].
    RemoteCommand {
        /// The sender.
        from: i16,
        /// The sender's name.
        from_name: String,
        /// The sender logged in with a verified password.
        from_authenticated: bool,
        /// The target, a player of this realm.
        target: i16,
        /// The text after the leading `?`/`*`.
        line: String,
        /// The line started with `*` rather than `?`.
        star: bool,
    },
    /// The last [`FromRealm::ArenaCheckpoint`] of this realm's previous
    /// worker, sent to a new worker before its players enter again.
    ArenaCheckpoint {
        /// The bytes as the realm wrote them.
        #[serde(borrow)]
        bytes: &'a [u8],
    },
    /// Someone watches the arena's radar (the zone's dashboard): while on,
    /// the realm answers each heartbeat with a
    /// [`FromRealm::PositionSnapshot`].
    WatchPositions {
        /// Start (true) or stop.
        on: bool,
    },
    /// A staff group change the zone has written to `staff.conf`
    /// ([`StaffRequest::SetGroup`], [`StaffRequest::RemoveGroup`]): the
    /// realm puts the player in `group` and tells him and the issuer.
    SetGroup {
        /// The player (of this realm).
        pid: i16,
        /// His new group.
        group: String,
        /// Who asked (may be elsewhere; told with a zone message).
        issuer: i16,
        /// The issuer's name, for the player's message.
        issuer_name: String,
    },
    /// `staff.conf` changed (a `?setgroup -p` or `?rmgroup` elsewhere):
    /// re-read it; groups of players not in a temporary group follow it.
    StaffChanged,
    /// What the realm is told about its zone, when the worker is ready and
    /// again after the supervisor was upgraded or reloaded its
    /// configuration.
    ZoneInfo {
        /// The supervisor's build version (`?version` shows it), as
        /// [`version::build_version`] names it.
        version: String,
        /// The zone's default arena (`Realms:DefaultArena` as the
        /// supervisor cleaned it up), where `General:NeedCap` sends a
        /// player it turns away.
        default_arena: String,
    },
    /// Planned hand-over to a successor worker (`docs/upgrades.md` §2):
    /// the worker answers with [`FromRealm::HandOverState`] after every
    /// message before this one, then serves nobody and waits for
    /// [`ToRealm::Shutdown`].
    HandOver,
    /// To the successor: the state its predecessor handed over, before
    /// the players are adopted.
    TakeOver {
        /// The bytes of [`FromRealm::HandOverState`], as the realm wrote them.
        #[serde(borrow)]
        bytes: &'a [u8],
    },
    /// To the successor: a player of the predecessor, to be taken on
    /// silently (his client already has the arena; no entry sequence).
    AdoptPlayer(PlayerInfo),
    /// A plain position (C2S 0x03) the supervisor has already relayed by
    /// the realm's [`FromRealm::RelayRules`]
    /// (`docs/protocol/core-transport.md` §13.5): the realm
    /// updates its state from it (place, lag, regions) but relays nothing.
    RelayedPosition {
        /// Sender.
        pid: i16,
        /// Server time (ticks, [`monotonic_ticks`]) when the supervisor
        /// received it, for the lag figures.
        at: u32,
        /// The packet, starting with its type byte.
        #[serde(borrow)]
        bytes: &'a [u8],
    },
}

/// Messages from a realm worker to the supervisor.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum FromRealm<'a> {
    /// First message on a link.
    Hello {
        /// Must equal [`PROTOCOL_VERSION`].
        version: u32,
        /// The realm (arena) name the worker serves.
        realm: String,
    },
    /// The worker loaded its arena and accepts players.
    Ready,
    /// Send a game packet to players of this realm.
    Send {
        /// Receivers.
        #[serde(borrow)]
        to: Target<'a>,
        /// How.
        delivery: Delivery,
        /// The packet, starting with its type byte.
        #[serde(borrow)]
        bytes: &'a [u8],
    },
    /// Send a sized stream (map download) to one player.
    SendSized {
        /// Receiver.
        pid: i16,
        /// The whole transfer, starting with its packet type.
        #[serde(borrow)]
        bytes: &'a [u8],
    },
    /// The player has been sent its arena entry and is playing.
    PlayerEntered {
        /// Who.
        pid: i16,
    },
    /// A player's ship or freq changed (kept by the supervisor so that a
    /// restarted realm can put the player back).
    PlayerState {
        /// Who.
        pid: i16,
        /// Ship (8 = spectator).
        ship: u8,
        /// Freq.
        freq: i16,
    },
    /// Answer to [`ToRealm::Heartbeat`].
    HeartbeatAck {
        /// The probe's sequence number.
        seq: u32,
    },
    /// A zone-wide request from this realm.
    ZoneCall(ZoneCall<'a>),
    /// A player set his banner (96-byte bitmap); the zone keeps it.
    BannerChanged {
        /// Who.
        pid: i16,
        /// The bitmap.
        #[serde(borrow)]
        banner: &'a [u8],
    },
    /// A player's chat mask changed; the zone keeps a timed one (with the
    /// seconds left) so that it outlives leaving the arena or a restart.
    /// `remaining_secs` 0 means no timed mask.
    ChatMaskChanged {
        /// Who.
        pid: i16,
        /// The mask bits.
        mask: u32,
        /// Seconds until it ends (0 = not timed).
        remaining_secs: u32,
    },
    /// A player's score in this arena changed (kills, deaths, points); the
    /// new totals, for persistence. `reset` marks a score reset (the totals
    /// are then zero and the player's all-time stats stay as they were).
    ScoreChanged {
        /// The change is a score reset.
        reset: bool,
        /// Who.
        pid: i16,
        /// Kill points.
        kill_points: i32,
        /// Flag points.
        flag_points: i32,
        /// Kills.
        kills: u16,
        /// Deaths.
        deaths: u16,
    },
    /// The realm's game state worth keeping if its worker dies (flag
    /// owners, carried flags, jackpot), opaque to the supervisor; sent when
    /// it changes, at most about once a second. The supervisor keeps the
    /// newest per realm slot and hands it to the slot's next worker
    /// ([`ToRealm::ArenaCheckpoint`]).
    ArenaCheckpoint {
        /// Opaque bytes (at most [`MAX_CHECKPOINT_LEN`]).
        #[serde(borrow)]
        bytes: &'a [u8],
    },
    /// What is wrong with the arena's setup that the operator should see
    /// (a missing map, ...), sent when ready and after each reload; an
    /// empty list clears earlier problems.
    Problems {
        /// One line each.
        list: Vec<String>,
    },
    /// Where everyone in the arena is (while the radar is watched).
    PositionSnapshot {
        /// One entry per player.
        players: Vec<RadarEntry>,
    },
    /// The worker's build version, sent right after [`FromRealm::Hello`]
    /// (`stats` shows it per realm).
    Build {
        /// As [`version::build_version`] names it.
        version: String,
    },
    /// Answer to [`ToRealm::HandOver`]: the arena's whole state for a
    /// successor (module checkpoint, per-player game state), opaque to the
    /// supervisor, at most [`MAX_HANDOVER_LEN`] bytes.
    HandOverState {
        /// Opaque bytes for [`ToRealm::TakeOver`].
        #[serde(borrow)]
        bytes: &'a [u8],
    },
    /// The rules by which the supervisor may relay positions of this
    /// realm's players itself (`docs/protocol/core-transport.md`
    /// §13.5), sent whenever they change. An empty list
    /// means: relay nothing here, send every position to the realm.
    RelayRules {
        /// Positions with the antiwarp bit must go to the realm (some
        /// region or setting may strip it).
        antiwarp_slow: bool,
        /// The reach of weapons when the supervisor may relay them here;
        /// `None`: every weapon goes to the realm (a region may remove
        /// it, or a ball carrier may be refused it).
        weapons: Option<relay::WeaponRanges>,
        /// Every player the realm relays to, with his rule.
        players: Vec<relay::RelayPeer>,
        /// Where the realm has each of them now: the place its own relay
        /// would use. The supervisor starts a player it did not track yet
        /// there (a newcomer, every player after a supervisor upgrade), so
        /// both relays pick the same receivers from the first position.
        /// Not part of the rules: a change of place alone sends nothing.
        places: Vec<relay::RelayPlace>,
    },
}

/// One player on the arena radar.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RadarEntry {
    /// Player id.
    pub pid: i16,
    /// Position, pixels.
    pub x: i16,
    /// Position, pixels.
    pub y: i16,
    /// Ship (8 = spectator).
    pub ship: u8,
    /// Frequency.
    pub freq: i16,
}

/// Largest checkpoint the supervisor keeps for a realm.
pub const MAX_CHECKPOINT_LEN: usize = 16 * 1024;

/// Largest [`FromRealm::HandOverState`] the supervisor accepts.
pub const MAX_HANDOVER_LEN: usize = 512 * 1024;

/// Requests a realm makes of the zone.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum ZoneCall<'a> {
    /// Move a player to another arena (`?go`).
    MovePlayer {
        /// Who.
        pid: i16,
        /// Target arena name (already sanitised).
        arena: String,
    },
    /// A private message to a named player anywhere in the zone.
    RemotePrivate {
        /// Sender.
        from: i16,
        /// Receiver's name.
        to_name: String,
        /// Text.
        text: &'a str,
    },
    /// Disconnect a player.
    Kick {
        /// Who.
        pid: i16,
    },
    /// Send a summary of every realm (the operator stats) to a player as
    /// arena messages (`?realms`; the realm has checked the capability).
    RealmSummary {
        /// Who asked.
        pid: i16,
    },
    /// `?find`: tell `pid` which arena the best match for `name` is in
    /// (exact name, else the earliest case-insensitive substring match).
    FindPlayer {
        /// Who asked.
        pid: i16,
        /// Name or part of one.
        name: String,
        /// The asker may see private arena names.
        see_private: bool,
    },
    /// `?arena`: send `pid` the arena list (S2C 0x2F), or text lines.
    ArenaList {
        /// Who asked.
        pid: i16,
        /// The asker may see private arenas.
        see_private: bool,
        /// Answer as chat text instead of the list packet.
        text: bool,
    },
    /// `?z`/`?az`: an arena message to every player in every realm.
    ZoneMessage {
        /// The text as shown.
        text: String,
        /// Sound code.
        sound: u8,
    },
    /// Staff chat: forwarded to every realm as [`ToRealm::StaffChat`].
    StaffChat {
        /// The sender.
        from: i16,
        /// The whole line as shown, `name> text`.
        text: String,
    },
    /// `?listmod`: asked of every realm as [`ToRealm::ListStaff`].
    ListStaff {
        /// Who asked.
        pid: i16,
        /// The asker may see private arena names.
        see_private: bool,
        /// The asker sees every non-default group.
        see_all_staff: bool,
    },
    /// A chat message to a player anywhere in the zone (replies to remote
    /// commands and `?listmod`).
    MessageTo {
        /// Receiver.
        pid: i16,
        /// Chat type (0 = green arena message).
        chat_type: u8,
        /// Sound code.
        sound: u8,
        /// Text.
        text: String,
    },
    /// `?kick`: tell the player why, then disconnect him.
    KickWithMessage {
        /// Who (a player of the calling realm).
        pid: i16,
        /// The message shown to him before the disconnect.
        text: String,
        /// Keep him out this many seconds (0 = he may come back at once):
        /// his machine id and name are refused until then.
        ban_secs: u32,
    },
    /// `?lag`/`?info`: the supervisor answers `asker` (anywhere) about
    /// `target` (a player of the calling realm) from the connection's data.
    PlayerReport {
        /// Who asked.
        asker: i16,
        /// About whom.
        target: i16,
        /// Which report.
        kind: ReportKind,
    },
    /// A command sent as `:name:?cmd` to a player who is not in the
    /// calling realm: delivered to the target's realm as
    /// [`ToRealm::RemoteCommand`].
    RemoteCommand {
        /// The sender (a player of the calling realm).
        from: i16,
        /// The target's name.
        to_name: String,
        /// The text after the leading `?`/`*`.
        line: String,
        /// The line started with `*`.
        star: bool,
    },
    /// A chat channel message (C2S chat type 9, `;text` or `;n;text`): for
    /// the billing server, which runs the channels.
    ChatChannel {
        /// The sender (a player of the calling realm).
        pid: i16,
        /// The text as typed.
        text: String,
    },
    /// A `?command` no handler in the realm knows (or one forced past
    /// them with `?\`): the supervisor answers its billing commands
    /// (`?usage`, `?userid`, `?userdbadm`), forwards the rest to the
    /// billing server, or says the command is unknown when there is none.
    BillerCommand {
        /// Who typed it (a player of the calling realm).
        pid: i16,
        /// The line after the leading `?`/`*`.
        line: String,
        /// The player has `sendmodchat` (may join staff chat channels).
        modchat: bool,
    },
    /// A game of the calling realm ended (a timed game ran out, a flag
    /// game was won): end the *game* score interval of this arena
    /// (`docs/protocol/persistence.md` §1.1). The realm's name is the scope.
    EndGameInterval,
    /// Move a player to another arena and, once he is in, warp him to a
    /// tile (an auto-warp region naming an arena,
    /// `docs/protocol/game-protocol.md` §8.9).
    MovePlayerTo {
        /// Who.
        pid: i16,
        /// Target arena name (the supervisor sanitises it).
        arena: String,
        /// Tile x.
        x: i16,
        /// Tile y.
        y: i16,
    },
    /// `?seta`/`?setg` (the realm has checked the capability): write
    /// `section:key = value` to the zone's config file the key comes from,
    /// reload, and tell `pid` what was done
    /// (`docs/protocol/config.md` §4). An arena setting is for the
    /// calling realm's arena.
    SetSetting {
        /// Who asked (a player of the calling realm).
        pid: i16,
        /// `?setg` (global.conf) rather than `?seta` (the arena's file).
        global: bool,
        /// Section name.
        section: String,
        /// Key name.
        key: String,
        /// The new value.
        value: String,
    },
    /// Several arena settings of the calling realm's arena at once
    /// (`?quickfix`'s C2S 0x1D; the realm has checked `changesettings`):
    /// each written as [`ZoneCall::SetSetting`] writes one, then one
    /// reload, and one summary line to `pid`. At most
    /// [`MAX_SETTINGS_AT_ONCE`] are taken.
    SetArenaSettings {
        /// Who asked (a player of the calling realm).
        pid: i16,
        /// `(section, key, value)` in the order given.
        changes: Vec<(String, String, String)>,
    },
    /// `?reloadconf`: reload the zone's config as `zone-supervisor
    /// reload` does and tell `pid` how it went.
    ReloadConfig {
        /// Who asked (a player of the calling realm).
        pid: i16,
    },
    /// A staff command the zone carries out (files, bans, logs, realm and
    /// zone control); the realm has checked the capability. Answers go to
    /// `pid` as green messages.
    Staff {
        /// Who asked (a player of the calling realm).
        pid: i16,
        /// What.
        request: StaffRequest,
    },
}

/// What a [`ZoneCall::Staff`] asks of the zone
/// (`docs/protocol/commands-and-capabilities.md` §4).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum StaffRequest {
    /// `?uptime`: how long the zone has been running.
    Uptime,
    /// `?netstats`: the zone's network counters.
    NetStats,
    /// `?listarena`: the players of an arena (empty = the asker's).
    ListArena {
        /// Arena name.
        arena: String,
        /// The asker may see private arenas.
        see_private: bool,
    },
    /// `?lastlog`: recent lines of the zone's log.
    LastLog {
        /// How many lines at most.
        count: u16,
        /// Only lines containing this (case-insensitive; empty = all).
        filter: String,
    },
    /// `?recyclearena`: restart the calling realm's worker; its players
    /// re-enter as after a crash.
    RecycleArena,
    /// `?shutdown` / `?recyclezone`: stop the zone cleanly (players told,
    /// scores written); `recycle` exits with the status a service manager
    /// restarts.
    Shutdown {
        /// Exit for a restart.
        recycle: bool,
    },
    /// `?kick -t`: a timed kick by name and machine id, kept in the
    /// database; the player (of the calling realm) is then kicked.
    TimedKick {
        /// The player.
        target: i16,
        /// The message shown to him.
        text: String,
        /// Seconds he is kept out.
        secs: u32,
        /// The reason (may be empty).
        reason: String,
        /// Who kicked.
        kicker: String,
    },
    /// `?listkick` / `?listmidbans`: the bans in force.
    ListBans,
    /// `?liftkick` / `?delkick` / `?delmidban`: lift the bans of a machine
    /// id or a name.
    LiftBan {
        /// Machine id (decimal) or player name.
        key: String,
    },
    /// `?setgroup -p`: write the group into `staff.conf` (global or the
    /// arena's section), then the realm is told ([`ToRealm::SetGroup`]).
    SetGroup {
        /// The player (of the calling realm).
        target: i16,
        /// The group.
        group: String,
        /// Section: `None` = `[(global)]`, else the arena's base name.
        section: Option<String>,
    },
    /// `?rmgroup` of a group from `staff.conf`: the name's line goes from
    /// that section, then the realm is told ([`ToRealm::SetGroup`] with
    /// `default`).
    RemoveGroup {
        /// The player (of the calling realm).
        target: i16,
        /// The section his group came from (`(global)` or a base name).
        section: String,
    },
    /// `?passwd` / `?local_password` / `?addallowed` /
    /// `?set_local_password`: a `[Users]` line of `passwd.conf`.
    Password {
        /// Whose entry.
        name: String,
        /// What to store.
        value: PasswordValue,
    },
    /// `?endinterval`: end a score interval.
    EndInterval {
        /// `reset` or `game`.
        interval: String,
        /// Arena group (or arena name, for `game`); empty = the calling
        /// realm's.
        scope: String,
    },
    /// `?makearena`: create `arenas/<name>/arena.conf` including the
    /// default arena's config.
    MakeArena {
        /// The arena name (lower-case letters and digits, maybe a leading
        /// `#`).
        name: String,
    },
    /// `?admlogfile flush|reopen`: the zone's log file (`Log:File`).
    LogFile {
        /// Close and open it again (after an outside rotation); else flush.
        reopen: bool,
    },
    /// `?cd`, `?pwd`, `?getfile`, `?delfile`, `?renfile` and the uploads:
    /// files of the zone folder, relative to the asker's working
    /// directory.
    File(FileOp),
    /// `?sendfile`, `?acceptfile`, `?cancelfile`: files players offer each
    /// other (the realm checked both are spectators in game clients).
    SendFile(SendFileOp),
}

/// What a [`StaffRequest::SendFile`] asks.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum SendFileOp {
    /// Offer `to` the file at `path` on the asker's disk.
    Offer {
        /// The receiver.
        to: i16,
        /// The file on the sender's disk.
        path: String,
    },
    /// Accept the file offered to the asker: his sender's client is asked
    /// for it, and it goes on to him.
    Accept,
    /// Withdraw the asker's offers, made or received.
    Cancel,
}

/// A file operation of a [`StaffRequest::File`]; paths are relative (no
/// `..`, no root) and stay inside the zone folder.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum FileOp {
    /// Change the working directory (relative to the zone folder; empty =
    /// the zone folder).
    Cd(String),
    /// Show the working directory.
    Pwd,
    /// Send a file to the asker (S2C 0x10).
    Get(String),
    /// Delete a file.
    Delete(String),
    /// Rename a file.
    Rename {
        /// The file.
        from: String,
        /// Its new name.
        to: String,
    },
    /// Ask the asker's client for one of its files (S2C 0x19) and save
    /// what it uploads (`?putfile`).
    Put {
        /// The file on the client's disk.
        from: String,
        /// Where it goes, relative to the working directory.
        to: String,
    },
    /// The same for a map: saved as `maps/uploads/<arena base>.lvl` and
    /// made the asker's arena's `General:Map` (`?putmap`).
    PutMap {
        /// The map file on the client's disk.
        from: String,
    },
    /// The same for a zip archive, unpacked into a directory (`?putzip`).
    PutZip {
        /// The archive on the client's disk.
        from: String,
        /// The directory, relative to the working directory (empty: the
        /// working directory).
        to: String,
    },
}

/// The value of a [`StaffRequest::Password`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum PasswordValue {
    /// A new password (the zone stores its digest); the issuer's own entry.
    Set(String),
    /// `any` (let the name in), only if the name has no entry yet.
    Allow,
    /// The password the player (of the calling realm) logged in with this
    /// session, only if he has no entry yet.
    FromLogin {
        /// The player.
        target: i16,
    },
}

/// What a [`ZoneCall::PlayerReport`] asks for.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum ReportKind {
    /// `?lag`: ping and loss.
    Lag,
    /// `?lag -v`: more detail.
    LagVerbose,
    /// `?info`: client, resolution, address, connect time, traffic.
    Info,
}

/// Appends one framed message to `out`.
pub fn encode<T: Serialize>(msg: &T, out: &mut Vec<u8>) -> Result<(), IpcError> {
    let start = out.len();
    out.extend_from_slice(&[0u8; 4]);
    match postcard::to_io(msg, &mut *out) {
        Ok(_) => {
            let len = out.len() - start - 4;
            if len > MAX_FRAME {
                out.truncate(start);
                return Err(IpcError::FrameTooLarge(len));
            }
            out[start..start + 4].copy_from_slice(&(len as u32).to_le_bytes());
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            Err(IpcError::Decode(e))
        }
    }
}

/// Reassembles frames from a byte stream.
#[derive(Default)]
pub struct FrameReader {
    buf: Vec<u8>,
    start: usize,
}

impl FrameReader {
    /// An empty reader.
    pub fn new() -> FrameReader {
        FrameReader::default()
    }

    /// Spare room to read into; call [`FrameReader::filled`] with the count
    /// actually read.
    pub fn spare(&mut self, want: usize) -> &mut [u8] {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > self.buf.capacity() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let len = self.buf.len();
        self.buf.resize(len + want, 0);
        &mut self.buf[len..]
    }

    /// The buffer to append received bytes to, with room for `want` more
    /// (reserved, not zero-filled): for readers that fill spare capacity,
    /// such as tokio's `try_read_buf`.
    pub fn buffer(&mut self, want: usize) -> &mut Vec<u8> {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > self.buf.capacity() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.reserve(want);
        &mut self.buf
    }

    /// Marks `n` bytes of the last [`FrameReader::spare`] as read; the rest
    /// of the spare room is released.
    pub fn filled(&mut self, n: usize, want: usize) {
        let len = self.buf.len() - want + n.min(want);
        self.buf.truncate(len);
    }

    /// Appends received bytes.
    pub fn extend(&mut self, bytes: &[u8]) {
        let spare = self.spare(bytes.len());
        spare.copy_from_slice(bytes);
    }

    /// The next complete frame, if one has arrived.
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, IpcError> {
        let avail = &self.buf[self.start..];
        if avail.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_le_bytes([avail[0], avail[1], avail[2], avail[3]]) as usize;
        if len > MAX_FRAME {
            return Err(IpcError::FrameTooLarge(len));
        }
        if avail.len() < 4 + len {
            return Ok(None);
        }
        let frame_start = self.start + 4;
        self.start = frame_start + len;
        Ok(Some(&self.buf[frame_start..frame_start + len]))
    }

    /// The bytes received but not yet consumed as frames.
    pub fn unread(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Bytes received but not yet consumed as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }
}

/// Decodes one frame's message.
pub fn decode<'a, T: Deserialize<'a>>(frame: &'a [u8]) -> Result<T, IpcError> {
    Ok(postcard::from_bytes(frame)?)
}

/// The zone's server time: 31-bit ticks of 10 ms from the system's
/// monotonic clock, the same in every process of the zone.
pub fn monotonic_ticks() -> u32 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    let centis = (ts.tv_sec as u64) * 100 + (ts.tv_nsec as u64) / 10_000_000;
    (centis as u32) & 0x7FFF_FFFF
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn frames_round_trip_and_borrow() {
        let mut out = Vec::new();
        let pkt = [0x03u8, 1, 2, 3];
        encode(
            &ToRealm::PlayerPacket {
                pid: 7,
                bytes: &pkt,
            },
            &mut out,
        )
        .unwrap();
        encode(&ToRealm::Heartbeat { seq: 9 }, &mut out).unwrap();
        let mut list = Vec::new();
        push_pid(&mut list, 3);
        push_pid(&mut list, -1);
        let send = FromRealm::Send {
            to: Target::Players(&list),
            delivery: Delivery::Unreliable,
            bytes: &pkt,
        };
        encode(&send, &mut out).unwrap();

        let mut r = FrameReader::new();
        // feed in awkward pieces
        for piece in out.chunks(3) {
            r.extend(piece);
        }
        let f = r.next_frame().unwrap().unwrap().to_vec();
        assert_eq!(
            decode::<ToRealm>(&f).unwrap(),
            ToRealm::PlayerPacket {
                pid: 7,
                bytes: &pkt
            }
        );
        let f = r.next_frame().unwrap().unwrap().to_vec();
        assert_eq!(
            decode::<ToRealm>(&f).unwrap(),
            ToRealm::Heartbeat { seq: 9 }
        );
        let f = r.next_frame().unwrap().unwrap().to_vec();
        let got: FromRealm = decode(&f).unwrap();
        assert_eq!(got, send);
        if let FromRealm::Send {
            to: Target::Players(l),
            ..
        } = got
        {
            assert_eq!(Target::list(l).collect::<Vec<_>>(), vec![3, -1]);
        }
        assert!(r.next_frame().unwrap().is_none());
        assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn staff_requests_round_trip() {
        let calls = [
            StaffRequest::SetGroup {
                target: 3,
                group: "mod".into(),
                section: Some("duel".into()),
            },
            StaffRequest::TimedKick {
                target: 4,
                text: "You have been kicked for: spam".into(),
                secs: 600,
                reason: "spam".into(),
                kicker: "boss".into(),
            },
            StaffRequest::Password {
                name: "bob".into(),
                value: PasswordValue::FromLogin { target: 4 },
            },
            StaffRequest::File(FileOp::Rename {
                from: "a".into(),
                to: "b".into(),
            }),
            StaffRequest::Shutdown { recycle: true },
        ];
        let mut out = Vec::new();
        for request in &calls {
            let msg = FromRealm::ZoneCall(ZoneCall::Staff {
                pid: 1,
                request: request.clone(),
            });
            encode(&msg, &mut out).unwrap();
        }
        encode(
            &ToRealm::SetGroup {
                pid: 3,
                group: "mod".into(),
                issuer: 1,
                issuer_name: "boss".into(),
            },
            &mut out,
        )
        .unwrap();
        let mut r = FrameReader::new();
        r.extend(&out);
        for request in &calls {
            let f = r.next_frame().unwrap().unwrap().to_vec();
            match decode::<FromRealm>(&f).unwrap() {
                FromRealm::ZoneCall(ZoneCall::Staff {
                    pid: 1,
                    request: got,
                }) => {
                    assert_eq!(&got, request)
                }
                other => panic!("{other:?}"),
            }
        }
        let f = r.next_frame().unwrap().unwrap().to_vec();
        assert!(matches!(
            decode::<ToRealm>(&f).unwrap(),
            ToRealm::SetGroup { pid: 3, .. }
        ));
    }

    #[test]
    fn oversized_frame_is_an_error() {
        let mut r = FrameReader::new();
        r.extend(&((MAX_FRAME as u32) + 1).to_le_bytes());
        assert!(matches!(r.next_frame(), Err(IpcError::FrameTooLarge(_))));
    }

    #[test]
    fn spare_and_filled() {
        let mut r = FrameReader::new();
        let mut msg = Vec::new();
        encode(&ToRealm::Shutdown, &mut msg).unwrap();
        let spare = r.spare(64);
        spare[..msg.len()].copy_from_slice(&msg);
        r.filled(msg.len(), 64);
        let f = r.next_frame().unwrap().unwrap().to_vec();
        assert_eq!(decode::<ToRealm>(&f).unwrap(), ToRealm::Shutdown);
    }

    #[test]
    fn ticks_are_31_bit() {
        assert!(monotonic_ticks() <= 0x7FFF_FFFF);
    }

    proptest! {
        #[test]
        fn arbitrary_frames_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let mut r = FrameReader::new();
            r.extend(&bytes);
            while let Ok(Some(f)) = r.next_frame() {
                let _ = decode::<ToRealm>(f);
                let _ = decode::<FromRealm>(f);
            }
        }

        /// Messages of both directions survive encode → frame → split
        /// delivery → decode unchanged.
        #[test]
        fn messages_round_trip_through_split_frames(
            pid in any::<i16>(),
            seq in any::<u32>(),
            name in "\\PC{0,24}",
            bytes in proptest::collection::vec(any::<u8>(), 0..1500),
            flags in any::<[bool; 6]>(),
            piece in 1usize..97,
        ) {
            let info = PlayerInfo {
                pid,
                name: name.clone(),
                squad: name.chars().rev().collect(),
                ship_request: (seq % 9) as u8,
                obscenity_filter: flags[0],
                allow_audio: flags[1],
                x_res: pid.wrapping_mul(3),
                y_res: pid.wrapping_mul(5),
                continuum: flags[2],
                optional_graphics: flags[3],
                reentry: flags[4],
                previous_ship: (seq % 7) as u8,
                previous_freq: pid.wrapping_add(1),
                authenticated: flags[5],
                score: flags[0].then_some(SavedScore {
                    kill_points: seq as i32,
                    flag_points: -(seq as i32),
                    kills: seq as u16,
                    deaths: pid as u16,
                }),
                banner: flags[1].then(|| bytes.iter().take(96).copied().collect()),
                chat_mask: flags[2].then_some((seq, seq / 2)),
                spawn: flags[3].then_some((pid, pid.wrapping_neg())),
            };
            let to: Vec<ToRealm> = vec![
                ToRealm::PlayerEnter(info),
                ToRealm::PlayerPacket { pid, bytes: &bytes },
                ToRealm::Heartbeat { seq },
                ToRealm::Deliver { pid, bytes: &bytes },
                ToRealm::PlayerLeave { pid },
            ];
            let from: Vec<FromRealm> = vec![
                FromRealm::Hello { version: seq, realm: name.clone() },
                FromRealm::Send { to: Target::Players(&bytes), delivery: Delivery::UnreliableLow, bytes: &bytes },
                FromRealm::Send { to: Target::ArenaExcept(pid), delivery: Delivery::Reliable, bytes: &bytes },
                FromRealm::SendSized { pid, bytes: &bytes },
                FromRealm::PlayerState { pid, ship: seq as u8, freq: pid },
                FromRealm::HeartbeatAck { seq },
                FromRealm::ZoneCall(ZoneCall::RemotePrivate { from: pid, to_name: name.clone(), text: &name }),
            ];
            let mut stream = Vec::new();
            for m in &to {
                encode(m, &mut stream).unwrap();
            }
            for m in &from {
                encode(m, &mut stream).unwrap();
            }
            let mut r = FrameReader::new();
            let mut frames = Vec::new();
            for chunk in stream.chunks(piece) {
                r.extend(chunk);
                while let Some(f) = r.next_frame().unwrap() {
                    frames.push(f.to_vec());
                }
            }
            prop_assert_eq!(r.buffered(), 0);
            prop_assert_eq!(frames.len(), to.len() + from.len());
            for (f, m) in frames.iter().zip(&to) {
                prop_assert_eq!(&decode::<ToRealm>(f).unwrap(), m);
            }
            for (f, m) in frames[to.len()..].iter().zip(&from) {
                prop_assert_eq!(&decode::<FromRealm>(f).unwrap(), m);
            }
        }
    }
}
