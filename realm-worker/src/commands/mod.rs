//! The `?`/`*` command dispatcher (`docs/protocol/commands-and-capabilities.md`
//! §1): parsing, targets, the capability check, help, and the table of
//! commands. The handlers live in [`general`] (everyone's commands) and
//! [`staff`] (staff powers).

mod energy;
mod flags;
mod general;
mod modcmds;
mod objects;
mod ops;
pub mod parse;
mod redirect;
mod settings;
mod soccer;
mod staff;

#[cfg(test)]
pub(crate) use settings::server_set;
pub(crate) use settings::settings_change;

use ipc_proto::ZoneCall;
use tracing::info;

use crate::arena::Arena;
use parse::Piece;

/// Whom a command is aimed at, from how it was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmdTarget {
    /// Sent in public: the arena.
    Arena,
    /// Sent to a team: that freq.
    Freq(i16),
    /// Sent privately: that player (of this arena).
    Player(i16),
}

/// Who runs a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issuer {
    /// Player id.
    pub pid: i16,
    /// Name.
    pub name: String,
    /// Staff group, in this arena.
    pub group: String,
    /// In another realm (a remote private command): replies go through
    /// the supervisor, and `rprivcmd_` capabilities apply.
    pub remote: bool,
}

/// One command being run.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// Who runs it.
    pub issuer: Issuer,
    /// At whom.
    pub target: CmdTarget,
    /// The command's table name.
    pub name: &'static str,
    /// Sound byte of the chat line (kept only for `sendsoundmessages`).
    pub sound: u8,
}

/// Why a command did nothing.
#[derive(Debug, PartialEq, Eq)]
pub enum CmdError {
    /// Bad or missing arguments: the usage line is shown.
    Usage,
    /// The command needs a single player as its target.
    NeedPlayer,
    /// Anything else, shown as is.
    Msg(String),
}

/// Result of a handler.
pub type CmdResult = Result<(), CmdError>;

type Handler = fn(&mut Arena, &Ctx, &str) -> CmdResult;

/// A command's entry in the table.
pub struct CommandSpec {
    /// Name (lower case).
    pub name: &'static str,
    /// What it may target (help text).
    pub targets: &'static str,
    /// Its arguments (help and usage text).
    pub args: &'static str,
    /// What it does.
    pub help: &'static str,
    run: Handler,
}

macro_rules! cmd {
    ($name:literal, $targets:literal, $args:literal, $help:literal, $run:path) => {
        CommandSpec {
            name: $name,
            targets: $targets,
            args: $args,
            help: $help,
            run: $run,
        }
    };
}

/// Every command, by name.
pub static COMMANDS: &[CommandSpec] = &[
    cmd!("a", "player, freq or arena", "<text>", "Shows the text as a green arena message to the targets, signed with your name.", staff::a),
    cmd!("aa", "player, freq or arena", "<text>", "Shows the text as an anonymous green arena message to the targets. (*arena)", staff::aa),
    cmd!("acceptfile", "none", "", "Accepts the file a player offered you with ?sendfile.", ops::acceptfile),
    cmd!("actives", "none", "", "Lists the players who are not idle spectators.", modcmds::run),
    cmd!("addallowed", "none", "<player name>", "Adds a player to passwd.conf with no password, so he may log in when General:AllowUnknown is off.", ops::addallowed),
    cmd!("admlogfile", "none", "flush | reopen", "Flushes the zone's log file (Log:File) to disk, or closes and reopens it after an outside rotation.", ops::admlogfile),
    cmd!("allcommands", "none", "", "Lists every command the server has, whether or not you may use it.", ops::allcommands),
    cmd!("arena", "none", "[-t]", "Lists the arenas and how many players are in each; -t lists them as text.", general::arena),
    cmd!("attmod", "none", "[-d] <module>", "Attaches an arena module to this arena until it restarts (-d detaches it); flag games change only with Modules:AttachModules.", ops::attmod),
    cmd!("av", "none", "", "Same as ?available.", modcmds::run),
    cmd!("available", "none", "", "Marks you as available (listed in ?actives again). Also ?av.", modcmds::run),
    cmd!("az", "none", "<text>", "Shows the text as an anonymous green message to the whole zone. (*zone)", staff::az),
    cmd!("ballcount", "none", "[<count> | +<more> | -<fewer>]", "Shows or changes the number of balls in the arena (0-8).", soccer::ballcount),
    cmd!("ballinfo", "none", "", "Shows where every ball is, who carries or fired it, and the refused ball packets.", soccer::ballinfo),
    cmd!("botfeature", "none", "[+|-]seeallposn [+|-]seeownposn", "Bot options: seeallposn sends you every position in the arena whatever the distance, seeownposn sends you your own.", ops::botfeature),
    cmd!("brickinfo", "none", "", "Shows how many bricks are live and the refused brick drops.", soccer::brickinfo),
    cmd!("brickwrite", "none", "<text>", "Writes the text in bricks, centred on where you are.", soccer::brickwrite),
    cmd!("buy", "none", "[item]", "Lists what this arena sells for points; with an item, buys it (in a ship, in a safe zone unless Cost:PurchaseAnytime).", modcmds::run),
    cmd!("cancelfile", "none", "", "Withdraws the file offers you made or received.", ops::cancelfile),
    cmd!("cd", "none", "[directory]", "Changes your working directory for the file commands (relative to the zone folder; none = the zone folder).", ops::cd),
    cmd!("cheater", "none", "<message>", "Sends the message to every staff member online.", ops::cheater),
    cmd!("cmdlist", "none", "", "Lists the commands you may use.", ops::cmdlist),
    cmd!("commands", "none", "", "Lists the commands you may use.", general::commands),
    cmd!("delfile", "none", "<file>", "Deletes a file of the zone folder (relative to your working directory).", ops::delfile),
    cmd!("delkick", "none", "<machine id or name>", "Same as ?liftkick.", ops::liftkick),
    cmd!("delmidban", "none", "<machine id or name>", "Same as ?liftkick.", ops::liftkick),
    cmd!("detmod", "none", "<module>", "Detaches an arena module from this arena until it restarts (flag games excepted).", ops::detmod),
    cmd!("endinterval", "none", "[-g] [-a <arena group>] <reset|game>", "Ends a score interval: its scores start again from zero (this arena's group unless -a or -g names one).", ops::endinterval),
    cmd!("energy", "player or arena", "[-t] [-n] [-s]", "Lets the target player (or, sent in public, players entering the arena) see everyone's energy; -t teammates' only, -n nobody's; -s sets it for spectator mode.", energy::energy),
    cmd!("find", "none", "<name or part of one>", "Tells you which arena a player is in; part of a name finds the closest match.", general::find),
    cmd!("flaginfo", "none", "", "Shows where every flag is and who owns or carries it.", flags::flaginfo),
    cmd!("flagreset", "none", "", "Ends the flag game with no winner; a new one starts after Flag:ResetDelay.", flags::flagreset),
    cmd!("geta", "none", "<section>:<key>", "Shows an arena setting's value and the file and line that set it.", settings::geta),
    cmd!("getcm", "player or arena", "", "Shows the chat mask of the target player or of the arena.", staff::getcm),
    cmd!("getfile", "none", "<file>", "Sends you a file of the zone folder (relative to your working directory).", ops::getfile),
    cmd!("getg", "none", "<section>:<key>", "Shows a global setting's value and the file and line that set it.", settings::getg),
    cmd!("getgroup", "player or none", "", "Shows your staff group, or the target player's.", general::getgroup),
    cmd!("getsettings", "none", "[text]", "Same as ?quickfix.", settings::quickfix),
    cmd!("giveball", "player or none", "[-f] [ball]", "Puts a ball (0 if none is named) under the target player, or you; -f makes him carry it.", soccer::giveball),
    cmd!("go", "none", "[arena]", "Takes you to another arena (arena 0 if none is named).", general::go),
    cmd!("grplogin", "none", "<group> <password>", "Puts you in a staff group for this visit if the password matches [GroupPasswords] in staff.conf.", ops::grplogin),
    cmd!("help", "none", "[command] | <section>:<key> | <section>: | :", "Shows what a command does; without one, lists the commands you may use. With a colon: help on a setting, the keys of a section, or the sections. Also ?man.", general::help),
    cmd!("idles", "none", "", "Lists the spectators who have been idle for two minutes or more.", modcmds::run),
    cmd!("info", "player", "", "Shows the target's client, resolution, address, connect time and traffic, and his security checks.", staff::info),
    cmd!("jackpot", "none", "", "Shows the jackpot, paid to the winners of the flag game.", flags::jackpot),
    cmd!("kick", "player", "[-s seconds | -t seconds | -m minutes] [reason]", "Disconnects the target player, telling him the reason. You must rank higher than him.", staff::kick),
    cmd!("lag", "player or none", "[-v]", "Shows your ping and packet loss, or the target player's; -v for more detail (with the lag rules' verdict).", general::lag),
    cmd!("laghist", "player or none", "[-r]", "Shows a histogram of your ping, or the target player's, in 20 ms buckets: from his positions' age on arrival, or with -r from the reliable round trips.", general::laghist),
    cmd!("lastlog", "none", "[count] [text]", "Shows the zone's most recent log lines (10 unless a count is given), only those containing the text if one is given.", ops::lastlog),
    cmd!("liftkick", "none", "<machine id or name>", "Lifts the timed kicks (?kick -t) of a machine id or a player name.", ops::liftkick),
    cmd!("listarena", "none", "[arena]", "Lists the players in an arena (yours if none is named).", ops::listarena),
    cmd!("listkick", "none", "", "Lists the timed kicks in force (machine id, name, who, why, time left).", ops::listkick),
    cmd!("listmidbans", "none", "", "Same as ?listkick.", ops::listkick),
    cmd!("listmod", "none", "", "Lists the staff members online, their arena and group.", general::listmod),
    cmd!("listsettings", "none", "<section>", "Lists every setting of a section with its value here (or its default).", settings::listsettings),
    cmd!("local_password", "none", "<new password>", "Same as ?passwd.", ops::passwd),
    cmd!("lock", "player, freq or arena", "[-n] [-s] [-t seconds]", "Locks the targets in their ships: -s puts them in spectator mode first, -n tells them, -t unlocks them after that many seconds.", staff::lock),
    cmd!("lockarena", "arena", "[-n] [-a] [-i] [-s]", "Locks the arena: entering players stay in spectator mode (-i: in the ship they asked for) and everyone here is locked in his ship; -n tells them, -a only changes the arena state, -s puts everyone in spectator mode first.", ops::lockarena),
    cmd!("lsmod", "none", "[-a] [text]", "Lists the arena modules this server has (-a: only those attached here), or those whose names contain the text.", ops::lsmod),
    cmd!("makearena", "none", "<arena name>", "Creates arenas/<name>/arena.conf in the zone folder, including the default arena's config.", ops::makearena),
    cmd!("man", "none", "<command>", "Same as ?help.", general::help),
    cmd!("mapinfo", "none", "", "Shows the arena's map file, its attributes, regions and size.", ops::mapinfo),
    cmd!("modinfo", "none", "<module>", "Shows what an arena module does.", ops::modinfo),
    cmd!("moveball", "none", "<ball> <x> <y>", "Puts a ball on the map at tile x, y.", soccer::moveball),
    cmd!("moveflag", "none", "<flag id> <freq> [<x> <y>]", "Gives a flag to a freq, on the map where it is or at tile x, y.", flags::moveflag),
    cmd!("nav", "none", "", "Same as ?notavailable.", modcmds::run),
    cmd!("netstats", "none", "", "Shows the zone's network figures: packets, bandwidth, connections.", ops::netstats),
    cmd!("neutflag", "none", "<flag id>", "Makes a flag neutral and puts it back on the map.", flags::neutflag),
    cmd!("notavailable", "none", "", "Marks you as not available: ?actives and ?specactives leave you out. Also ?nav.", modcmds::run),
    cmd!("objimage", "player, freq or arena", "<id> <image 0-255>", "Changes the image of an LVZ object for the targets.", objects::objimage),
    cmd!("objinfo", "none", "<id>", "Shows what this arena did with an LVZ object (shown or hidden, changed attributes).", objects::objinfo),
    cmd!("objlayer", "player, freq or arena", "<id> <layer>", "Changes the layer of an LVZ object for the targets: BelowAll AfterBackground AfterTiles AfterWeapons AfterShips AfterGauges AfterChat TopMost.", objects::objlayer),
    cmd!("objlist", "none", "", "Lists the LVZ objects this arena toggled or changed.", objects::objlist),
    cmd!("objmode", "player, freq or arena", "<id> <mode>", "Changes the display mode of an LVZ object for the targets: ShowAlways EnterZone EnterArena Kill Death ServerControlled.", objects::objmode),
    cmd!("objmove", "player, freq or arena", "<id> <x> <y> | <id> [CBSGFETROWV]<x> [CBSGFETROWV]<y>", "Moves an LVZ map object (map pixels) or screen object (pixels from the screen point the letter names).", objects::objmove),
    cmd!("objoff", "player, freq or arena", "<id>", "Hides an LVZ object for the targets.", objects::objoff),
    cmd!("objon", "player, freq or arena", "<id>", "Shows an LVZ object for the targets.", objects::objon),
    cmd!("objset", "player, freq or arena", "+<id> -<id> ...", "Shows (+) and hides (-) LVZ objects for the targets.", objects::objset),
    cmd!("objtimer", "player, freq or arena", "<id> <ticks 0-4095>", "Changes how long an LVZ object is shown (1/100 s; 0 = always) for the targets.", objects::objtimer),
    cmd!("obscene", "none", "", "Turns your obscene-word filter on or off.", general::obscene),
    cmd!("owner", "none", "", "Shows the arena's owner.", general::owner),
    cmd!("passwd", "none", "<new password>", "Sets your password in the zone's passwd.conf (you must have logged in with a verified password).", ops::passwd),
    cmd!("pausetimer", "none", "", "Pauses the ?timer timer, or resumes it.", modcmds::run),
    cmd!("points", "player, freq or arena", "<points>", "Adds flag points to the targets' scores (negative to take them away).", staff::points),
    cmd!("prize", "player, freq or arena", "[count] [-]<prize> ... | #<number>", "Gives the targets prizes, e.g. {3 reps}, {anti}; a '-' before the name or count takes them away ({-prox}, {-3 bricks}); a count alone gives random prizes.", staff::prize),
    cmd!("putfile", "none", "<client file>[:<server file>]", "Asks your client for one of its files and saves it in the zone folder, relative to your working directory (without a server name: under the file's own name). Needs uploadfile too.", ops::putfile),
    cmd!("putmap", "none", "<map file>", "Asks your client for a map file, saves it as maps/uploads/<arena>.lvl and makes it this arena's General:Map. Needs uploadfile too.", ops::putmap),
    cmd!("putzip", "none", "<client file>[:<server directory>]", "Asks your client for a zip archive and unpacks its files into a directory of the zone folder (relative to your working directory; without one, the working directory), each under its own name without the archive's folders. Needs uploadfile too.", ops::putzip),
    cmd!("pwd", "none", "", "Shows your working directory for the file commands.", ops::pwd),
    cmd!("quickfix", "none", "[text]", "Sends the arena settings whose section or key contains the text (all without one) to your client's settings editor; what you change there is written as ?seta writes it. Needs changesettings. Also ?getsettings.", settings::quickfix),
    cmd!("realms", "none", "", "Shows every realm (arena process) of the zone: state, players, CPU, memory, restarts.", general::realms),
    cmd!("recyclearena", "none", "", "Restarts this arena's process; everyone here is put back in the arena without being disconnected. Also ?recycle.", ops::recyclearena),
    cmd!("recyclezone", "none", "", "Stops the zone cleanly (players told, scores saved) with the exit status the service manager restarts it on.", ops::recyclezone),
    cmd!("redirect", "player, freq or arena", "<redirect name> | <ip>:<port>[:<arena>]", "Sends the targets to another zone (Continuum and bots that understand redirects); sent in public, sends you. Names are set in the global [Redirects] section.", redirect::redirect),
    cmd!("reloadconf", "none", "", "Reloads the zone's settings and every arena's config (as zone-supervisor reload).", settings::reloadconf),
    cmd!("renfile", "none", "<old name>:<new name>", "Renames a file of the zone folder (relative to your working directory).", ops::renfile),
    cmd!("reply", "player", "<message>", "Sends the player a private message (for answering help calls).", ops::reply),
    cmd!("resetgame", "none", "", "Ends the soccer game with no winner: the balls leave play until the next game and the team scores start again.", soccer::resetgame),
    cmd!("resetkoth", "none", "", "Starts a new King of the Hill game: a crown for everyone in a ship.", modcmds::run),
    cmd!("rmgroup", "player", "", "Takes the player out of his staff group (and out of staff.conf if he is listed there). You must rank higher than the group.", ops::rmgroup),
    cmd!("score", "none", "", "Shows the team scores of the soccer game.", soccer::score),
    cmd!("scorereset", "player or none", "", "Resets your own score (if the arena allows it), or the target player's.", general::scorereset),
    cmd!("send", "player", "<arena>", "Sends the target player to another arena.", staff::send),
    cmd!("sendfile", "player", "<file>", "Offers the target player a file from your client's folder; he takes it with ?acceptfile. Both of you must be spectators, and you may offer one file at a time.", ops::sendfile),
    cmd!("set_local_password", "player", "", "Stores the password the player logged in with as his passwd.conf entry, if he has none.", ops::set_local_password),
    cmd!("seta", "none", "[-t] <section>:<key>=<value>", "Changes an arena setting in the file it comes from (or adds it to the arena's file); players get the new settings at once. -t changes it in this arena's memory only, until the next reload.", settings::seta),
    cmd!("setcm", "player or arena", "(+|-)(pub|pubmacro|freq|nmefreq|priv|chat|modchat|all) ... [-t seconds]", "Changes the chat mask of the target player, or of the arena: '-' blocks that kind of chat, '+' allows it; -t makes a player's mask expire.", staff::setcm),
    cmd!("setfreq", "player, freq or arena", "[-f] <freq>", "Moves the targets to a freq; -f bypasses the freq manager.", staff::setfreq),
    cmd!("setg", "none", "<section>:<key>=<value>", "Changes a global setting in the file it comes from (or adds it to global.conf) and reloads the zone's settings.", settings::setg),
    cmd!("setgroup", "player", "[-a] [-p] <group>", "Puts the player in a staff group for this visit; -p writes it into staff.conf ([(global)], or this arena's section with -a). You must rank higher than the group.", ops::setgroup),
    cmd!("setjackpot", "none", "<points>", "Sets the jackpot.", flags::setjackpot),
    cmd!("setscore", "player", "<kill points> [flag points] [kills] [deaths]", "Sets the target player's score in this arena.", staff::setscore),
    cmd!("setship", "player, freq or arena", "[-f] <1-9>", "Puts the targets in a ship (1 Warbird ... 8 Shark, 9 spectator); -f bypasses the freq manager.", staff::setship),
    cmd!("setsoccerscore", "none", "<team 0> [<team 1> ...]", "Sets the team scores of the soccer game (ASSS's soccer ?setscore).", soccer::setsoccerscore),
    cmd!("sg_einfo", "player or none", "", "Shows the player's resolution and client (*einfo).", ops::sg_einfo),
    cmd!("sg_info", "player or none", "", "Same as ?info (*info).", ops::sg_info),
    cmd!("sg_lag", "player or none", "", "Same as ?lag (*lag).", ops::sg_lag),
    cmd!("sg_listmod", "none", "", "Lists every player in a staff group, with group and arena (*listmod).", ops::sg_listmod),
    cmd!("sg_lock", "arena", "", "Locks the arena, or unlocks it if it is locked (*lock).", ops::sg_lock),
    cmd!("sg_scorereset", "player, freq or arena", "", "Resets the targets' scores (*scorereset).", ops::sg_scorereset),
    cmd!("sg_spec", "player", "", "Locks the player in spectator mode, or unlocks him if he is locked (*spec).", ops::sg_spec),
    cmd!("sg_where", "player or none", "", "Shows the map sector of the player, or your own (*where).", ops::sg_where),
    cmd!("sheep", "arena", "", "Says Misc:SheepMessage (or the classic line) with the sheep sound.", ops::sheep),
    cmd!("shipreset", "player, freq or arena", "", "Resets the targets' ships (full energy, initial items).", staff::shipreset),
    cmd!("shutdown", "none", "[-r]", "Stops the zone cleanly (players told, scores saved); -r exits with the status the service manager restarts it on (as ?recyclezone).", ops::shutdown),
    cmd!("spawnball", "none", "[ball]", "Puts a ball (0 if none is named) back at its spawn area.", soccer::spawnball),
    cmd!("spec", "player or none", "", "Shows who is spectating you, or the target player.", general::spec),
    cmd!("specactives", "none", "", "Lists the spectators who are not idle.", modcmds::run),
    cmd!("specall", "player, freq or arena", "", "Puts the targets in spectator mode.", staff::specall),
    cmd!("stats", "player or none", "", "Shows your scores in this arena, or the target player's.", ops::stats),
    cmd!("time", "none", "", "Shows the time left in the current timed game.", modcmds::run),
    cmd!("timer", "none", "<minutes>[:<seconds>]", "Starts a game timer (not in arenas with Misc:TimedGame); 0 stops it.", modcmds::run),
    cmd!("timereset", "none", "", "Starts the timed game (Misc:TimedGame) over.", modcmds::run),
    cmd!("unlock", "player, freq or arena", "[-n]", "Unlocks the targets' ships; -n tells them.", staff::unlock),
    cmd!("unlockarena", "arena", "[-n] [-a]", "Unlocks the arena: entering players are free again and everyone here is unlocked; -n tells them, -a only changes the arena state.", ops::unlockarena),
    cmd!("uptime", "none", "", "Shows how long the zone has been running.", ops::uptime),
    cmd!("version", "none", "", "Shows the server's version.", general::version),
    cmd!("warn", "player", "<text>", "Sends the target player a red warning.", staff::warn),
    cmd!("warpto", "player, freq or arena", "<x> <y>", "Warps the targets to tile x, y (1-1023).", staff::warpto),
    cmd!("where", "player or none", "", "Shows where you are on the map, or the target player.", general::where_),
    cmd!("z", "none", "<text>", "Shows the text as a green message to the whole zone, signed with your name.", staff::z),
    cmd!("zone", "none", "", "Shows the zone's name.", general::zone),
];

/// The table entry of a command (case-insensitive).
pub fn find_command(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.name.eq_ignore_ascii_case(name))
}

/// Old `*` spellings (ASSS `sgcompat`): the command they run and
/// parameters put in front of the typed ones.
fn star_alias(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name.to_ascii_lowercase().as_str() {
        "arena" => ("aa", ""),
        "zone" => ("az", ""),
        "kill" => ("kick", "-m "),
        "locate" => ("find", ""),
        "setship" => ("setship", "-f "),
        "setfreq" => ("setfreq", "-f "),
        "listban" => ("listmidbans", ""),
        "removeban" => ("delmidban", ""),
        "log" => ("lastlog", ""),
        "flags" => ("flaginfo", ""),
        "recycle" => ("shutdown", "-r"),
        "sysop" => ("setgroup", "sysop "),
        "smoderator" => ("setgroup", "smod "),
        "moderator" => ("setgroup", "mod "),
        "einfo" => ("sg_einfo", ""),
        "tinfo" => ("sg_tinfo", ""),
        "listmod" => ("sg_listmod", ""),
        "where" => ("sg_where", ""),
        "info" => ("sg_info", ""),
        "lag" => ("sg_lag", ""),
        "spec" => ("sg_spec", ""),
        "lock" => ("sg_lock", ""),
        "scorereset" => ("sg_scorereset", ""),
        _ => return None,
    })
}

/// `?` spellings of other servers' commands (ASSS `sgcompat`): the command
/// they run and parameters put in front of the typed ones.
fn question_alias(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name.to_ascii_lowercase().as_str() {
        "recycle" => ("recyclearena", ""),
        "get" => ("geta", ""),
        "setlevel" => ("putmap", ""),
        _ => return None,
    })
}

/// The capability needed to run `name` at `target` (`cmd_`, `privcmd_`,
/// or `rprivcmd_` for a player in another arena).
pub fn capability(name: &str, target: CmdTarget, remote: bool) -> String {
    let prefix = match (target, remote) {
        (_, true) => "rprivcmd",
        (CmdTarget::Arena, false) => "cmd",
        (CmdTarget::Freq(_) | CmdTarget::Player(_), false) => "privcmd",
    };
    format!("{prefix}_{name}")
}

/// The text of `line` from the start of `first` to the end of `last`
/// (both slices of it): a command as typed, separator included.
fn span<'a>(line: &'a str, first: &'a str, last: &str) -> &'a str {
    let base = line.as_ptr() as usize;
    let start = (first.as_ptr() as usize).wrapping_sub(base);
    let end = (last.as_ptr() as usize)
        .wrapping_sub(base)
        .wrapping_add(last.len());
    line.get(start..end).unwrap_or(first)
}

/// Parameters that are hidden in the log.
fn sensitive(name: &str) -> bool {
    matches!(
        name,
        "passwd" | "local_password" | "password" | "login" | "chat" | "setg" | "grplogin"
    )
}

impl Arena {
    /// The issuer record of a player of this arena.
    pub(crate) fn local_issuer(&self, pid: i16) -> Option<Issuer> {
        self.players.get(&pid).map(|p| Issuer {
            pid,
            name: p.info.name.clone(),
            group: p.group.clone(),
            remote: false,
        })
    }

    /// Whether the issuer's group has a capability (in this arena).
    pub(crate) fn issuer_can(&self, issuer: &Issuer, capability: &str) -> bool {
        self.assets.caps.group_has(&issuer.group, capability)
    }

    /// A green message to the issuer, wherever he is.
    pub(crate) fn reply(&mut self, issuer: &Issuer, text: &str) {
        if issuer.remote {
            self.zone_call(ZoneCall::MessageTo {
                pid: issuer.pid,
                chat_type: ss_proto::game::chat_type::ARENA,
                sound: 0,
                text: text.to_string(),
            });
        } else {
            self.arena_message(issuer.pid, text);
        }
    }

    /// Runs the commands of one chat line (`text` is what follows the
    /// leading `?` or `*`).
    pub(crate) fn run_commands(
        &mut self,
        issuer: Issuer,
        target: CmdTarget,
        text: &str,
        star: bool,
        sound: u8,
    ) {
        for piece in parse::split_line(text, self.rules.chat.command_limit) {
            match piece {
                Piece::Biller(line) => self.send_to_biller(&issuer, target, &format!("\\{line}")),
                Piece::Command(cmd) => {
                    let raw = span(text, cmd.name, cmd.params);
                    self.run_one(&issuer, target, cmd.name, cmd.params, raw, star, sound)
                }
            }
        }
    }

    /// A command no handler here knows, or one forced past them with `\`:
    /// for the billing server's default handler (`docs/protocol/billing-udp.md`
    /// §7.1), through the supervisor, which says it is unknown when there is no
    /// biller. Only public commands of local players go there.
    fn send_to_biller(&mut self, issuer: &Issuer, target: CmdTarget, line: &str) {
        if issuer.remote || target != CmdTarget::Arena {
            let name = line.split([' ', '=', '#']).next().unwrap_or(line);
            self.reply(issuer, &format!("Unknown command: ?{name}"));
            return;
        }
        let modchat = self.issuer_can(issuer, "sendmodchat");
        self.zone_call(ZoneCall::BillerCommand {
            pid: issuer.pid,
            line: line.to_string(),
            modchat,
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn run_one(
        &mut self,
        issuer: &Issuer,
        target: CmdTarget,
        typed: &str,
        params: &str,
        raw: &str,
        star: bool,
        sound: u8,
    ) {
        let alias = if star {
            star_alias(typed)
        } else {
            question_alias(typed)
        };
        let (name, prefix) = match alias {
            Some((name, prefix)) => (name.to_string(), prefix),
            None => (typed.to_ascii_lowercase(), ""),
        };
        // Alert commands are the words `Notify:AlertCommand` names, which
        // replace `?cheater` (its default).
        let alerts = self.alert_commands();
        if alerts.contains(&name) {
            self.run_alert(issuer, target, &name, params, sound);
            return;
        }
        let Some(spec) = find_command(&name).filter(|s| s.name != "cheater") else {
            self.send_to_biller(issuer, target, raw);
            return;
        };
        let cap = capability(spec.name, target, issuer.remote);
        if !self.issuer_can(issuer, &cap) {
            self.reply(
                issuer,
                &format!("You don't have permission to use ?{}.", spec.name),
            );
            return;
        }
        let params = format!("{prefix}{params}");
        let shown = if sensitive(spec.name) {
            "..."
        } else {
            params.as_str()
        };
        let to = match target {
            CmdTarget::Arena => "(arena)".to_string(),
            CmdTarget::Freq(f) => format!("(freq {f})"),
            CmdTarget::Player(p) => format!(
                "to [{}]",
                self.players.get(&p).map_or("?", |t| t.info.name.as_str())
            ),
        };
        info!(realm = %self.name, pid = issuer.pid, name = %issuer.name, "command {to}: {} {shown}", spec.name);
        let ctx = Ctx {
            issuer: issuer.clone(),
            target,
            name: spec.name,
            sound,
        };
        match (spec.run)(self, &ctx, &params) {
            Ok(()) => {}
            Err(CmdError::Usage) => {
                let line = format!("Usage: ?{} {}", spec.name, spec.args);
                self.reply(issuer, line.trim_end());
            }
            Err(CmdError::NeedPlayer) => self.reply(issuer, "You must target a player."),
            Err(CmdError::Msg(m)) => self.reply(issuer, &m),
        }
    }

    /// The alert command words (`Notify:AlertCommand`, separated by
    /// spaces, commas, colons or semicolons; `cheater` when unset).
    fn alert_commands(&self) -> Vec<String> {
        let words = self
            .assets
            .config
            .global()
            .get_str("Notify", "AlertCommand")
            .unwrap_or("cheater");
        words
            .split([' ', '\t', ',', ':', ';'])
            .filter(|w| !w.is_empty())
            .map(str::to_ascii_lowercase)
            .collect()
    }

    /// Runs an alert command typed as `word`: allowed by `cmd_<word>`,
    /// as any command.
    fn run_alert(
        &mut self,
        issuer: &Issuer,
        target: CmdTarget,
        word: &str,
        params: &str,
        sound: u8,
    ) {
        let cap = capability(word, target, issuer.remote);
        if !self.issuer_can(issuer, &cap) {
            self.reply(
                issuer,
                &format!("You don't have permission to use ?{word}."),
            );
            return;
        }
        info!(realm = %self.name, pid = issuer.pid, name = %issuer.name, "alert command: {word} {params}");
        let ctx = Ctx {
            issuer: issuer.clone(),
            target,
            name: "cheater",
            sound,
        };
        if let Err(e) = ops::alert(self, &ctx, word, params) {
            match e {
                CmdError::Msg(m) => self.reply(issuer, &m),
                CmdError::Usage => self.reply(issuer, &format!("Usage: ?{word} <message>")),
                CmdError::NeedPlayer => self.reply(issuer, "You must target a player."),
            }
        }
    }

    /// The players a target means.
    pub(crate) fn target_pids(&self, target: CmdTarget) -> Vec<i16> {
        match target {
            CmdTarget::Arena => self.players.keys().copied().collect(),
            CmdTarget::Freq(f) => self
                .players
                .values()
                .filter(|p| p.freq == f)
                .map(|p| p.info.pid)
                .collect(),
            CmdTarget::Player(p) => self
                .players
                .contains_key(&p)
                .then_some(p)
                .into_iter()
                .collect(),
        }
    }

    /// Whether the issuer may act on `pid` with a punishing command: on
    /// himself always, on others only if his group is higher than theirs.
    pub(crate) fn may_act_on(&self, issuer: &Issuer, pid: i16) -> bool {
        if pid == issuer.pid {
            return true;
        }
        self.players
            .get(&pid)
            .is_some_and(|t| self.assets.caps.higher_than(&issuer.group, &t.group))
    }

    /// The targets the issuer may act on; the others are named to him.
    pub(crate) fn actionable(&mut self, ctx: &Ctx) -> Vec<i16> {
        let mut ok = Vec::new();
        for pid in self.target_pids(ctx.target) {
            if self.may_act_on(&ctx.issuer, pid) {
                ok.push(pid);
            } else if let Some(name) = self.players.get(&pid).map(|p| p.info.name.clone()) {
                let text = format!("You don't have permission to use ?{} on {name}.", ctx.name);
                self.reply(&ctx.issuer, &text);
            }
        }
        ok
    }

    /// Help text of a command, as chat lines.
    pub(crate) fn help_lines(spec: &CommandSpec) -> Vec<String> {
        let args = if spec.args.is_empty() {
            "none"
        } else {
            spec.args
        };
        vec![
            format!("?{}  Targets: {}  Args: {}", spec.name, spec.targets, args),
            spec.help.to_string(),
        ]
    }

    /// The commands the issuer may use in some form.
    pub(crate) fn usable_commands(&self, issuer: &Issuer) -> Vec<&'static str> {
        COMMANDS
            .iter()
            .filter(|c| {
                ["cmd", "privcmd", "rprivcmd"]
                    .iter()
                    .any(|p| self.issuer_can(issuer, &format!("{p}_{}", c.name)))
            })
            .map(|c| c.name)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_prefix_follows_the_target() {
        assert_eq!(
            capability("kick", CmdTarget::Player(3), false),
            "privcmd_kick"
        );
        assert_eq!(
            capability("prize", CmdTarget::Freq(0), false),
            "privcmd_prize"
        );
        assert_eq!(capability("arena", CmdTarget::Arena, false), "cmd_arena");
        assert_eq!(
            capability("send", CmdTarget::Player(3), true),
            "rprivcmd_send"
        );
    }

    #[test]
    fn the_table_is_sorted_unique_and_documented() {
        for w in COMMANDS.windows(2) {
            assert!(w[0].name < w[1].name, "{} before {}", w[0].name, w[1].name);
        }
        for c in COMMANDS {
            assert!(!c.help.is_empty() && !c.targets.is_empty(), "{}", c.name);
        }
        assert_eq!(find_command("KICK").map(|c| c.name), Some("kick"));
        assert!(find_command("nosuch").is_none());
    }

    /// `docs/protocol/commands-and-capabilities.md` §5: every ASSS command
    /// name, marked "yes" exactly when the command table has it, with the
    /// capabilities the default `groupdef.conf` grants as shown.
    #[test]
    fn the_asss_command_list_in_the_docs_matches_the_table() {
        let doc = include_str!("../../../docs/protocol/commands-and-capabilities.md");
        let sec = doc
            .split("## 5. ASSS's commands")
            .nth(1)
            .expect("the doc has §5");
        let zone = conf::ZoneConfig::embedded().unwrap();
        let caps = crate::caps::Capabilities::load(&zone, "0");
        let mut names = std::collections::BTreeSet::new();
        let mut yes = 0;
        for line in sec.lines().filter(|l| l.starts_with("| `?")) {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            assert_eq!(cells.len(), 3, "{line}");
            let name = cells[0].trim_matches('`').trim_start_matches('?');
            assert!(names.insert(name.to_string()), "{name} twice");
            if cells[2] == "yes" {
                yes += 1;
                assert!(
                    find_command(name).is_some(),
                    "{name} is marked yes but missing"
                );
                let mut granted = 0;
                for cap in cells[1].split(", ") {
                    let (cap, group) = cap.split_once(" (").expect("`cap` (group)");
                    let (cap, group) = (cap.trim_matches('`'), group.trim_end_matches(')'));
                    assert!(caps.group_has(group, cap), "{group} lacks {cap}");
                    granted += 1;
                }
                assert!(granted > 0, "{name}: no capability grants it");
            } else {
                assert!(
                    cells[2].starts_with("no: ") && cells[2].len() > 8,
                    "{name}: status must be yes or no: <why>"
                );
                assert!(
                    find_command(name).is_none(),
                    "{name} exists but is marked no"
                );
            }
        }
        assert_eq!(
            names.len(),
            153,
            "ASSS's default modules have 153 command names"
        );
        // Vice versa: a table command with an ASSS name is in the list.
        for c in COMMANDS {
            if !names.contains(c.name) {
                assert!(
                    [
                        "go",
                        "help",
                        "obscene",
                        "realms",
                        "brickinfo",
                        "listsettings",
                        "setsoccerscore"
                    ]
                    .contains(&c.name),
                    "?{} is missing from §5 (or is it ours alone?)",
                    c.name
                );
            }
        }
        assert!(
            sec.contains(&format!("**{yes} of 153**")),
            "the count in §5 says {yes}"
        );
        assert!(yes >= 100, "{yes}");
    }

    /// `docs/protocol/commands-and-capabilities.md` §3 calls itself the
    /// complete command table: every command has its row.
    #[test]
    fn the_command_table_in_the_docs_lists_every_command() {
        let doc = include_str!("../../../docs/protocol/commands-and-capabilities.md");
        let start = doc.find("## 3. Common commands").expect("§3");
        let end = start + doc[start..].find("\n## 4").expect("§4");
        let table = &doc[start..end];
        for c in COMMANDS {
            assert!(
                table.contains(&format!("| `?{}` |", c.name)),
                "?{} has no row in §3",
                c.name
            );
        }
    }

    #[test]
    fn star_aliases() {
        assert_eq!(star_alias("Arena"), Some(("aa", "")));
        assert_eq!(star_alias("setfreq"), Some(("setfreq", "-f ")));
        assert_eq!(star_alias("find"), None);
        assert_eq!(star_alias("kill"), Some(("kick", "-m ")));
        assert_eq!(star_alias("moderator"), Some(("setgroup", "mod ")));
        assert_eq!(question_alias("Recycle"), Some(("recyclearena", "")));
        assert_eq!(question_alias("kick"), None);
    }
}
