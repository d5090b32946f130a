//! ASSS's `conf/modules.conf` (parsed by [`conf::ZoneModules`]): which
//! zone-wide features an operator's zone folder asks for, and what to tell
//! him about the modules it lists.
//!
//! ASSS loads exactly the modules that file lists; an ASSS zone folder that
//! leaves out `billing_ssc` has no biller link even if `[Billing]` is
//! filled in. We honour the same choice for the features we implement as
//! switchable parts (the table in [`SWITCHABLE`]); the core modules ASSS
//! needs to run at all are always part of ours, and so are the game
//! features realms run or arenas attach ([`IN_REALMS`]). Realms run
//! ASSS's zone-wide game modules `balls` and `bricks` in every arena when
//! the file lists them (`realm-worker/src/modules/mod.rs`). A zone folder
//! without `modules.conf` (and the embedded zone) keeps our defaults:
//! everything on that is configured. See `docs/protocol/config.md` §9.

pub use conf::ZoneModules;

/// The ASSS module names we implement as switchable features, and what
/// each switches.
pub const SWITCHABLE: &[(&str, &str)] = &[
    ("billing_ssc", "the UDP billing server link"),
    ("auth_file", "local passwords from passwd.conf"),
    ("persist", "scores kept in the database"),
    ("directory", "directory server listing"),
    ("chatnet", "the chatnet TCP listener"),
];

/// ASSS modules whose work is always part of our zone (the core, game
/// rules, chat, commands, logging, encryption) or of every realm.
const BUILT_IN: &[&str] = &[
    "unixsignal",
    "deadlock",
    "prng",
    "logman",
    "log_console",
    "mainloop",
    "config",
    "log_file",
    "playerdata",
    "lagdata",
    "bw_default",
    "bw_nolimit",
    "net",
    "arenaman",
    "mapdata",
    "capman",
    "core",
    "clientset",
    "cmdman",
    "obscene",
    "chat",
    "cmdlist",
    "stats",
    "basicstats",
    "log_sysop",
    "log_staff",
    "auth_ban",
    "banners",
    "freqman",
    "game",
    "points_kill",
    "playercmd",
    "admincmd",
    "sendfile",
    "quickfix",
    "help",
    "enc_vie",
    "enc_null",
    "enc_cont",
    "enf_legalship",
    "enf_shipcount",
];

/// ASSS modules whose game features our realms have: those every arena
/// runs (the flag core, timers, messages, LVZ objects, lag rules, security
/// checks, map and news downloads, ...) and those an arena attaches by
/// name in `Modules:AttachModules` (`game-protocol.md` §14–17, §24a).
/// In ASSS listing them makes them available; ours always has them.
pub const IN_REALMS: &[&str] = &[
    "flagcore",
    "balls",
    "bricks",
    "koth",
    "buy",
    "jackpot",
    "periodic",
    "points_flag",
    "points_goal",
    "fg_wz",
    "fg_turf",
    "enf_shipchange",
    "enf_lockspec",
    "enf_flagwin",
    "game_timer",
    "idle",
    "messages",
    "objects",
    "autowarp",
    "brickwriter",
    "lagaction",
    "mapnewsdl",
    "security",
    "redirect",
    "cfghelp",
    "sgcompat",
    "notify",
    "filetrans",
    "arenaperm",
];

/// ASSS modules we do not implement, with what the operator goes without.
pub const NOT_IMPLEMENTED: &[(&str, &str)] = &[
    ("fake", "fake players, ?makefake"),
    ("autoturret", "auto-turrets, ?dropturret"),
    ("record", "game recording, ?gamerecord"),
    (
        "turf_reward",
        "turf rewards; fg_turf with periodic pays turf points",
    ),
    (
        "points_turf_reward",
        "turf rewards; fg_turf with periodic pays turf points",
    ),
    ("turf_stats", "turf statistics, ?forcestats"),
];

/// What to tell the operator once at start about a zone's `modules.conf`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ModuleNotes {
    /// Switchable features the file leaves out, with what each switches.
    pub off: Vec<String>,
    /// Listed ASSS modules we do not implement, with what is missing.
    pub not_implemented: Vec<String>,
    /// Listed names that are no ASSS module we know (a typo, or a module
    /// of the operator's own).
    pub unknown: Vec<String>,
}

/// Sorts what `modules.conf` lists for the operator (nothing without the
/// file).
pub fn notes(modules: &ZoneModules) -> ModuleNotes {
    if !modules.has_file() {
        return ModuleNotes::default();
    }
    let off = SWITCHABLE
        .iter()
        .filter(|(name, _)| !modules.lists(name))
        .map(|(name, what)| format!("{name} ({what})"))
        .collect();
    let mut notes = ModuleNotes {
        off,
        ..ModuleNotes::default()
    };
    for name in modules.names() {
        if BUILT_IN.contains(&name)
            || IN_REALMS.contains(&name)
            || SWITCHABLE.iter().any(|(s, _)| *s == name)
        {
            continue;
        }
        match NOT_IMPLEMENTED.iter().find(|(n, _)| *n == name) {
            Some((_, what)) => notes.not_implemented.push(format!("{name} ({what})")),
            None => notes.unknown.push(name.to_string()),
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASSS_STYLE: &str = "\
;; a comment
unixsignal
net
chatnet
scoring:persist ; inline comment
; directory
; billing_ssc
auth_file
funky:autowarp
peer:peer
";

    #[test]
    fn listed_modules_switch_features_on_and_the_rest_off() {
        let m = ZoneModules::parse(ASSS_STYLE);
        assert!(m.enabled("chatnet"));
        assert!(m.enabled("persist"), "file:name form");
        assert!(m.enabled("auth_file"));
        assert!(!m.enabled("billing_ssc"), "commented out");
        assert!(!m.enabled("directory"));
        let ModuleNotes {
            off,
            not_implemented,
            unknown,
        } = notes(&m);
        assert!(not_implemented.is_empty());
        assert_eq!(
            off,
            vec![
                "billing_ssc (the UDP billing server link)".to_string(),
                "directory (directory server listing)".to_string()
            ]
        );
        assert_eq!(unknown, vec!["peer".to_string()]);
    }

    #[test]
    fn no_file_keeps_everything_on() {
        let m = ZoneModules::all();
        for (name, _) in SWITCHABLE {
            assert!(m.enabled(name));
        }
        assert_eq!(notes(&m), ModuleNotes::default());
    }

    /// ASSS's stock `dist/conf/modules.conf` (1.6): only the modules we
    /// really lack are reported, each with what is missing.
    #[test]
    fn asss_stock_modules_conf_reports_only_what_is_missing() {
        let stock = "unixsignal\ndeadlock\nprng\nlogman\nlog_console\nmainloop\nconfig\n\
            log_file\nplayerdata\nlagdata\nbw_default\nnet\nchatnet\narenaman\nmapdata\n\
            capman\nmapnewsdl\ncore\nclientset\nscoring:persist\ncmdman\nchat\nidle\n\
            cmdlist\nscoring:stats\nscoring:basicstats\nlog_sysop\nlog_staff\nauth_file\n\
            security\nauth_ban\nbanners\ngame_timer\nflagcore\nballs\nbricks\nkoth\ngame\n\
            freqman\nredirect\nlagaction\ncfghelp\nfiletrans\nquickfix\nenf_flagwin\n\
            enf_legalship\nenf_lockspec\nenf_shipchange\nenf_shipcount\nscoring:jackpot\n\
            scoring:periodic\nscoring:points_kill\nscoring:points_flag\n\
            scoring:points_goal\nturf:turf_reward\nturf:turf_stats\n\
            turf:points_turf_reward\nplayercmd\nadmincmd\nhelp\nnotify\nsendfile\n\
            funky:autowarp\nfunky:brickwriter\nbuy\nfake\nfunky:autoturret\n\
            funky:record\nfunky:sgcompat\nenc_vie\nmessages\nobjects\n";
        let n = notes(&ZoneModules::parse(stock));
        let names: Vec<&str> = n
            .not_implemented
            .iter()
            .map(|s| s.split(' ').next().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "autoturret",
                "fake",
                "points_turf_reward",
                "record",
                "turf_reward",
                "turf_stats"
            ]
        );
        assert!(n.unknown.is_empty(), "{:?}", n.unknown);
        assert_eq!(
            n.off,
            [
                "billing_ssc (the UDP billing server link)",
                "directory (directory server listing)"
            ]
        );
    }
}
