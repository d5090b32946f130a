//! The settings Subsumption's own code reads (server side), one entry each
//! (docs/protocol/config.md §10). Client settings, which are only sent to
//! players in the arena settings packet, come from the packet layout
//! (`ss_proto::settings::layout`) instead of this table.
//!
//! Keep this table in step with the code: a new `get_int("Sec", "Key")`
//! needs an entry here, or operators who set the key get an "unknown
//! setting" warning.

use super::{Kind, Scope, Setting};

const fn int(min: i64, max: i64) -> Kind {
    Kind::Int { min, max }
}
const BOOL: Kind = Kind::Bool;
const TEXT: Kind = Kind::Text;
const I32: Kind = int(i32::MIN as i64, i32::MAX as i64);

macro_rules! g {
    ($sec:literal : $key:literal, $kind:expr, $def:literal, $reader:literal, $help:literal) => {
        Setting {
            section: $sec,
            key: $key,
            scope: Scope::Global,
            kind: $kind,
            default: $def,
            reader: $reader,
            help: $help,
        }
    };
}
macro_rules! a {
    ($sec:literal : $key:literal, $kind:expr, $def:literal, $reader:literal, $help:literal) => {
        Setting {
            section: $sec,
            key: $key,
            scope: Scope::Arena,
            kind: $kind,
            default: $def,
            reader: $reader,
            help: $help,
        }
    };
}

/// Every server-side setting. `All` as a section means each of the eight
/// ship sections; `#` in a key stands for a number (`Server#` matches
/// `Server1`); a key of `*` means any key of that section.
pub(super) static SETTINGS: &[Setting] = &[
    // ----- [Listen] (global) ----------------------------------------------
    g!("Listen":"Port", int(0, 65534), "5000", "supervisor (config.rs)", "UDP game port; the ping port is one above. A --port on the command line wins. Read at start."),
    g!("Listen":"BindAddress", TEXT, "", "supervisor (config.rs)", "IP address of the interface to listen on; empty means all. Read at start."),
    g!("Listen":"AllowVIE", BOOL, "1", "supervisor (config.rs)", "Accept SubSpace (VIE) clients and bots."),
    g!("Listen":"AllowCont", BOOL, "1", "supervisor (config.rs)", "Accept Continuum clients."),
    // ----- [Net] (global) ---------------------------------------------------
    g!("Net":"DropTimeout", int(10, 360_000), "3000", "supervisor (transport)", "Ticks without a packet from a client before it is dropped."),
    g!("Net":"MaxRetries", int(1, 1000), "15", "supervisor (transport, billing)", "Resends of one reliable packet before the connection is dropped."),
    g!("Net":"MaxOutlistSize", int(10, 100_000), "500", "supervisor (transport)", "Reliable data that may wait for a slow client, in full packets' worth of bytes (raised with MaxConnections)."),
    g!("Net":"SendAtOnce", int(1, 255), "30", "supervisor (transport)", "Reliable packets in flight per connection (the send window)."),
    g!("Net":"MaxBigPacket", int(1024, 1 << 20), "65536", "supervisor (transport)", "Largest reassembled big packet a client may send, in bytes."),
    g!("Net":"VIEEncryption", BOOL, "1", "supervisor (config.rs)", "Answer SubSpace clients with VIE encryption."),
    g!("Net":"ContinuumVIE", BOOL, "0", "supervisor (config.rs)", "Answer Continuum clients with VIE encryption instead of the null answer."),
    g!("Net":"MaxConnections", int(1, 32000), "1000", "supervisor (config.rs)", "Most player connections at once."),
    g!("Net":"MaxConnectionsPerIp", int(0, 32000), "0", "supervisor (config.rs)", "Most connections from one IP address (0 = no limit)."),
    g!("Net":"MaxPendingConnections", int(1, 32000), "200", "supervisor (config.rs)", "Most connections that have not logged in yet."),
    g!("Net":"LoginTimeoutMillis", int(100, 600_000), "10000", "supervisor (config.rs)", "Milliseconds a connection may take to log in."),
    g!("Net":"FlushDelayMillis", int(0, 100), "0", "supervisor (config.rs)", "Milliseconds unreliable packets may wait to share a datagram (0 = every loop pass)."),
    g!("Net":"InternalClientPort", int(0, 65535), "0", "supervisor (billing)", "Local UDP port of the zone's link to the billing server; 0 = any."),
    g!("Net":"ChatListen", TEXT, "", "supervisor (chatnet)", "Chatnet TCP listener: a port (on 127.0.0.1) or ip:port; empty = off. Read at start."),
    g!("Net":"ChatMessageDelay", int(0, 1000), "20", "supervisor (chatnet)", "Ticks between chat lines a chatnet client may send."),
    g!("Net":"ChatMaxPerIp", int(1, 1000), "5", "supervisor (chatnet)", "Most chatnet connections from one address."),
    g!("Net":"ChatMaxConnections", int(1, 10_000), "100", "supervisor (chatnet)", "Most chatnet connections."),
    g!("Net":"ChatIdleTimeoutSeconds", int(10, 86_400), "600", "supervisor (chatnet)", "A chatnet client silent this long is closed."),
    a!("Net":"WeaponPixels", I32, "2000", "realm (rules.rs)", "Weapons are always relayed to players within this many pixels."),
    a!("Net":"BulletPixels", I32, "1500", "realm (rules.rs)", "Bullets are always relayed to players within this many pixels."),
    // ----- [General] ----------------------------------------------------------
    g!("General":"NewsFile", TEXT, "news.txt", "supervisor (news.rs)", "The news file sent to clients at login, relative to the zone folder."),
    a!("General":"Map", TEXT, "", "realm (assets.rs)", "The arena's map file (.lvl), looked for in the arena folder, maps/ and the zone folder."),
    a!("General":"LevelFiles", TEXT, "", "realm (assets.rs)", "LVZ files served after the map, separated by commas; a leading + marks an optional one."),
    a!("General":"LevelFiles#", TEXT, "", "realm (assets.rs)", "More LVZ files (LevelFiles1 ... up to ExtraLevelFilesKeys)."),
    a!("General":"ExtraLevelFilesKeys", int(0, 15), "0", "realm (assets.rs)", "How many LevelFiles1, LevelFiles2, ... keys are read."),
    a!("General":"MaxPlaying", int(0, 1000), "100", "realm (freqman.rs)", "Most players in ships in the arena (0 = no limit)."),
    a!("General":"ScoreGroup", TEXT, "", "supervisor (scores)", "The arena's score group; empty means its base name."),
    a!("Misc":"LevelFiles", TEXT, "", "realm (assets.rs)", "Older spelling of General:LevelFiles, used when that is unset."),
    // ----- [Realms] (global, ours) ------------------------------------------------
    g!("Realms":"DefaultArena", TEXT, "0", "supervisor (config.rs)", "Where players of a failed realm go."),
    g!("Realms":"IdleStopMillis", int(0, 86_400_000), "30000", "supervisor (config.rs)", "How long an empty arena's process lives."),
    g!("Realms":"HeartbeatMillis", int(50, 60_000), "500", "supervisor (config.rs)", "Time between heartbeats to each realm."),
    g!("Realms":"HeartbeatTimeoutMillis", int(200, 600_000), "3000", "supervisor (config.rs)", "A realm silent this long is restarted; at least twice HeartbeatMillis."),
    g!("Realms":"RestartLimit", int(0, 1000), "5", "supervisor (config.rs)", "Crashes within RestartWindowSeconds after which a realm is marked failed."),
    g!("Realms":"RestartWindowSeconds", int(1, 86_400), "60", "supervisor (config.rs)", "The window RestartLimit counts crashes in."),
    g!("Realms":"RestartBackoffMillis", int(0, 600_000), "250", "supervisor (config.rs)", "First delay between restarts after the immediate one; doubles."),
    g!("Realms":"RestartBackoffMaxMillis", int(0, 3_600_000), "10000", "supervisor (config.rs)", "Longest delay between restarts."),
    g!("Realms":"MaxIpcBytesPerSecond", int(1 << 16, 1 << 34), "67108864", "supervisor (config.rs)", "IPC budget per realm."),
    g!("Realms":"IpcQueueMaxBytes", int(1 << 12, 1 << 30), "1048576", "supervisor (config.rs)", "Bytes queued for one realm beyond which forwarded player packets are dropped, oldest first."),
    g!("Realms":"WorkerPath", TEXT, "", "supervisor (config.rs)", "The realm-worker executable; empty = next to zone-supervisor. Read at start."),
    // ----- [Persist] (global) --------------------------------------------------------
    g!("Persist":"Enabled", BOOL, "1", "supervisor (config.rs)", "Keep scores in the database. Read at start."),
    g!("Persist":"DatabasePath", TEXT, "data/zone.db", "supervisor (config.rs)", "The SQLite file, relative to the zone folder. Read at start."),
    g!("Persist":"ResetIntervalSeconds", int(0, i32::MAX as i64), "0", "supervisor (config.rs)", "End every score group's reset interval this often (0 = never). Read at start."),
    // ----- [Lag] -----------------------------------------------------------------------
    g!("Lag":"CheckInterval", int(10, 60_000), "300", "supervisor (config.rs)", "Ticks between lag checks of each player."),
    a!("Lag":"PingToSpec", I32, "600", "realm (lag.rs)", "Average ping (ms) above which a player is moved to spectator."),
    a!("Lag":"PingToStartIgnoringWeapons", I32, "300", "realm (lag.rs)", "Ping (ms) from which some of a player's weapons are ignored."),
    a!("Lag":"PingToIgnoreAllWeapons", I32, "1000", "realm (lag.rs)", "Ping (ms) from which all of a player's weapons are ignored."),
    a!("Lag":"PingToDisallowFlags", I32, "500", "realm (lag.rs)", "Ping (ms) from which a player may not pick up flags."),
    a!("Lag":"S2CLossToSpec", int(0, 1000), "150", "realm (lag.rs)", "Server-to-client loss (0.1 %) above which a player is moved to spectator."),
    a!("Lag":"S2CLossToStartIgnoringWeapons", int(0, 1000), "40", "realm (lag.rs)", "Server-to-client loss (0.1 %) from which some weapons are ignored."),
    a!("Lag":"S2CLossToIgnoreAllWeapons", int(0, 1000), "500", "realm (lag.rs)", "Server-to-client loss (0.1 %) from which all weapons are ignored."),
    a!("Lag":"S2CLossToDisallowFlags", int(0, 1000), "50", "realm (lag.rs)", "Server-to-client loss (0.1 %) from which flags may not be picked up."),
    a!("Lag":"C2SLossToSpec", int(0, 1000), "150", "realm (lag.rs)", "Client-to-server loss (0.1 %) above which a player is moved to spectator."),
    a!("Lag":"C2SLossToDisallowFlags", int(0, 1000), "50", "realm (lag.rs)", "Client-to-server loss (0.1 %) from which flags may not be picked up."),
    a!("Lag":"SpikeToSpec", I32, "3000", "realm (lag.rs)", "Milliseconds without a packet after which a player is moved to spectator."),
    // ----- [Security] --------------------------------------------------------------------
    g!("Security":"SecurityKickoff", BOOL, "0", "realm (security.rs)", "Kick players who fail a security check."),
    g!("Security":"SecurityIntervalMillis", int(500, i32::MAX as i64), "60000", "realm (security.rs)", "Time between security checksum requests."),
    a!("Security":"MaxDeathWithoutFiring", int(0, 1000), "5", "realm (rules.rs)", "Deaths in a row without firing after which a player is moved to spectator (0 = off)."),
    // ----- [Chat] -----------------------------------------------------------------------
    g!("Chat":"MessageReliable", BOOL, "1", "realm (rules.rs)", "Send chat messages reliably."),
    g!("Chat":"FloodLimit", int(0, 1000), "10", "realm (rules.rs)", "Messages in a short time before the sender is silenced (0 = off)."),
    g!("Chat":"FloodShutup", int(0, 86_400), "60", "realm (rules.rs)", "Seconds a flooding player is silenced."),
    g!("Chat":"CommandLimit", int(1, 100), "5", "realm (rules.rs)", "Commands allowed in one ?a|b|c line."),
    g!("Chat":"ForceFilter", BOOL, "0", "realm (rules.rs)", "The obscenity filter is on for everyone."),
    g!("Chat":"FilterMode", int(0, 1), "1", "realm (rules.rs)", "1 = replace obscene words, 0 = drop the line."),
    g!("Chat":"Obscene", TEXT, "", "realm (rules.rs)", "Words the obscenity filter hides, separated by spaces (?word = rot-13)."),
    a!("Chat":"RestrictChat", int(0, 255), "0", "realm (rules.rs)", "Initial arena chat mask (bit n = chat type n blocked)."),
    // ----- [Team], [Legalship], ship limits (arena) ---------------------------------------------
    a!("Team":"SpectatorFrequency", int(0, 9999), "8025", "realm (freqman.rs)", "The spectator freq."),
    a!("Team":"MaxFrequency", int(1, 10000), "10000", "realm (freqman.rs)", "One more than the highest usable freq."),
    a!("Team":"PrivFreqStart", int(0, 9999), "100", "realm (freqman.rs)", "Freqs from this one on are private."),
    a!("Team":"MaxPerTeam", int(0, 1000), "1000", "realm (freqman.rs)", "Players per public freq (0 = public freqs closed)."),
    a!("Team":"MaxPerPrivateTeam", int(0, 1000), "1000", "realm (freqman.rs)", "Players per private freq (0 = private freqs closed)."),
    a!("Team":"DesiredTeams", int(0, 10000), "2", "realm (freqman.rs)", "Freqs the balancer fills on entry."),
    a!("Team":"RequriedTeams", int(0, 10000), "0", "realm (freqman.rs)", "Freqs that must keep at least one player (ASSS spelling)."),
    a!("Team":"BalancedAgainstStart", int(0, 9999), "1", "realm (freqman.rs)", "First freq compared when balancing."),
    a!("Team":"BalancedAgainstEnd", int(0, 9999), "0", "realm (freqman.rs)", "One past the last freq compared when balancing."),
    a!("Team":"ForceEvenTeams", BOOL, "0", "realm (freqman.rs)", "Refuse changes that unbalance the teams."),
    a!("Team":"MaxTeamDifference", int(1, 1000), "1", "realm (freqman.rs)", "Allowed size difference with ForceEvenTeams."),
    a!("Team":"InitialSpec", BOOL, "0", "realm (freqman.rs)", "Entering players start as spectators."),
    a!("Team":"IncludeSpectators", BOOL, "0", "realm (freqman.rs)", "Spectators count toward freq sizes."),
    a!("Team":"DisallowTeamSpectators", BOOL, "0", "realm (freqman.rs)", "Spectators may not sit on a playing freq."),
    a!("All":"LimitPerTeam", int(-1, 1000), "-1", "realm (freqman.rs)", "Ships of this type per freq (-1 = no limit)."),
    a!("Legalship":"ArenaMask", int(0, 255), "255", "realm (freqman.rs)", "Ships allowed in the arena (bit n = ship n+1)."),
    a!("Legalship":"Freq#Mask", int(0, 255), "255", "realm (freqman.rs)", "Ships allowed on freq # (bit n = ship n+1)."),
    a!("Misc":"MaxXres", int(0, 65535), "0", "realm (freqman.rs)", "Widest screen allowed to play (0 = any)."),
    a!("Misc":"MaxYres", int(0, 65535), "0", "realm (freqman.rs)", "Tallest screen allowed to play (0 = any)."),
    a!("Misc":"MaxResArea", I32, "0", "realm (freqman.rs)", "Largest screen area allowed to play (0 = any)."),
    // ----- [Misc] (arena, server side) ----------------------------------------------------------
    a!("Misc":"SelfScoreReset", BOOL, "0", "realm (rules.rs)", "Players may reset their own score with ?scorereset."),
    a!("Misc":"SpecSeeExtra", BOOL, "1", "realm (rules.rs)", "Spectators get the extra position data of whom they watch."),
    a!("Misc":"TeamKillPoints", BOOL, "0", "realm (scores.rs)", "Team kills score points."),
    a!("Misc":"SendUpdatedSettings", BOOL, "1", "realm (arena.rs)", "Send changed settings to the players at once when the arena's config changes."),
    // ----- [Kill] (arena) ----------------------------------------------------------------------
    a!("Kill":"FixedKillReward", I32, "-1", "realm (scores.rs)", "Points per kill; -1 = the killed player's bounty."),
    a!("Kill":"FlagMinimumBounty", I32, "0", "realm (scores.rs)", "Killer bounty needed for the flag bonuses."),
    a!("Kill":"PointsPerKilledFlag", I32, "0", "realm (scores.rs)", "Bonus per flag the killed player carried."),
    a!("Kill":"PointsPerCarriedFlag", I32, "0", "realm (scores.rs)", "Bonus per flag the killer carries."),
    a!("Kill":"PointsPerTeamFlag", I32, "0", "realm (scores.rs)", "Bonus per flag the killer's team owns."),
    a!("Kill":"JackpotBountyPercent", int(0, 1000), "0", "realm (jackpot module)", "Share (0.1 %) of the killed player's bounty added to the jackpot."),
    // ----- [Modules], [Flag], [Periodic] (arena) --------------------------------------------------
    a!("Modules":"AttachModules", TEXT, "", "realm (modules)", "The arena's game modules, separated by spaces (fg_wz, fg_turf, points_flag, jackpot, periodic, ...). Changes take effect at the realm's next start."),
    a!("Flag":"FlagCount", TEXT, "0", "realm (flag game)", "Flags of a carried-flag game: n or a range a - b (at most 255)."),
    a!("Flag":"SpawnX", int(0, 1023), "512", "realm (flag game)", "Centre (tile x) of where new flags appear."),
    a!("Flag":"SpawnY", int(0, 1023), "512", "realm (flag game)", "Centre (tile y) of where new flags appear."),
    a!("Flag":"SpawnRadius", int(0, 1023), "50", "realm (flag game)", "Radius (tiles) around the spawn centre for new flags."),
    a!("Flag":"DropRadius", int(0, 1023), "2", "realm (flag game)", "How far (tiles) from the player dropped flags land."),
    a!("Flag":"NeutRadius", int(0, 1023), "2", "realm (flag game)", "How far (tiles) from the player neuted flags land."),
    a!("Flag":"DropOwned", BOOL, "1", "realm (flag game)", "Flags dropped normally keep the freq."),
    a!("Flag":"NeutOwned", BOOL, "0", "realm (flag game)", "Neuted flags keep the freq."),
    a!("Flag":"TKOwned", BOOL, "1", "realm (flag game)", "Flags dropped by a team kill keep the freq."),
    a!("Flag":"SafeOwned", BOOL, "1", "realm (flag game)", "Flags dropped in a safe zone keep the freq."),
    a!("Flag":"FriendlyTransfer", BOOL, "1", "realm (flag game)", "A team kill hands the flags to the killer."),
    a!("Flag":"CarryFlags", int(0, 256), "1", "realm (flag game)", "0 = turf (not carried), 1 = no limit, n = at most n - 1 carried."),
    a!("Flag":"FlagBlankDelay", int(0, i32::MAX as i64), "0", "realm (flag game)", "Ticks after a flag is placed during which touches are ignored."),
    a!("Flag":"EnterGameFlaggingDelay", int(0, i32::MAX as i64), "0", "realm (flag game)", "Ticks after entering the game during which touches are ignored."),
    a!("Flag":"NoDataFlagDropDelay", int(0, i32::MAX as i64), "0", "realm (flag game)", "A carrier not heard from this long (ticks) has his flags neuted (0 = never)."),
    a!("Flag":"WinDelay", int(0, i32::MAX as i64), "200", "realm (flag game)", "Ticks between a flag landing and the win check."),
    a!("Flag":"ResetDelay", int(0, i32::MAX as i64), "0", "realm (flag game)", "Ticks between the end of a flag game and the next."),
    a!("Flag":"TouchDistance", int(0, 1023), "30", "realm (flag game)", "Farthest (tiles) a player's last position may be from a flag he touches (0 = no check)."),
    a!("Flag":"FlagReward", I32, "5000", "realm (points_flag)", "Flag game reward: (players in ships)^2 x reward / 1000, plus the jackpot."),
    a!("Flag":"SplitPoints", BOOL, "0", "realm (points_flag)", "Split the reward among the winning freq."),
    a!("Periodic":"RewardDelay", int(0, i32::MAX as i64), "0", "realm (periodic)", "Ticks between periodic rewards (0 = off)."),
    a!("Periodic":"RewardPoints", I32, "100", "realm (periodic)", "Points per owned flag; negative = magnitude x flags x players."),
    a!("Periodic":"RewardMinimumPlayers", int(0, 1000), "0", "realm (periodic)", "Players needed in the arena for a reward."),
    a!("Periodic":"SendZeroRewards", BOOL, "1", "realm (periodic)", "Announce rewards of zero points too."),
    // ----- [Prize], [DPrizeWeight] (arena, server side) ------------------------------------------
    a!("Prize":"UseTeamkillPrize", BOOL, "0", "realm (rules.rs)", "Give a prize for a team kill."),
    a!("Prize":"TeamkillPrize", int(-28, 28), "0", "realm (rules.rs)", "The prize given for a team kill."),
    a!("Prize":"DontShareThor", BOOL, "0", "realm (rules.rs)", "A thor green is not shown to teammates."),
    a!("Prize":"DontShareBurst", BOOL, "0", "realm (rules.rs)", "A burst green is not shown to teammates."),
    a!("Prize":"DontShareBrick", BOOL, "0", "realm (rules.rs)", "A brick green is not shown to teammates."),
    a!("Prize":"UseDeathPrizeWeights", BOOL, "0", "realm (rules.rs)", "Death greens use [DPrizeWeight] instead of [PrizeWeight]."),
    a!("DPrizeWeight":"*", int(0, i32::MAX as i64), "0", "realm (rules.rs)", "Weight of this prize (or NullPrize, nothing) for death greens."),
    // ----- [Billing] (global) --------------------------------------------------------------
    g!("Billing":"IP", TEXT, "", "supervisor (billing)", "Billing server address (dotted IPv4); empty = no biller. Read at start."),
    g!("Billing":"Port", int(1, 65535), "1850", "supervisor (billing)", "Billing server UDP port. Read at start."),
    g!("Billing":"ServerName", TEXT, "", "supervisor (billing), realm (?zone)", "The zone's name as told to the biller."),
    g!("Billing":"Password", TEXT, "", "supervisor (billing)", "The zone's billing password."),
    g!("Billing":"ServerID", I32, "0", "supervisor (billing)", "Server id told to the biller."),
    g!("Billing":"GroupID", I32, "1", "supervisor (billing)", "Group id told to the biller."),
    g!("Billing":"ScoreID", I32, "0", "supervisor (billing)", "Score id told to the biller."),
    g!("Billing":"RetryMinimumMillis", int(10, i32::MAX as i64), "1000", "supervisor (billing)", "First delay before reconnecting to the biller."),
    g!("Billing":"RetryInterval", int(0, i32::MAX as i64), "180", "supervisor (billing)", "Longest delay (seconds) between reconnections."),
    g!("Billing":"PingIntervalMillis", int(50, i32::MAX as i64), "60000", "supervisor (billing)", "Time between pings to the biller."),
    g!("Billing":"NoDataTimeoutMillis", int(100, i32::MAX as i64), "65000", "supervisor (billing)", "A biller silent this long is taken as down."),
    g!("Billing":"WaitLoginMillis", int(10, i32::MAX as i64), "5000", "supervisor (billing)", "How long the zone login may take."),
    g!("Billing":"AssumeLoginAfterWait", BOOL, "0", "supervisor (billing)", "Accepted and ignored: the link is up only on the biller's word."),
    g!("Billing":"LoginTimeoutMillis", int(10, i32::MAX as i64), "10000", "supervisor (billing)", "How long a player's login may wait for the biller."),
    g!("Billing":"Fallback", Kind::Choice(&["local", "refuse"]), "local", "supervisor (billing)", "Logins while the biller is down: local (passwd.conf) or refuse."),
    g!("Billing":"LocalChats", TEXT, "", "supervisor (billing)", "Chat channels kept in the zone, not sent to the biller."),
    g!("Billing":"LocalChatPrefix", TEXT, "", "supervisor (billing)", "Prefix given to local chat channel names."),
    g!("Billing":"StaffChats", TEXT, "", "supervisor (billing)", "Chat channels only staff may join."),
    g!("Billing":"StaffChatPrefix", TEXT, "", "supervisor (billing)", "Prefix given to staff chat channel names."),
    g!("Billing":"SavePublicPlayerScores", BOOL, "1", "supervisor (billing)", "Send public arenas' scores to the biller."),
    g!("Billing":"HonorScoreResetRequests", BOOL, "1", "supervisor (billing)", "Reset scores when the biller asks."),
    g!("Billing":"ScoreResetArenaGroups", TEXT, "(public)", "supervisor (billing)", "Arena groups whose scores a biller score reset clears."),
    g!("Billing":"EnableIsometryCompatibility", BOOL, "0", "supervisor (billing)", "Speak the Isometry biller dialect."),
    // ----- [Directory] (global) ---------------------------------------------------------------
    g!("Directory":"Name", TEXT, "", "supervisor (directory), realm (?zone)", "The zone's name in directory listings."),
    g!("Directory":"Description", TEXT, "", "supervisor (directory)", "The zone's description in directory listings."),
    g!("Directory":"Password", TEXT, "cane", "supervisor (directory)", "Password sent to directory servers."),
    g!("Directory":"Server#", TEXT, "", "supervisor (directory)", "A directory server (host name or IPv4) to announce the zone to."),
    g!("Directory":"Port", int(1, 65535), "4991", "supervisor (directory)", "Directory servers' port."),
    g!("Directory":"Port#", int(1, 65535), "4991", "supervisor (directory)", "Port of directory server #, if not Port."),
    g!("Directory":"FirstAnnounceMillis", int(0, 3_600_000), "10000", "supervisor (directory)", "Time from start to the first announcement."),
    g!("Directory":"AnnounceMillis", int(100, 3_600_000), "60000", "supervisor (directory)", "Time between announcements."),
    // ----- [Redirects], [Metrics], [Owner] -----------------------------------------------------------
    g!("Redirects":"*", TEXT, "", "supervisor, realm (redirects)", "An arena name that sends players to another zone: ip:port[:arena]."),
    g!("Metrics":"Listen", TEXT, "", "supervisor (web)", "Metrics and dashboard listener: ip:port or a port on 127.0.0.1; empty = off. Read at start."),
    g!("Metrics":"Token", TEXT, "", "supervisor (web)", "Required on every metrics request when set. Read at start."),
    a!("Owner":"Name", TEXT, "", "realm (?owner)", "The arena's owner, shown by ?owner."),
];
