//! In-process tests of the arena: messages in, decoded messages out, on
//! the embedded default zone.

use conf::{ConfigFile, ZoneConfig};
use ipc_proto::{FrameReader, FromRealm, PlayerInfo, Target, ToRealm};
use ss_proto::game::objects::change as objchange;
use ss_proto::game::{
    chat_type, ship, C2SPacket, Chat, Green, ObjectChange, ObjectToggle, S2CPacket,
};

use crate::arena::Arena;
use crate::assets::{ArenaAssets, AssetSource};
use crate::caps::Capabilities;

/// Who a packet went to.
#[derive(Clone, Debug, PartialEq, Eq)]
enum To {
    Player(i16),
    Players(Vec<i16>),
    Arena,
    ArenaExcept(i16),
}

impl To {
    fn includes(&self, pid: i16) -> bool {
        match self {
            To::Player(p) => *p == pid,
            To::Players(l) => l.contains(&pid),
            To::Arena => true,
            To::ArenaExcept(p) => *p != pid,
        }
    }
}

#[derive(Clone, Debug)]
enum Out {
    Packet(To, S2CPacket),
    /// Any other message, as its debug text.
    Other(String),
}

struct Harness {
    arena: Arena,
    out: Vec<Out>,
}

const STAFF: &str =
    "[GroupPasswords]\nmod = letmein\n[(global)]\nmoddy = mod\nsysy = sysop\nsmoddy = smod\nbotty = bot\n";

impl Harness {
    fn new(overrides: &[&str]) -> Harness {
        let source = AssetSource {
            realm: "0".into(),
            zone_dir: None,
            overrides: overrides.iter().map(|s| s.to_string()).collect(),
        };
        let mut assets = ArenaAssets::load("0", None, &source.overrides).expect("embedded zone");
        let zone = ZoneConfig::embedded().unwrap();
        let groupdef = zone.load_file("groupdef.conf").unwrap();
        let staff = ConfigFile::parse_str(STAFF).unwrap();
        assets.caps = Capabilities::from_files(Some(staff), Some(groupdef), "(public)");
        let mut arena = Arena::new(source, assets);
        arena.start();
        let mut h = Harness {
            arena,
            out: Vec::new(),
        };
        h.drain();
        h.out.clear();
        h
    }

    fn send(&mut self, msg: ToRealm<'_>) {
        self.arena.handle(msg);
        self.drain();
    }

    /// Sends `pos` as a C2S position packet from `pid`.
    fn send_position(&mut self, pid: i16, pos: &ss_proto::game::Position) {
        let mut buf = [0u8; ss_proto::game::Position::MAX_LEN];
        let len = pos.encode_into(&mut buf);
        self.send(ToRealm::PlayerPacket {
            pid,
            bytes: &buf[..len],
        });
    }

    fn drain(&mut self) {
        let bytes = self.arena.take_output();
        let mut r = FrameReader::new();
        r.extend(&bytes);
        while let Ok(Some(frame)) = r.next_frame() {
            let msg: FromRealm = ipc_proto::decode(frame).expect("decodable output");
            let out = match msg {
                FromRealm::Send { to, bytes, .. } => {
                    let to = match to {
                        Target::Player(p) => To::Player(p),
                        Target::Players(l) => To::Players(Target::list(l).collect()),
                        Target::Arena => To::Arena,
                        Target::ArenaExcept(p) => To::ArenaExcept(p),
                    };
                    Out::Packet(to, S2CPacket::decode(bytes).expect("decodable packet"))
                }
                other => Out::Other(format!("{other:?}")),
            };
            self.out.push(out);
        }
    }

    /// A player enters; returns his ship and freq.
    fn enter(&mut self, pid: i16, name: &str, ship: u8) -> (u8, i16) {
        self.send(ToRealm::PlayerEnter(player_info(pid, name, ship)));
        let p = &self.arena.players[&pid];
        (p.ship, p.freq)
    }

    /// A player adopted from a predecessor (`ToRealm::AdoptPlayer`).
    fn enter_adopted(&mut self, pid: i16, name: &str) {
        let info = PlayerInfo {
            reentry: true,
            ..player_info(pid, name, ship::SPECTATOR)
        };
        self.send(ToRealm::AdoptPlayer(info));
    }

    fn packet(&mut self, pid: i16, pkt: C2SPacket) {
        let mut bytes = Vec::new();
        pkt.encode(&mut bytes);
        self.send(ToRealm::PlayerPacket { pid, bytes: &bytes });
    }

    fn chat(&mut self, pid: i16, kind: u8, target: i16, text: &str) {
        self.packet(
            pid,
            C2SPacket::Chat(Chat {
                chat_type: kind,
                sound: 0,
                pid: target,
                text: text.into(),
            }),
        );
    }

    /// Packets `pid` received since the last `take`.
    fn received(&self, pid: i16) -> Vec<S2CPacket> {
        self.out
            .iter()
            .filter_map(|o| match o {
                Out::Packet(to, p) if to.includes(pid) => Some(p.clone()),
                _ => None,
            })
            .collect()
    }

    /// Green/red messages `pid` received.
    fn messages(&self, pid: i16) -> Vec<String> {
        self.received(pid)
            .into_iter()
            .filter_map(|p| match p {
                S2CPacket::Chat(c) if c.pid == -1 => Some(c.text),
                _ => None,
            })
            .collect()
    }

    fn others(&self) -> Vec<String> {
        self.out
            .iter()
            .filter_map(|o| match o {
                Out::Other(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    fn clear(&mut self) {
        self.out.clear();
    }
}

/// A player entering with `ship` requested, a 1024×768 screen, no
/// history.
fn player_info(pid: i16, name: &str, ship: u8) -> PlayerInfo {
    PlayerInfo {
        pid,
        name: name.into(),
        squad: String::new(),
        ship_request: ship,
        obscenity_filter: false,
        allow_audio: false,
        x_res: 1024,
        y_res: 768,
        continuum: false,
        optional_graphics: false,
        reentry: false,
        previous_ship: 8,
        previous_freq: 0,
        authenticated: true,
        score: None,
        banner: None,
        chat_mask: None,
        spawn: None,
    }
}

#[test]
fn a_kill_is_announced_with_the_bounty_as_points_and_scores_follow() {
    let mut h = Harness::new(&[]);
    assert_eq!(h.enter(1, "alice", ship::WARBIRD), (0, 0));
    assert_eq!(h.enter(2, "bob", ship::JAVELIN), (1, 1), "the emptier freq");
    h.clear();
    h.packet(
        2,
        C2SPacket::Death {
            killer: 1,
            bounty: 37,
        },
    );
    for pid in [1, 2] {
        let kill = h
            .received(pid)
            .into_iter()
            .find_map(|p| match p {
                S2CPacket::Kill(k) => Some(k),
                _ => None,
            })
            .expect("kill announced");
        assert_eq!((kill.killer, kill.killed, kill.points), (1, 2, 37));
    }
    let updates: Vec<_> = h
        .received(2)
        .into_iter()
        .filter_map(|p| match p {
            S2CPacket::ScoreUpdate(u) => Some(u),
            _ => None,
        })
        .collect();
    let a = updates.iter().find(|u| u.pid == 1).expect("alice's score");
    assert_eq!((a.kill_points, a.kills, a.deaths), (37, 1, 0));
    let b = updates.iter().find(|u| u.pid == 2).expect("bob's score");
    assert_eq!((b.kills, b.deaths), (0, 1));
    assert!(h
        .others()
        .iter()
        .any(|o| o.contains("ScoreChanged") && o.contains("kill_points: 37")));

    // Scores survive leaving and coming back.
    h.send(ToRealm::PlayerLeave { pid: 1 });
    h.clear();
    h.enter(3, "Alice", ship::SPECTATOR);
    let rec = h
        .received(2)
        .into_iter()
        .find_map(|p| match p {
            S2CPacket::PlayerEntering(l) => l.into_iter().find(|r| r.pid == 3),
            _ => None,
        })
        .unwrap();
    assert_eq!((rec.kill_points, rec.kills), (37, 1));
}

#[test]
fn kill_settings_and_team_kills() {
    let mut h = Harness::new(&["Kill:FixedKillReward=25"]);
    h.enter(1, "alice", 0);
    h.enter(2, "bob", 0);
    h.enter(3, "carol", 0); // freq 0 with alice
    h.clear();
    h.packet(
        2,
        C2SPacket::Death {
            killer: 1,
            bounty: 500,
        },
    );
    let pts: Vec<i16> = h
        .received(1)
        .into_iter()
        .filter_map(|p| match p {
            S2CPacket::Kill(k) => Some(k.points),
            _ => None,
        })
        .collect();
    assert_eq!(pts, vec![25]);
    h.clear();
    h.packet(
        3,
        C2SPacket::Death {
            killer: 1,
            bounty: 500,
        },
    );
    let k = h
        .received(1)
        .into_iter()
        .find_map(|p| match p {
            S2CPacket::Kill(k) => Some(k),
            _ => None,
        })
        .unwrap();
    assert_eq!(k.points, 0, "team kills score nothing");
    // Bad deaths are ignored: unknown killer, self, spectators.
    h.clear();
    h.packet(
        2,
        C2SPacket::Death {
            killer: 99,
            bounty: 5,
        },
    );
    h.packet(
        2,
        C2SPacket::Death {
            killer: 2,
            bounty: 5,
        },
    );
    assert!(h.received(1).is_empty());
}

#[test]
fn full_freqs_are_refused_with_a_message_and_no_change() {
    let mut h = Harness::new(&["Team:MaxPerTeam=2"]);
    assert_eq!(h.enter(1, "a", 0).1, 0);
    assert_eq!(h.enter(2, "b", 0).1, 1);
    assert_eq!(h.enter(3, "c", 0).1, 0);
    h.clear();
    h.packet(2, C2SPacket::SetFreq { freq: 0 });
    assert_eq!(h.messages(2), vec!["Frequency 0 is full.".to_string()]);
    assert!(!h.received(1).iter().any(|p| matches!(
        p,
        S2CPacket::ShipChange { .. } | S2CPacket::FreqChange { .. }
    )));
    assert_eq!(h.arena.players[&2].freq, 1);
    // A granted change goes to everyone as 0x1D.
    h.clear();
    h.packet(2, C2SPacket::SetFreq { freq: 4 });
    assert!(h.received(1).contains(&S2CPacket::ShipChange {
        ship: 0,
        pid: 2,
        freq: 4
    }));
}

#[test]
fn commands_check_capabilities_and_say_so() {
    let mut h = Harness::new(&[]);
    h.enter(1, "pleb", 8);
    h.enter(2, "moddy", 8);
    h.enter(3, "sysy", 8);
    h.clear();
    h.chat(1, chat_type::PRIVATE, 2, "?kick go away");
    assert_eq!(
        h.messages(1),
        vec!["You don't have permission to use ?kick.".to_string()]
    );
    assert!(h.others().is_empty(), "nobody is kicked");
    // A moderator cannot kick a sysop, who is told.
    h.clear();
    h.chat(2, chat_type::PRIVATE, 3, "?kick");
    assert_eq!(
        h.messages(2),
        vec!["You don't have permission to use ?kick on that player.".to_string()]
    );
    assert_eq!(
        h.messages(3),
        vec!["moddy tried to use ?kick on you.".to_string()]
    );
    // ... but can kick a player, with a reason.
    h.clear();
    h.chat(2, chat_type::PRIVATE, 1, "?kick spamming");
    let calls = h.others();
    assert!(
        calls
            .iter()
            .any(|c| c.contains("KickWithMessage")
                && c.contains("You have been kicked for: spamming")),
        "{calls:?}"
    );
    assert_eq!(h.messages(2), vec!["Kicked 'pleb'.".to_string()]);
    // Unknown commands are named; public ones may be the biller's.
    h.clear();
    h.chat(1, chat_type::PRIVATE, 2, "?frobnicate");
    assert_eq!(
        h.messages(1),
        vec!["Unknown command: ?frobnicate".to_string()]
    );
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?frobnicate");
    assert!(
        h.others().iter().any(|o| o.contains("BillerCommand")),
        "{:?}",
        h.out
    );
}

#[test]
fn bad_arguments_give_the_usage_line() {
    let mut h = Harness::new(&[]);
    h.enter(1, "moddy", 0);
    h.enter(2, "pleb", 0);
    let cases = [
        ("?warpto abc", "Usage: ?warpto <x> <y>"),
        ("?warpto 5", "Usage: ?warpto <x> <y>"),
        ("?setship 12", "Usage: ?setship [-f] <1-9>"),
        ("?setfreq -f", "Usage: ?setfreq [-f] <freq>"),
        (
            "?prize bananas",
            "Usage: ?prize [count] [-]<prize> ... | #<number>",
        ),
    ];
    for (line, usage) in cases {
        h.clear();
        h.chat(1, chat_type::PRIVATE, 2, line);
        assert_eq!(h.messages(1), vec![usage.to_string()], "{line}");
    }
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?find");
    assert_eq!(
        h.messages(1),
        vec!["Usage: ?find <name or part of one>".to_string()]
    );
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?info");
    assert_eq!(
        h.messages(1),
        vec!["You don't have permission to use ?info.".to_string()]
    );
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?help warpto");
    let help = h.messages(1);
    assert!(help[0].starts_with("?warpto  Targets:"), "{help:?}");
    assert_eq!(help.len(), 2);
}

#[test]
fn staff_powers_reach_their_targets() {
    let mut h = Harness::new(&[]);
    h.enter(1, "moddy", 0);
    h.enter(2, "p2", 0); // freq 1
    h.enter(3, "p3", 0); // freq 0
    h.clear();
    // ?prize to a freq (a team message): both on freq 0.
    h.chat(1, chat_type::TEAM, -1, "?prize 3 reps -prox");
    for pid in [1, 3] {
        let got = h.received(pid);
        assert!(
            got.contains(&S2CPacket::PrizeReceived {
                count: 3,
                prize: 21
            }),
            "{pid}"
        );
        assert!(
            got.contains(&S2CPacket::PrizeReceived {
                count: 1,
                prize: -16
            }),
            "{pid}"
        );
    }
    assert!(h.received(2).is_empty());
    h.clear();
    h.chat(1, chat_type::PRIVATE, 2, "?warpto 512 600");
    assert_eq!(h.received(2), vec![S2CPacket::WarpTo { x: 512, y: 600 }]);
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?shipreset");
    assert!(h.received(2).contains(&S2CPacket::ShipReset));
    h.clear();
    h.chat(1, chat_type::PRIVATE, 2, "?setship 3");
    assert!(h.received(3).contains(&S2CPacket::ShipChange {
        ship: 2,
        pid: 2,
        freq: 1
    }));
    // Locked: his own change is refused with a message.
    h.chat(1, chat_type::PRIVATE, 2, "?lock -n");
    h.clear();
    h.packet(2, C2SPacket::SetShip { ship: 5 });
    assert_eq!(
        h.messages(2),
        vec!["You have been locked in your ship.".to_string()]
    );
    assert_eq!(h.arena.players[&2].ship, 2);
    // Scores.
    h.clear();
    h.chat(1, chat_type::PRIVATE, 2, "?setscore 100 20 3 4");
    let u = h.received(3).into_iter().find_map(|p| match p {
        S2CPacket::ScoreUpdate(u) => Some(u),
        _ => None,
    });
    assert!(u.is_none(), "setscore needs the sysop capability");
    // Public ?scorereset is refused by the default arena.
    h.clear();
    h.chat(3, chat_type::PUBLIC, -1, "?scorereset");
    assert_eq!(
        h.messages(3),
        vec!["This arena doesn't allow you to reset your own scores.".to_string()]
    );
}

#[test]
fn chat_masks_and_staff_chat() {
    let mut h = Harness::new(&[]);
    h.enter(1, "moddy", 8);
    h.enter(2, "pleb", 8);
    h.enter(3, "other", 8);
    h.chat(1, chat_type::PRIVATE, 2, "?setcm -pub");
    h.clear();
    h.chat(2, chat_type::PUBLIC, -1, "can anyone hear me");
    assert!(h.received(3).is_empty(), "masked");
    h.chat(2, chat_type::PRIVATE, 3, "psst");
    assert_eq!(h.received(3).len(), 1, "private chat still allowed");
    // Staff chat goes zone-wide; players without the right are told.
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "\\hello staff");
    assert!(h
        .others()
        .iter()
        .any(|o| o.contains("StaffChat") && o.contains("moddy> hello staff")));
    h.clear();
    h.chat(2, chat_type::PUBLIC, -1, "\\let me in");
    assert!(h.messages(2)[0].starts_with("You aren't allowed to use the staff chat."));
    h.clear();
    h.send(ToRealm::StaffChat {
        from: 50,
        text: "x> y".into(),
    });
    assert_eq!(h.messages(1), vec!["x> y".to_string()]);
    assert!(h.received(2).is_empty());
}

#[test]
fn flooding_is_throttled_and_others_are_unaffected() {
    let mut h = Harness::new(&[]);
    h.enter(1, "flooder", 8);
    h.enter(2, "listener", 8);
    h.enter(3, "talker", 8);
    h.clear();
    for i in 0..50 {
        h.chat(1, chat_type::PUBLIC, -1, &format!("spam {i}"));
    }
    let relayed = h
        .received(2)
        .iter()
        .filter(|p| matches!(p, S2CPacket::Chat(c) if c.pid == 1))
        .count();
    assert_eq!(relayed, 10, "FloodLimit = 10 messages, then silence");
    assert_eq!(
        h.messages(1)[0],
        "You have been shut up for 60 seconds for flooding."
    );
    h.clear();
    h.chat(3, chat_type::PUBLIC, -1, "still here");
    assert_eq!(h.received(2).len(), 1);
}

#[test]
fn obscene_words_are_hidden_from_players_with_the_filter() {
    let mut h = Harness::new(&["Chat:Obscene=darn"]);
    h.enter(1, "speaker", 8);
    h.enter(2, "clean", 8);
    h.enter(3, "raw", 8);
    h.arena.players.get_mut(&2).unwrap().obscenity_filter = true;
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "oh darn");
    let text = |pid| match &h.received(pid)[0] {
        S2CPacket::Chat(c) => c.text.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(text(3), "oh darn");
    assert!(text(2).starts_with("oh ") && !text(2).contains("darn"));
}

#[test]
fn greens_turrets_and_spectators() {
    let mut h = Harness::new(&["Prize:DontShareThor=1"]);
    h.enter(1, "a", 0);
    h.enter(2, "b", 0);
    h.enter(3, "c", 0); // freq 0 with a
    h.enter(4, "watcher", 8);
    h.clear();
    let green = |prize| Green {
        time: 1,
        x: 10,
        y: 20,
        prize,
    };
    h.packet(1, C2SPacket::Green(green(5)));
    assert_eq!(
        h.received(2),
        vec![S2CPacket::Green {
            green: green(5),
            pid: 1
        }]
    );
    assert!(h.received(1).is_empty());
    h.clear();
    h.packet(1, C2SPacket::Green(green(24)));
    assert!(h.received(2).is_empty(), "thor is personal");
    // Attach to a teammate only.
    h.clear();
    h.packet(3, C2SPacket::Attach { pid: 2 });
    assert!(h.received(1).is_empty(), "b is on another freq");
    h.packet(3, C2SPacket::Attach { pid: 1 });
    assert_eq!(
        h.received(2),
        vec![S2CPacket::Turret {
            pid: 3,
            attached_to: 1
        }]
    );
    // Spectating asks the watched player for extra data.
    h.clear();
    h.packet(4, C2SPacket::SpectateRequest { pid: 1 });
    assert_eq!(h.received(1), vec![S2CPacket::SpectateData { extra: true }]);
    h.chat(1, chat_type::PUBLIC, -1, "?spec");
    assert_eq!(h.messages(1), vec!["1 spectator: watcher".to_string()]);
    h.clear();
    h.packet(4, C2SPacket::SpectateRequest { pid: -1 });
    assert_eq!(
        h.received(1),
        vec![S2CPacket::SpectateData { extra: false }]
    );
}

#[test]
fn remote_commands_use_rprivcmd_and_reply_through_the_zone() {
    let mut h = Harness::new(&[]);
    h.enter(1, "target", 0);
    h.clear();
    h.send(ToRealm::RemoteCommand {
        from: 40,
        from_name: "moddy".into(),
        from_authenticated: true,
        target: 1,
        line: "send duel".into(),
        star: false,
    });
    let o = h.others();
    assert!(
        o.iter()
            .any(|c| c.contains("MessageTo") && c.contains("permission")),
        "{o:?}"
    );
    h.clear();
    h.send(ToRealm::RemoteCommand {
        from: 41,
        from_name: "sysy".into(),
        from_authenticated: true,
        target: 1,
        line: "send duel".into(),
        star: false,
    });
    let o = h.others();
    assert!(
        o.iter()
            .any(|c| c.contains("MovePlayer") && c.contains("duel")),
        "{o:?}"
    );
}

#[test]
fn garbage_from_players_never_panics() {
    let mut h = Harness::new(&[]);
    h.enter(1, "a", 0);
    h.enter(2, "b", 8);
    let mut x: u64 = 0x1234_5678_9abc_def1;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 40) as usize;
        let mut bytes: Vec<u8> = (0..len)
            .map(|i| (x >> (i % 8 * 8)) as u8 ^ i as u8)
            .collect();
        if let Some(b) = bytes.first_mut() {
            *b %= 0x25;
        }
        h.send(ToRealm::PlayerPacket {
            pid: (x % 3) as i16,
            bytes: &bytes,
        });
        h.out.clear();
    }
    // Odd command lines too.
    for line in [
        "?",
        "?|",
        "?||||",
        "?\\",
        "*",
        "?=",
        "?#",
        "?setcm -t",
        "?kick -m",
        "?prize #",
        "?warpto 1,",
        "?setscore 1 2 3 4 5",
        "?lock -t x",
        ":",
        "::",
        ":a:",
        ":b:?",
    ] {
        h.chat(1, chat_type::PUBLIC, -1, line);
        h.chat(1, chat_type::REMOTE_PRIVATE, -1, line);
        h.chat(1, chat_type::PRIVATE, 2, line);
    }
}

// ----- flag game modules -------------------------------------------------------

#[test]
fn bad_flag_settings_and_unknown_modules_are_counted_never_fatal() {
    let mut h = Harness::new(&[
        "Modules:AttachModules=points_kill fg_turf fm_custom fg_wz",
        "Flag:FlagCount=7 - 5",
    ]);
    // `fm_custom` is unknown; fg_turf on a map without flag tiles has no flags.
    assert_eq!(h.arena.counters.unknown_modules, 1);
    assert!(h.arena.counters.bad_config >= 2, "{:?}", h.arena.counters);
    assert_eq!(h.arena.flags.as_ref().map(|f| f.flags.len()), Some(0));
    h.enter(1, "alice", ship::WARBIRD);
    h.out.clear();
    for fid in [0, 1, -1, i16::MAX] {
        h.packet(1, C2SPacket::TouchFlag { fid });
    }
    h.packet(1, C2SPacket::DropFlags);
    h.arena.on_timer();
    h.drain();
    assert_eq!(h.arena.counters.flag_touches_refused, 5);
    assert!(
        !h.out
            .iter()
            .any(|o| matches!(o, Out::Packet(_, S2CPacket::FlagPickup { .. }))),
        "{:?}",
        h.out
    );
}

#[test]
fn a_flood_of_pickups_is_refused_and_counted() {
    let mut h = Harness::new(&[
        "Flag:FlagCount=1",
        "Flag:SpawnX=512",
        "Flag:SpawnY=480",
        "Flag:SpawnRadius=0",
        "Flag:FlagBlankDelay=0",
        "Flag:EnterGameFlaggingDelay=0",
    ]);
    h.arena.on_timer();
    h.enter(1, "alice", ship::WARBIRD);
    h.enter(2, "bob", ship::WARBIRD);
    let flags = h
        .arena
        .flags
        .as_ref()
        .expect("fg_wz is attached by default");
    assert_eq!(flags.current, 1);
    h.out.clear();
    // Bob is far away: none of his thousand touches counts.
    for _ in 0..1000 {
        h.packet(2, C2SPacket::TouchFlag { fid: 0 });
    }
    assert_eq!(h.arena.counters.flag_touches_refused, 1000);
    assert!(!h
        .out
        .iter()
        .any(|o| matches!(o, Out::Packet(_, S2CPacket::FlagPickup { .. }))));
    assert_eq!(h.arena.flags.as_ref().unwrap().carried(2), 0);
}

#[test]
fn staff_move_neut_and_reset_flags_and_set_the_jackpot() {
    let mut h = Harness::new(&["Flag:FlagCount=1", "Flag:SpawnRadius=0"]);
    h.arena.on_timer();
    h.enter(1, "smoddy", ship::SPECTATOR);
    h.enter(2, "moddy", ship::SPECTATOR);
    h.enter(3, "pleb", ship::SPECTATOR);
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?moveflag 0 3 600 610");
    assert!(h.received(3).contains(&S2CPacket::FlagLocation {
        fid: 0,
        x: 600,
        y: 610,
        freq: 3
    }));
    assert_eq!(h.arena.flags.as_ref().unwrap().freq_flags(3), 1);
    h.clear();
    h.chat(2, chat_type::PUBLIC, -1, "?neutflag 0");
    assert!(h.received(3).contains(&S2CPacket::FlagLocation {
        fid: 0,
        x: 600,
        y: 610,
        freq: -1
    }));
    // Bad flag ids are answered, not obeyed.
    h.clear();
    h.chat(2, chat_type::PUBLIC, -1, "?neutflag 9");
    h.chat(2, chat_type::PUBLIC, -1, "?neutflag 99999");
    assert!(!h
        .received(3)
        .iter()
        .any(|p| matches!(p, S2CPacket::FlagLocation { .. })));
    // Moderators may not move flags; players may not set the jackpot.
    h.clear();
    h.chat(2, chat_type::PUBLIC, -1, "?moveflag 0 1");
    h.chat(3, chat_type::PUBLIC, -1, "?setjackpot 5");
    assert!(!h
        .received(3)
        .iter()
        .any(|p| matches!(p, S2CPacket::FlagLocation { .. })));
    assert_eq!(h.arena.jackpot, Some(0));
    h.chat(2, chat_type::PUBLIC, -1, "?setjackpot 55");
    h.clear();
    h.chat(3, chat_type::PUBLIC, -1, "?jackpot");
    assert_eq!(h.messages(3), vec!["The jackpot is 55 points.".to_string()]);
    h.clear();
    h.chat(2, chat_type::PUBLIC, -1, "?flagreset");
    assert!(h.received(3).contains(&S2CPacket::FlagVictory {
        freq: -1,
        points: 0
    }));
    assert_eq!(h.arena.flags.as_ref().unwrap().current, 0);
    // The reset is checkpointed for the zone.
    assert!(h.others().iter().any(|o| o.starts_with("ArenaCheckpoint")));
}

#[test]
fn the_flag_game_and_jackpot_come_back_from_a_checkpoint() {
    let settings = ["Flag:FlagCount=3", "Flag:SpawnRadius=5"];
    let mut h = Harness::new(&settings);
    h.arena.on_timer();
    h.arena.jackpot = Some(321);
    h.enter(1, "alice", ship::WARBIRD);
    // Alice carries flag 1 (put in her hands as a touch would).
    if let Some(core) = h.arena.flags.as_mut() {
        core.flags[1].state = crate::modules::flagcore::FlagState::Carried { pid: 1 };
        core.flags[1].freq = 0;
    }
    let mut bytes = Vec::new();
    crate::modules::write_checkpoint(&h.arena, &h.arena.modules, &mut bytes);
    let before = h.arena.flags.clone().unwrap();

    let mut again = Harness::new(&settings);
    again.send(ToRealm::ArenaCheckpoint { bytes: &bytes });
    assert_eq!(again.arena.jackpot, Some(321));
    let after = again.arena.flags.as_ref().unwrap();
    assert_eq!(after.current, 3);
    assert_eq!(
        after
            .flags
            .iter()
            .map(|f| (f.state, f.freq))
            .collect::<Vec<_>>(),
        before
            .flags
            .iter()
            .map(|f| (f.state, f.freq))
            .collect::<Vec<_>>()
    );
    // Alice comes back: her record says she carries the flag.
    again.enter(1, "alice", ship::WARBIRD);
    let own = again.received(1).into_iter().find_map(|p| match p {
        S2CPacket::PlayerEntering(list) => list.into_iter().find(|r| r.pid == 1),
        _ => None,
    });
    assert_eq!(own.map(|r| r.flags_carried), Some(1));
    // Garbage is ignored.
    let mut third = Harness::new(&settings);
    third.send(ToRealm::ArenaCheckpoint {
        bytes: &[3, b'f', b'g', b'_', 9, 0, 1, 2],
    });
    third.send(ToRealm::ArenaCheckpoint {
        bytes: &[6, b'f', b'g', b'_', b'w', b'z', 4, 0, 9, 9, 9, 9],
    });
    assert_eq!(third.arena.jackpot, Some(0));
}

/// Regression (fault campaign: an arena held at most ~493 players): the
/// player list a newcomer gets is batched, seven 64-byte records to a
/// packet, instead of one packet per player.
#[test]
fn the_player_list_on_entry_is_batched() {
    let mut h = Harness::new(&[]);
    for pid in 1..=20 {
        h.enter(pid, &format!("p{pid}"), ship::SPECTATOR);
    }
    h.clear();
    h.enter(21, "newcomer", ship::SPECTATOR);
    let lists: Vec<Vec<i16>> = h
        .out
        .iter()
        .filter_map(|o| match o {
            Out::Packet(To::Player(21), S2CPacket::PlayerEntering(l)) => {
                Some(l.iter().map(|r| r.pid).collect())
            }
            _ => None,
        })
        .collect();
    // 20 others in packets of 7, 7 and 6, then his own record.
    let sizes: Vec<usize> = lists.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![7, 7, 6, 1], "{lists:?}");
    let mut seen: Vec<i16> = lists[..3].iter().flatten().copied().collect();
    seen.sort_unstable();
    assert_eq!(seen, (1..=20).collect::<Vec<i16>>());
    assert_eq!(lists[3], vec![21]);
}

/// Sends `pid` a position (any, newer than entry).
fn position(h: &mut Harness, pid: i16) {
    let pos = ss_proto::game::Position {
        time: ipc_proto::monotonic_ticks(),
        x: 8000,
        y: 8000,
        ..Default::default()
    };
    h.send_position(pid, &pos);
}

/// The correct answer to the request with `key`.
fn security_answer(h: &Harness, key: u32) -> ss_proto::game::SecurityResponse {
    ss_proto::game::SecurityResponse {
        settings_checksum: h.arena.assets.settings.checksum(key),
        map_checksum: h
            .arena
            .assets
            .decoded_map()
            .expect("the default map decodes")
            .security_checksum(key),
        exe_checksum: 0x1234_5678,
        ..Default::default()
    }
}

fn seeds_of(pkts: &[S2CPacket]) -> Vec<ss_proto::game::SecuritySeeds> {
    pkts.iter()
        .filter_map(|p| match p {
            S2CPacket::Security(s) => Some(*s),
            _ => None,
        })
        .collect()
}

#[test]
fn seeds_on_entry_are_the_arenas_without_a_key() {
    let mut h = Harness::new(&[]);
    h.enter(1, "alice", ship::SPECTATOR);
    h.enter(2, "bob", ship::SPECTATOR);
    let (a, b) = (seeds_of(&h.received(1)), seeds_of(&h.received(2)));
    assert_eq!(a.len(), 1);
    assert_eq!(a, b, "everyone gets the same seeds");
    assert_eq!(a[0].checksum_key, 0, "no checksum request on entry");
    assert_eq!(a[0].green_seed, h.arena.security.seeds.green_seed);
}

#[test]
fn a_request_goes_to_players_who_sent_a_position_and_a_right_answer_passes() {
    let mut h = Harness::new(&[]);
    h.enter(1, "alice", ship::WARBIRD);
    h.enter(2, "bob", ship::SPECTATOR);
    position(&mut h, 1);
    h.clear();
    h.arena.new_security_round(std::time::Instant::now());
    h.drain();
    let sent = seeds_of(&h.received(1));
    assert_eq!(sent.len(), 1);
    assert!(
        seeds_of(&h.received(2)).is_empty(),
        "bob has sent no position"
    );
    let key = sent[0].checksum_key;
    let answer = security_answer(&h, key);
    h.packet(1, C2SPacket::SecurityResponse(answer));
    let s = &h.arena.players[&1].security;
    assert_eq!((s.violations, s.responses), (0, 1));
    assert_eq!(
        s.last_exe,
        Some(0x1234_5678),
        "the exe checksum is recorded"
    );
}

#[test]
fn wrong_checksums_and_unasked_answers_are_violations_and_kick_with_kickoff() {
    let mut h = Harness::new(&["Security:SecurityKickoff=1"]);
    h.enter(1, "alice", ship::WARBIRD);
    position(&mut h, 1);
    h.arena.new_security_round(std::time::Instant::now());
    let key = h.arena.security.seeds.checksum_key;
    let mut answer = security_answer(&h, key);
    answer.map_checksum ^= 1;
    h.clear();
    h.packet(1, C2SPacket::SecurityResponse(answer.clone()));
    let s = &h.arena.players[&1].security;
    assert_eq!(s.violations, 1);
    assert_eq!(s.last_violation, Some(crate::security::Violation::Map));
    let kicks: Vec<String> = h
        .others()
        .into_iter()
        .filter(|o| o.contains("KickWithMessage"))
        .collect();
    assert_eq!(kicks.len(), 1, "{kicks:?}");
    assert!(kicks[0].contains("map checksum mismatch"));
    // The same answer again: nobody asked; counted, not kicked twice.
    h.clear();
    h.packet(1, C2SPacket::SecurityResponse(answer));
    let s = &h.arena.players[&1].security;
    assert_eq!(s.violations, 2);
    assert_eq!(
        s.last_violation,
        Some(crate::security::Violation::Unsolicited)
    );
    assert!(!h.others().iter().any(|o| o.contains("KickWithMessage")));
}

#[test]
fn flooded_and_short_answers_are_counted_without_a_kick_by_default() {
    let mut h = Harness::new(&[]);
    h.enter(1, "alice", ship::WARBIRD);
    for _ in 0..10_000 {
        h.send(ToRealm::PlayerPacket {
            pid: 1,
            bytes: &[0x1A, 1, 2, 3],
        });
    }
    let answer = security_answer(&h, 5);
    for _ in 0..1000 {
        h.packet(1, C2SPacket::SecurityResponse(answer.clone()));
    }
    let s = &h.arena.players[&1].security;
    assert_eq!(s.violations, 11_000);
    assert!(!h.others().iter().any(|o| o.contains("KickWithMessage")));
}

#[test]
fn a_missing_answer_is_a_violation_after_the_timeout() {
    let mut h = Harness::new(&[]);
    h.enter(1, "alice", ship::WARBIRD);
    position(&mut h, 1);
    let t0 = std::time::Instant::now();
    h.arena.new_security_round(t0);
    h.arena
        .security_tick(t0 + crate::security::RESPONSE_TIMEOUT / 2);
    assert_eq!(h.arena.players[&1].security.violations, 0);
    h.arena
        .security_tick(t0 + crate::security::RESPONSE_TIMEOUT);
    let s = &h.arena.players[&1].security;
    assert_eq!(s.violations, 1);
    assert_eq!(
        s.last_violation,
        Some(crate::security::Violation::NoResponse)
    );
    assert!(s.awaiting.is_none());
}

#[test]
fn info_shows_the_security_violations() {
    let mut h = Harness::new(&[]);
    h.enter(1, "sysy", ship::SPECTATOR);
    h.enter(2, "bob", ship::WARBIRD);
    h.send(ToRealm::PlayerPacket {
        pid: 2,
        bytes: &[0x1A],
    });
    h.clear();
    h.chat(1, chat_type::PRIVATE, 2, "*info");
    let lines = h.messages(1);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("security: violations=1") && l.contains("bad length")),
        "{lines:?}"
    );
}

#[test]
fn a_lagging_player_may_not_pick_up_flags() {
    let mut h = Harness::new(&[
        "Flag:FlagCount=1",
        "Flag:SpawnX=512",
        "Flag:SpawnY=480",
        "Flag:SpawnRadius=0",
        "Flag:FlagBlankDelay=0",
        "Flag:EnterGameFlaggingDelay=0",
    ]);
    h.arena.on_timer();
    h.enter(1, "alice", ship::WARBIRD);
    position(&mut h, 1);
    // 8 % loss to the client: over S2CLossToDisallowFlags (5 %), under the
    // limit that moves him to spectator (15 %).
    let report = |s2c_loss| ToRealm::LagReport {
        pid: 1,
        ping_ms: 50,
        s2c_loss,
        c2s_loss: 0,
        silent_ms: 0,
    };
    h.send(report(80));
    h.out.clear();
    h.packet(1, C2SPacket::TouchFlag { fid: 0 });
    assert_eq!(h.arena.counters.flag_touches_refused, 1);
    assert_eq!(h.arena.flags.as_ref().unwrap().carried(1), 0);
    // Once the connection is fine again, the same touch takes the flag.
    h.send(report(0));
    h.packet(1, C2SPacket::TouchFlag { fid: 0 });
    assert_eq!(h.arena.flags.as_ref().unwrap().carried(1), 1, "{:?}", h.out);
}

fn toggles(pkts: &[S2CPacket]) -> Vec<ObjectToggle> {
    pkts.iter()
        .filter_map(|p| match p {
            S2CPacket::ToggleObjects(l) => Some(l.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

fn object_changes(pkts: &[S2CPacket]) -> Vec<ObjectChange> {
    pkts.iter()
        .filter_map(|p| match p {
            S2CPacket::MoveObjects(l) => Some(l.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn lvz_object_commands_reach_their_targets_and_late_joiners_get_the_arena_state() {
    let mut h = Harness::new(&[]);
    h.enter(1, "sysy", 0);
    h.enter(2, "p2", 0);
    h.clear();
    // A moderator lacks the objects capabilities.
    h.enter(4, "moddy", 0);
    h.clear();
    h.chat(4, chat_type::PUBLIC, -1, "?objon 5");
    assert!(toggles(&h.received(2)).is_empty());
    h.clear();

    // Public: the whole arena, kept.
    h.chat(1, chat_type::PUBLIC, -1, "?objon 5");
    h.chat(1, chat_type::PUBLIC, -1, "?objset -7 +8");
    h.chat(1, chat_type::PUBLIC, -1, "?objmove 9 100 -20");
    h.chat(1, chat_type::PUBLIC, -1, "?objmode 9 serverControlled");
    let on5 = ObjectToggle { id: 5, on: true };
    assert_eq!(
        toggles(&h.received(2)),
        vec![
            on5,
            ObjectToggle { id: 7, on: false },
            ObjectToggle { id: 8, on: true }
        ]
    );
    let ch = object_changes(&h.received(2));
    assert_eq!(ch.len(), 2);
    assert_eq!(ch[0].changes, objchange::XY);
    assert!(ch[0].data.map_obj && ch[0].data.x == 100 && ch[0].data.y == -20);
    assert_eq!(ch[1].changes, objchange::MODE);
    assert_eq!((ch[1].data.mode, ch[1].data.x), (5, 100));
    h.clear();

    // Private: only that player, not kept.
    h.chat(1, chat_type::PRIVATE, 2, "?objoff 5");
    assert_eq!(
        toggles(&h.received(2)),
        vec![ObjectToggle { id: 5, on: false }]
    );
    assert!(toggles(&h.received(1)).is_empty());
    h.clear();

    // To a team: that freq only, not kept.
    let f1 = h.arena.players[&1].freq;
    let f2 = h.arena.players[&2].freq;
    h.chat(1, chat_type::TEAM, -1, "?objimage 20 7");
    let images = object_changes(&h.received(1));
    assert_eq!(images.len(), 1);
    assert_eq!((images[0].data.id, images[0].data.image), (20, 7));
    assert_ne!(f1, f2, "the freq manager puts them on two freqs");
    assert!(object_changes(&h.received(2)).is_empty());
    assert!(h.arena.objects.ids().iter().all(|&id| id != 20));
    h.clear();

    // Bad input: a message, nothing sent, no panic.
    for bad in [
        "?objon 32768",
        "?objon x",
        "?objon",
        "?objset 5",
        "?objimage 5 256",
        "?objtimer 5 4096",
        "?objlayer 5 Nowhere",
        "?objmode 5 9",
        "?objmove 5 C3000 4",
        "?objmove 5 1",
        "?objset +99999",
    ] {
        h.chat(1, chat_type::PUBLIC, -1, bad);
        assert!(toggles(&h.received(2)).is_empty(), "{bad}");
        assert!(object_changes(&h.received(2)).is_empty(), "{bad}");
        assert!(!h.messages(1).is_empty(), "{bad}: no reply");
        h.clear();
    }

    // A late joiner gets the arena's state after his entry.
    h.enter(3, "late", 0);
    let got = h.received(3);
    let entered = got
        .iter()
        .position(|p| *p == S2CPacket::EnteredArena)
        .unwrap();
    let first_obj = got
        .iter()
        .position(|p| matches!(p, S2CPacket::ToggleObjects(_)))
        .unwrap();
    assert!(first_obj > entered);
    assert_eq!(
        toggles(&got),
        vec![
            on5,
            ObjectToggle { id: 7, on: false },
            ObjectToggle { id: 8, on: true }
        ]
    );
    let ch = object_changes(&got);
    assert_eq!(ch.len(), 1);
    assert_eq!(ch[0].changes, objchange::XY | objchange::MODE);
    assert_eq!((ch[0].data.id, ch[0].data.x, ch[0].data.mode), (9, 100, 5));
    h.clear();

    h.chat(1, chat_type::PUBLIC, -1, "?objinfo 9");
    let info = h.messages(1).join("\n");
    assert!(
        info.contains("Mode:ServerControlled") && info.contains("map object at (100, -20)"),
        "{info}"
    );
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?objlist");
    assert_eq!(
        h.messages(1),
        vec!["4 objects toggled or changed: 5, 7, 8, 9".to_string()]
    );
}

#[test]
fn laghist_shows_the_targets_reliable_ping_histogram_from_lag_reports() {
    let mut h = Harness::new(&[]);
    h.enter(1, "p1", 0);
    h.enter(2, "p2", 0);
    h.clear();
    h.chat(1, chat_type::PRIVATE, 2, "?laghist -r");
    assert_eq!(
        h.messages(1),
        vec!["p2: no reliable ping samples yet.".to_string()]
    );
    h.clear();
    for ping_ms in [50, 55, 120, 700] {
        h.send(ToRealm::LagReport {
            pid: 2,
            ping_ms,
            s2c_loss: 0,
            c2s_loss: 0,
            silent_ms: 0,
        });
    }
    h.clear();
    h.chat(1, chat_type::PRIVATE, 2, "?laghist -r");
    let got = h.messages(1);
    assert_eq!(
        got[0],
        "p2: reliable ping histogram, 4 samples, 20 ms buckets:"
    );
    assert_eq!(got.len(), 1 + 24, "{got:?}"); // 40-59 ms to 500+ ms
    assert!(
        got[1].contains("40-59 ms") && got[1].ends_with(" 2"),
        "{got:?}"
    );
    assert!(
        got[5].contains("120-139 ms") && got[5].ends_with(" 1"),
        "{got:?}"
    );
    assert!(
        got[24].contains("500+ ms") && got[24].ends_with(" 1"),
        "{got:?}"
    );
    h.clear();
    // Without -r: his positions' histogram (none yet); bad flags: usage.
    h.chat(1, chat_type::PRIVATE, 2, "?laghist");
    assert_eq!(
        h.messages(1),
        vec!["p2: no c2s ping (position age) samples yet.".to_string()]
    );
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?laghist -x");
    assert!(h.messages(1)[0].starts_with("Usage"), "{:?}", h.messages(1));
}

/// A planned hand-over (docs/upgrades.md §2): the old arena writes its
/// state and goes quiet; the successor takes it and adopts the players
/// without an entry sequence, keeping ships, freqs, scores, locks, chat
/// masks, the flag game and the jackpot.
#[test]
fn a_handed_over_arena_carries_on_in_its_successor() {
    let settings = ["Flag:FlagCount=3", "Flag:SpawnRadius=5"];
    let mut old = Harness::new(&settings);
    old.arena.on_timer();
    old.arena.jackpot = Some(77);
    old.enter(1, "alice", ship::WARBIRD);
    old.enter(2, "bob", ship::JAVELIN);
    old.packet(
        2,
        C2SPacket::Death {
            killer: 1,
            bounty: 37,
        },
    );
    let (a_ship, a_freq) = (old.arena.players[&1].ship, old.arena.players[&1].freq);
    let (b_ship, b_freq) = (old.arena.players[&2].ship, old.arena.players[&2].freq);
    old.arena.players.get_mut(&2).unwrap().lock = Some(crate::arena::ShipLock { expires: None });
    old.arena
        .players
        .get_mut(&2)
        .unwrap()
        .chat
        .set_mask(std::time::Instant::now(), 0x4, 0);
    if let Some(core) = old.arena.flags.as_mut() {
        core.flags[1].state = crate::modules::flagcore::FlagState::Carried { pid: 1 };
        core.flags[1].freq = a_freq;
    }
    old.arena.objects.toggle(5, true);
    old.clear();
    old.arena.handle(ToRealm::HandOver);
    let out = old.arena.take_output();
    let mut r = FrameReader::new();
    r.extend(&out);
    let mut state = None;
    while let Ok(Some(frame)) = r.next_frame() {
        if let Ok(FromRealm::HandOverState { bytes }) = ipc_proto::decode(frame) {
            state = Some(bytes.to_vec());
        }
    }
    let state = state.expect("a hand-over state");
    // The old arena now serves nobody.
    old.clear();
    old.chat(1, chat_type::PUBLIC, -1, "anyone?");
    assert!(old.received(2).is_empty(), "the old worker went quiet");
    old.send(ToRealm::Heartbeat { seq: 5 });
    assert!(old.others().iter().any(|o| o.contains("HeartbeatAck")));

    let mut new = Harness::new(&settings);
    new.send(ToRealm::TakeOver { bytes: &state });
    new.enter_adopted(1, "alice");
    new.enter_adopted(2, "bob");
    assert!(
        new.received(1).is_empty() && new.received(2).is_empty(),
        "no entry sequence for adopted players: {:?}",
        new.received(1)
    );
    let a = &new.arena.players[&1];
    let b = &new.arena.players[&2];
    assert_eq!((a.ship, a.freq), (a_ship, a_freq));
    assert_eq!((b.ship, b.freq), (b_ship, b_freq));
    assert!(b.lock.is_some(), "the lock stays");
    assert_eq!(new.arena.scores.get("alice").kill_points, 37);
    assert_eq!(new.arena.scores.get("bob").deaths, 1);
    assert_eq!(new.arena.jackpot, Some(77));
    assert_eq!(new.arena.objects.shown(5), Some(true), "LVZ object state");
    let carried = new.arena.flags.as_ref().unwrap().flags[1].state;
    assert_eq!(
        carried,
        crate::modules::flagcore::FlagState::Carried { pid: 1 }
    );
    // Bob's chat mask (0x4: public chat) still holds; alice's chat reaches bob.
    new.clear();
    new.chat(2, chat_type::PUBLIC, -1, "muted");
    assert!(!new
        .received(1)
        .iter()
        .any(|p| matches!(p, S2CPacket::Chat(c) if c.text == "muted")));
    new.chat(1, chat_type::PUBLIC, -1, "hello");
    assert!(new
        .received(2)
        .iter()
        .any(|p| matches!(p, S2CPacket::Chat(c) if c.text == "hello")));
    // A state of another format (or garbage) is ignored: players are
    // adopted from what the zone says.
    let mut third = Harness::new(&settings);
    third.send(ToRealm::TakeOver { bytes: &[9, 9, 9] });
    assert!(third.arena.adopting.is_empty());
}

/// A hand-over state with absurd times is taken without a panic (times are
/// capped).
#[test]
fn a_hand_over_state_with_absurd_times_does_not_panic() {
    use crate::handover::{HandOverState, PlayerCarry, HANDOVER_FORMAT};
    let state = HandOverState {
        format: HANDOVER_FORMAT,
        players: vec![PlayerCarry {
            pid: 1,
            ship: 200,
            lock: Some(Some(u64::MAX)),
            chat_mask: (u32::MAX, u64::MAX),
            spectating: 999,
            ..PlayerCarry::default()
        }],
        checkpoint: vec![255; 40],
        ..HandOverState::default()
    };
    let bytes = postcard::to_allocvec(&state).unwrap();
    let mut h = Harness::new(&[]);
    h.send(ToRealm::TakeOver { bytes: &bytes });
    h.enter_adopted(1, "alice");
    assert_eq!(h.arena.players[&1].ship, ship::SPECTATOR, "ship clamped");
    h.arena.on_timer();
}

/// The ball packets `pid` received.
fn balls_seen(h: &Harness, pid: i16) -> Vec<ss_proto::game::BallPacket> {
    h.received(pid)
        .into_iter()
        .filter_map(|p| match p {
            S2CPacket::Ball(b) => Some(b),
            _ => None,
        })
        .collect()
}

#[test]
fn a_ball_carrier_drops_the_ball_where_he_is_when_he_changes_ship_or_leaves() {
    let mut h = Harness::new(&[
        "Modules:AttachModules=points_kill balls points_goal bricks",
        "Soccer:BallCount=20",
        "Soccer:Mode=9",
        "Brick:BrickMode=7",
    ]);
    // Bad settings are counted and replaced, never fatal.
    assert!(h.arena.counters.bad_config >= 3, "{:?}", h.arena.counters);
    assert_eq!(h.arena.balls.as_ref().map(|b| b.balls.len()), Some(8));
    h.enter(1, "alice", ship::WARBIRD);
    h.enter(2, "bob", ship::WARBIRD);
    // A late joiner got all eight balls.
    assert_eq!(balls_seen(&h, 2).len(), 8);
    for (pid, x, y) in [(1, 4000, 4100), (2, 5000, 5100)] {
        let p = h.arena.players.get_mut(&pid).unwrap();
        (p.x, p.y) = (x, y);
    }
    let time = |h: &Harness| h.arena.balls.as_ref().unwrap().balls[3].time;
    let t = time(&h);
    h.packet(1, C2SPacket::PickupBall { ball: 3, time: t });
    assert_eq!(h.arena.balls.as_ref().unwrap().carried_by(1), Some(3));
    h.clear();
    h.packet(
        1,
        C2SPacket::SetShip {
            ship: ship::JAVELIN,
        },
    );
    let dropped = balls_seen(&h, 2);
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert_eq!(
        (
            dropped[0].ball,
            dropped[0].x,
            dropped[0].y,
            dropped[0].carrier
        ),
        (3, 4000, 4100, -1)
    );
    // Bob takes it (nobody's ball: no pass delay) and leaves.
    let t = time(&h);
    h.packet(2, C2SPacket::PickupBall { ball: 3, time: t });
    assert_eq!(h.arena.balls.as_ref().unwrap().carried_by(2), Some(3));
    h.clear();
    h.send(ToRealm::PlayerLeave { pid: 2 });
    let dropped = balls_seen(&h, 1);
    assert_eq!(
        (
            dropped[0].ball,
            dropped[0].x,
            dropped[0].y,
            dropped[0].carrier
        ),
        (3, 5000, 5100, -1)
    );
    assert_eq!(h.arena.balls.as_ref().unwrap().carried_by(2), None);
}

// ----- koth, game timer, buy (docs/protocol/game-protocol.md §14.7, §17, §24a) ----

/// The crown packets (S2C 0x2C) `pid` received.
fn crowns(h: &Harness, pid: i16) -> Vec<ss_proto::game::koth::CrownToggle> {
    h.received(pid)
        .into_iter()
        .filter_map(|p| match p {
            S2CPacket::Other { ptype: 0x2C, body } => {
                ss_proto::game::koth::CrownToggle::decode_body(&body).ok()
            }
            _ => None,
        })
        .collect()
}

#[test]
fn koth_crowns_are_earned_back_with_crown_kills() {
    let mut h = Harness::new(&[
        "Modules:AttachModules=koth",
        "King:MinPlaying=2",
        "King:DeathCount=0",
        "King:CrownRecoverKills=2",
        "King:ExpireTime=100000",
    ]);
    for (pid, name) in [(1, "alice"), (2, "bob"), (3, "carol")] {
        h.enter(pid, name, ship::WARBIRD);
    }
    h.clear();
    h.arena.on_timer();
    h.drain();
    for pid in [1, 2, 3] {
        assert!(crowns(&h, pid).iter().any(|c| c.on && c.pid == -1), "{pid}");
        assert!(h.arena.players[&pid].has_crown);
    }
    h.clear();
    // bob kills alice: her crown goes.
    h.packet(
        1,
        C2SPacket::Death {
            killer: 2,
            bounty: 0,
        },
    );
    assert!(crowns(&h, 3).iter().any(|c| !c.on && c.pid == 1));
    assert!(!h.arena.players[&1].has_crown);
    // alice kills bob (crowned): one of two crown kills.
    h.clear();
    h.packet(
        2,
        C2SPacket::Death {
            killer: 1,
            bounty: 0,
        },
    );
    assert!(h
        .messages(1)
        .iter()
        .any(|m| m == "1 kill left to earn back a crown."));
    // ... and carol: her crown is back.
    h.clear();
    h.packet(
        3,
        C2SPacket::Death {
            killer: 1,
            bounty: 0,
        },
    );
    assert!(h
        .messages(1)
        .iter()
        .any(|m| m == "You earned back a crown."));
    assert!(crowns(&h, 1).iter().any(|c| c.on && c.time == 100_000));
    assert!(h.arena.players[&1].has_crown);
    // Malformed crown-expired packets change nothing.
    h.clear();
    h.packet(
        1,
        C2SPacket::Other {
            ptype: 0x1E,
            body: vec![0; 40],
        },
    );
    assert!(h.arena.players[&1].has_crown);
    assert!(crowns(&h, 2).is_empty());
}

#[test]
fn game_timer_commands_start_pause_and_show_the_timer() {
    let mut h = Harness::new(&[]);
    h.enter(1, "moddy", ship::SPECTATOR);
    h.enter(2, "pleb", ship::SPECTATOR);
    h.clear();
    h.chat(2, chat_type::PUBLIC, -1, "?timer 5");
    assert!(
        h.messages(2)[0].contains("permission"),
        "{:?}",
        h.messages(2)
    );
    h.chat(2, chat_type::PUBLIC, -1, "?time");
    assert!(h.messages(2).iter().any(|m| m == "Time left: 0 seconds."));
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?timer 2:30");
    let m = h.messages(1);
    assert!(
        m.iter().any(|m| m.starts_with("Time left: 2 minutes and")),
        "{m:?}"
    );
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?pausetimer");
    assert!(h.messages(1)[0].starts_with("Timer paused at: 2 minutes and"));
    h.clear();
    h.chat(2, chat_type::PUBLIC, -1, "?time");
    assert!(h.messages(2)[0].starts_with("Timer paused at: 2 minutes"));
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?pausetimer");
    assert!(h.messages(1)[0].starts_with("Timer resumed at: 2 minutes"));
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?timer soon");
    assert!(h.messages(1)[0].starts_with("Usage: ?timer"));
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?timereset");
    assert!(h.messages(1)[0].contains("Misc:TimedGame"));
    let mut fixed = Harness::new(&["Misc:TimedGame=60000"]);
    fixed.enter(1, "moddy", ship::SPECTATOR);
    fixed.clear();
    fixed.chat(1, chat_type::PUBLIC, -1, "?timer 1");
    assert_eq!(
        fixed.messages(1),
        ["Timer is fixed to Misc:TimedGame setting."]
    );
    fixed.clear();
    fixed.chat(1, chat_type::PUBLIC, -1, "?time");
    assert!(fixed.messages(1)[0].starts_with("Time left: "));
}

#[test]
fn buy_refuses_spectators_outside_safe_zones_and_unknown_items() {
    let mut h = Harness::new(&["Modules:AttachModules=buy", "Cost:Thor=10"]);
    h.enter(1, "alice", ship::SPECTATOR);
    h.enter(2, "bob", ship::WARBIRD);
    h.arena.scores.set(
        "bob",
        crate::scores::Score {
            kill_points: 100,
            ..Default::default()
        },
    );
    h.clear();
    for (pid, line, answer) in [
        (1, "?buy thor", "Spectators cannot purchase items."),
        (
            2,
            "?buy thor",
            "You must be in a safe zone to purchase items.",
        ),
        (2, "?buy warp drive", "Invalid item specified for purchase."),
        (2, "?buy rep", "That item isn't available for purchase."),
    ] {
        h.clear();
        h.chat(pid, chat_type::PUBLIC, -1, line);
        assert_eq!(h.messages(pid), [answer], "{line}");
        assert!(!h
            .received(pid)
            .iter()
            .any(|p| matches!(p, S2CPacket::PrizeReceived { .. })));
    }
    h.clear();
    h.chat(2, chat_type::PUBLIC, -1, "?buy");
    assert_eq!(h.messages(2), ["buy: Thor          10"]);
    // The default arena has the module, with nothing for sale.
    let mut default = Harness::new(&[]);
    default.enter(1, "alice", ship::WARBIRD);
    default.clear();
    default.chat(1, chat_type::PUBLIC, -1, "?buy");
    assert_eq!(
        default.messages(1),
        ["There are no items available to purchase in this arena."]
    );
    // Without the module the command says so.
    let mut plain = Harness::new(&["Modules:AttachModules=points_kill"]);
    plain.enter(1, "alice", ship::WARBIRD);
    plain.clear();
    plain.chat(1, chat_type::PUBLIC, -1, "?buy thor");
    assert_eq!(plain.messages(1), ["?buy is not available in this arena."]);
}

/// Sends a position of `pid` at (x, y) pixels with `status`, stamped `n`
/// ticks after now (so each call is newer than the last).
fn position_at(h: &mut Harness, pid: i16, x: i16, y: i16, status: u8, n: u32) {
    let pos = ss_proto::game::Position {
        time: ipc_proto::monotonic_ticks().wrapping_add(n),
        x,
        y,
        status,
        ..Default::default()
    };
    h.send_position(pid, &pos);
}

/// Status bits of the last relayed position of `from` that `to` received.
fn relayed_status(h: &Harness, to: i16, from: i16) -> Option<u8> {
    h.received(to).into_iter().rev().find_map(|p| match p {
        S2CPacket::SmallPosition(s) if i16::from(s.pid) == from => Some(s.status),
        S2CPacket::LargePosition(l) if l.pid as i16 == from => Some(l.status),
        _ => None,
    })
}

#[test]
fn antiwarp_is_cleared_in_no_antiwarp_regions_and_safe_zones_and_blocks_ship_changes() {
    use ss_proto::game::status::{ANTIWARP, SAFEZONE};
    use ss_proto::map::{Map, Region, TileRun};
    let mut h = Harness::new(&[
        "Misc:RegionCheckInterval=0",
        "Misc:NoSafeAntiwarp=1",
        "Modules:AttachModules=enf_shipchange",
        "Misc:AntiwarpShipChange=1",
        "Toggle:AntiwarpPixels=500",
    ]);
    let calm = Region {
        name: "calm".into(),
        runs: (100..110).map(|y| TileRun { y, x: 100, len: 10 }).collect(),
        no_antiwarp: true,
        ..Region::default()
    };
    h.arena.assets.map = Map::decode(&Map::new().encode_with_regions(&[calm])).unwrap();
    assert_eq!(h.enter(1, "anchor", ship::WARBIRD), (0, 0));
    assert_eq!(h.enter(2, "runner", ship::JAVELIN), (1, 1));
    let mut n = 60;
    let mut step = |h: &mut Harness, pid, x, y, status| {
        n += 1;
        position_at(h, pid, x, y, status, n);
    };
    // Inside the region: antiwarp is taken out of what others see.
    step(&mut h, 2, 1700, 1700, 0);
    h.clear();
    step(&mut h, 1, 1680, 1680, ANTIWARP);
    assert_eq!(relayed_status(&h, 2, 1).map(|s| s & ANTIWARP), Some(0));
    assert!(h.arena.players[&1].regions.no_antiwarp);
    // In a safe zone, with Misc:NoSafeAntiwarp, too.
    step(&mut h, 2, 4000, 4000, 0);
    h.clear();
    step(&mut h, 1, 4010, 4010, ANTIWARP | SAFEZONE);
    assert_eq!(relayed_status(&h, 2, 1).map(|s| s & ANTIWARP), Some(0));
    // Elsewhere it goes through, and the enemy near it may not change ship.
    h.clear();
    step(&mut h, 1, 4020, 4020, ANTIWARP);
    assert_eq!(
        relayed_status(&h, 2, 1).map(|s| s & ANTIWARP),
        Some(ANTIWARP)
    );
    assert!(!h.arena.players[&1].regions.no_antiwarp);
    h.clear();
    h.packet(2, C2SPacket::SetShip { ship: ship::SPIDER });
    assert_eq!(h.messages(2), ["You are antiwarped!"]);
    assert_eq!(h.arena.players[&2].ship, ship::JAVELIN);
    // Spectator mode is always allowed.
    h.packet(
        2,
        C2SPacket::SetShip {
            ship: ship::SPECTATOR,
        },
    );
    assert_eq!(h.arena.players[&2].ship, ship::SPECTATOR);
}

#[test]
fn a_paused_timer_survives_a_realm_restart_and_bad_timer_checkpoints_are_refused() {
    let mut h = Harness::new(&[]);
    h.enter(1, "moddy", ship::SPECTATOR);
    h.chat(1, chat_type::PUBLIC, -1, "?timer 3");
    h.chat(1, chat_type::PUBLIC, -1, "?pausetimer");
    // What is left was read from the real clock between the two commands:
    // 3:00, or 2:59 when a busy machine let a tick pass in between. The
    // restored timer must show exactly what the paused one shows.
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?time");
    let paused = h.messages(1);
    assert!(
        paused == ["Timer paused at: 3 minutes and 0 seconds."]
            || paused == ["Timer paused at: 2 minutes and 59 seconds."],
        "{paused:?}"
    );
    let mut bytes = Vec::new();
    crate::modules::write_checkpoint(&h.arena, &h.arena.modules, &mut bytes);
    assert!(!bytes.is_empty());

    let mut next = Harness::new(&[]);
    next.send(ToRealm::ArenaCheckpoint { bytes: &bytes });
    next.enter(1, "moddy", ship::SPECTATOR);
    next.clear();
    next.chat(1, chat_type::PUBLIC, -1, "?time");
    assert_eq!(next.messages(1), paused);

    let mut bad = Harness::new(&[]);
    let before = bad.arena.counters.bad_config;
    for body in [&[9u8, 1, 2, 3, 4][..], &[1, 2][..], &[][..]] {
        let mut b = vec![10u8];
        b.extend_from_slice(b"game_timer");
        b.extend_from_slice(&(body.len() as u16).to_le_bytes());
        b.extend_from_slice(body);
        bad.send(ToRealm::ArenaCheckpoint { bytes: &b });
    }
    assert_eq!(bad.arena.counters.bad_config, before + 3);
    bad.enter(1, "moddy", ship::SPECTATOR);
    bad.clear();
    bad.chat(1, chat_type::PUBLIC, -1, "?time");
    assert_eq!(bad.messages(1), ["Time left: 0 seconds."]);
}

#[test]
fn a_timed_game_warns_ends_names_its_best_and_ends_the_game_interval() {
    let mut h = Harness::new(&["Misc:TimedGame=60000", "Misc:TimerWarnings=30, 120"]);
    // The game ends at tick `end` (a checkpoint sets it exactly).
    let end = 1_000_000u32;
    let mut b = vec![10u8];
    b.extend_from_slice(b"game_timer");
    b.extend_from_slice(&5u16.to_le_bytes());
    b.push(1);
    b.extend_from_slice(&end.to_le_bytes());
    h.send(ToRealm::ArenaCheckpoint { bytes: &b });
    h.enter(1, "alice", ship::WARBIRD);
    h.enter(2, "bob", ship::JAVELIN);
    h.packet(
        2,
        C2SPacket::Death {
            killer: 1,
            bounty: 40,
        },
    );
    let tick = |h: &mut Harness, now: u32| {
        h.clear();
        h.arena.each_module(|m, a| m.on_tick(a, now));
        h.drain();
    };
    tick(&mut h, end - 12_000);
    assert_eq!(h.messages(2), ["NOTICE: 2 minutes remaining."]);
    tick(&mut h, end - 11_990);
    assert!(h.messages(2).is_empty(), "a warning is given once");
    tick(&mut h, end - 3_000);
    assert_eq!(h.messages(2), ["NOTICE: 30 seconds remaining."]);
    tick(&mut h, end);
    assert_eq!(
        h.messages(2),
        ["NOTICE: Game over", "Best this game: alice (40)"]
    );
    let over = h.received(2).into_iter().find_map(|p| match p {
        S2CPacket::Chat(c) if c.text == "NOTICE: Game over" => Some(c.sound),
        _ => None,
    });
    assert_eq!(over, Some(5));
    assert!(h.others().iter().any(|o| o.contains("EndGameInterval")));
    // The next game counts from the end of this one.
    tick(&mut h, end + 1);
    assert!(h.messages(2).is_empty());
    tick(&mut h, end + 60_000);
    assert_eq!(h.messages(2), ["NOTICE: Game over"], "nobody scored");
}

#[test]
fn periodic_messages_follow_their_delay_and_interval() {
    let mut h = Harness::new(&[
        "Misc:PeriodicMessage0=2 1 Visit our forum",
        "Misc:PeriodicMessage3=0 0 never shown",
        "Misc:GreetMessage=Hello!",
    ]);
    h.enter(1, "alice", ship::SPECTATOR);
    assert_eq!(h.messages(1), ["Hello!"]);
    let t0 = 500_000u32;
    let mut shown = Vec::new();
    for minute in 0..=5u32 {
        h.clear();
        h.arena.each_module(|m, a| m.on_tick(a, t0 + minute * 6000));
        h.drain();
        shown.push(h.messages(1).len());
    }
    // Minute 0 starts the count; shown at minutes 1, 3, 5.
    assert_eq!(shown, [0, 1, 0, 1, 0, 1]);
}

#[test]
fn receivers_in_no_receive_regions_get_positions_without_weapons_or_antiwarp() {
    use ss_proto::game::status::ANTIWARP;
    use ss_proto::game::{weapon_type, WeaponInfo};
    use ss_proto::map::{Map, Region, TileRun};
    let mut h = Harness::new(&["Misc:RegionCheckInterval=0"]);
    let shelter = Region {
        name: "shelter".into(),
        runs: (100..110).map(|y| TileRun { y, x: 100, len: 10 }).collect(),
        no_receive_antiwarp: true,
        no_receive_weapons: true,
        ..Region::default()
    };
    h.arena.assets.map = Map::decode(&Map::new().encode_with_regions(&[shelter])).unwrap();
    h.enter(1, "shooter", ship::WARBIRD);
    h.enter(2, "sheltered", ship::JAVELIN);
    h.enter(3, "exposed", ship::JAVELIN);
    position_at(&mut h, 2, 105 * 16, 105 * 16, 0, 70);
    position_at(&mut h, 3, 111 * 16, 105 * 16, 0, 71);
    assert!(h.arena.players[&2].regions.no_receive_weapons);
    h.clear();
    let pos = ss_proto::game::Position {
        time: ipc_proto::monotonic_ticks().wrapping_add(72),
        x: 112 * 16,
        y: 105 * 16,
        status: ANTIWARP,
        weapon: WeaponInfo::new(weapon_type::BULLET, 1, false, 0, 0, false),
        ..Default::default()
    };
    h.send_position(1, &pos);
    let seen = |h: &Harness, to: i16| {
        h.received(to).into_iter().find_map(|p| match p {
            S2CPacket::LargePosition(l) if l.pid == 1 => Some((l.weapon.kind(), l.status)),
            S2CPacket::SmallPosition(s) if s.pid == 1 => Some((0, s.status)),
            _ => None,
        })
    };
    assert_eq!(seen(&h, 3), Some((weapon_type::BULLET, ANTIWARP)));
    assert_eq!(seen(&h, 2), Some((weapon_type::NONE, 0)));
}

#[test]
fn energy_command_sets_a_players_rule_or_the_arenas_for_newcomers() {
    use crate::energy::SeeEnergy;
    let mut h = Harness::new(&[]);
    h.enter(1, "smoddy", ship::SPECTATOR);
    h.enter(2, "pilot", ship::WARBIRD);
    // smod has `seenrg`: everything; others start from the settings.
    assert_eq!(h.arena.players[&1].see_nrg_spec, SeeEnergy::All);
    assert_eq!(h.arena.players[&2].see_nrg, SeeEnergy::None);
    assert_eq!(h.arena.players[&2].see_nrg_spec, SeeEnergy::All);
    h.chat(1, chat_type::PRIVATE, 2, "?energy -t");
    assert_eq!(h.arena.players[&2].see_nrg, SeeEnergy::Team);
    h.chat(1, chat_type::PRIVATE, 2, "?energy -n -s");
    assert_eq!(h.arena.players[&2].see_nrg_spec, SeeEnergy::None);
    h.chat(1, chat_type::PUBLIC, -1, "?energy -s -n");
    h.enter(3, "late", ship::SPECTATOR);
    assert_eq!(h.arena.players[&3].see_nrg_spec, SeeEnergy::None);
    // Not for everyone.
    h.clear();
    h.chat(2, chat_type::PUBLIC, -1, "?energy");
    assert_eq!(h.messages(2), ["You don't have permission to use ?energy."]);
    assert_eq!(h.arena.energy.in_ship, SeeEnergy::None);
}

#[test]
fn not_available_players_are_left_out_of_the_active_lists() {
    let mut h = Harness::new(&[]);
    h.enter(1, "alice", ship::SPECTATOR);
    h.enter(2, "bob", ship::WARBIRD);
    h.chat(2, chat_type::PUBLIC, -1, "?nav");
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?actives");
    assert_eq!(h.messages(1), ["Arena '0': 1 active", "alice"]);
    h.clear();
    h.chat(2, chat_type::PUBLIC, -1, "?available");
    assert_eq!(h.messages(2), ["Marked as Available."]);
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?specactives");
    assert_eq!(h.messages(1), ["Arena '0': 1 active in spec", "alice"]);
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?actives");
    assert_eq!(h.messages(1), ["Arena '0': 2 active", "alice, bob"]);
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?idles");
    assert_eq!(h.messages(1), ["Arena '0': 0 idle"]);
}

#[test]
fn a_king_put_in_spectator_mode_for_idling_loses_his_crown_bit() {
    let mut h = Harness::new(&[
        "Modules:AttachModules=koth",
        "King:MinPlaying=1",
        "Idle:SpecAfter=60",
    ]);
    h.enter(1, "sleeper", ship::WARBIRD);
    let t0 = ipc_proto::monotonic_ticks();
    h.arena.each_module(|m, a| m.on_tick(a, t0));
    h.drain();
    assert!(h.arena.players[&1].has_crown);
    h.clear();
    h.arena.each_module(|m, a| m.on_tick(a, t0 + 6_100));
    h.drain();
    assert_eq!(h.arena.players[&1].ship, ship::SPECTATOR);
    assert!(!h.arena.players[&1].has_crown, "koth heard of the change");
    assert!(h
        .messages(1)
        .iter()
        .any(|m| m.contains("spectator mode for being idle")));
}

#[test]
fn a_locked_arena_keeps_newcomers_in_spectator_mode() {
    let mut h = Harness::new(&[]);
    h.enter(1, "moddy", ship::SPECTATOR);
    h.enter(2, "pilot", ship::WARBIRD);
    h.chat(2, chat_type::PUBLIC, -1, "?lockarena");
    assert_eq!(
        h.messages(2),
        vec!["You don't have permission to use ?lockarena.".to_string()]
    );
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?lockarena");
    assert!(
        h.messages(1)[0].starts_with("Arena locked"),
        "{:?}",
        h.messages(1)
    );
    assert!(
        h.arena.players[&2].lock.is_some(),
        "players here are locked"
    );
    assert_eq!(h.arena.players[&2].ship, ship::WARBIRD, "in their ships");
    assert_eq!(h.enter(3, "late", ship::JAVELIN).0, ship::SPECTATOR);
    h.clear();
    h.packet(3, C2SPacket::SetShip { ship: 1 });
    assert_eq!(h.arena.players[&3].ship, ship::SPECTATOR, "stays in spec");
    assert_eq!(
        h.messages(3),
        vec!["You have been locked in spectator mode.".to_string()]
    );
    h.chat(1, chat_type::PUBLIC, -1, "?unlockarena");
    h.packet(3, C2SPacket::SetShip { ship: 1 });
    assert_eq!(h.arena.players[&3].ship, 1, "free again");
    assert_eq!(h.enter(4, "later", ship::JAVELIN).0, ship::JAVELIN);
    // *lock (sg_lock) toggles it.
    h.enter(5, "sysy", ship::SPECTATOR);
    h.chat(5, chat_type::PUBLIC, -1, "*lock");
    assert_eq!(h.arena.arena_lock, Some(false));
    h.chat(5, chat_type::PUBLIC, -1, "*lock");
    assert_eq!(h.arena.arena_lock, None);
}

#[test]
fn temporary_groups_follow_the_higher_than_rule() {
    let mut h = Harness::new(&[]);
    h.enter(1, "sysy", ship::SPECTATOR);
    h.enter(2, "moddy", ship::SPECTATOR);
    h.enter(3, "pleb", ship::SPECTATOR);
    h.enter(4, "other", ship::SPECTATOR);
    h.clear();
    h.chat(1, chat_type::PRIVATE, 3, "?setgroup wizard");
    assert_eq!(h.messages(1), vec!["There is no group wizard.".to_string()]);
    h.clear();
    h.chat(2, chat_type::PRIVATE, 3, "?setgroup smod");
    assert_eq!(
        h.messages(2),
        vec!["You don't have permission to give people group smod.".to_string()],
        "a mod is not higher than smod"
    );
    assert_eq!(h.arena.players[&3].group, "default");
    h.clear();
    h.chat(1, chat_type::PRIVATE, 3, "?setgroup mod");
    assert_eq!(h.arena.players[&3].group, "mod");
    assert_eq!(
        h.messages(3),
        vec!["You have temporarily been assigned to group mod by sysy.".to_string()]
    );
    h.clear();
    h.chat(1, chat_type::PRIVATE, 3, "?setgroup smod");
    assert!(
        h.messages(1)[0].contains("already has a group"),
        "{:?}",
        h.messages(1)
    );
    h.clear();
    h.chat(1, chat_type::PRIVATE, 3, "?rmgroup");
    assert_eq!(h.arena.players[&3].group, "default");
    // Permanent: nothing changes until the zone has written the file.
    h.clear();
    h.chat(1, chat_type::PRIVATE, 4, "?setgroup -a -p smod");
    assert_eq!(h.arena.players[&4].group, "default");
    assert!(
        h.others().iter().any(|o| o.contains("SetGroup")
            && o.contains("target: 4")
            && o.contains("\"smod\"")
            && o.contains("Some(\"(public)\")")),
        "{:?}",
        h.others()
    );
    h.send(ToRealm::SetGroup {
        pid: 4,
        group: "smod".into(),
        issuer: 1,
        issuer_name: "sysy".into(),
    });
    assert_eq!(h.arena.players[&4].group, "smod");
    // A listed group goes through staff.conf.
    h.clear();
    h.chat(1, chat_type::PRIVATE, 2, "?rmgroup");
    assert!(
        h.others()
            .iter()
            .any(|o| o.contains("RemoveGroup") && o.contains("(global)")),
        "{:?}",
        h.others()
    );
    // A staff.conf re-read (here: the embedded one, which lists nobody)
    // moves players listed in the file and leaves temporary groups alone.
    h.chat(1, chat_type::PRIVATE, 3, "?setgroup mod");
    h.send(ToRealm::StaffChanged);
    assert_eq!(h.arena.players[&3].group, "mod");
    assert_eq!(h.arena.players[&2].group, "default");
}

#[test]
fn group_login_needs_the_password() {
    let mut h = Harness::new(&[]);
    h.enter(1, "pleb", ship::SPECTATOR);
    h.chat(1, chat_type::PUBLIC, -1, "?grplogin mod wrong");
    assert_eq!(
        h.messages(1),
        vec!["Bad password for group mod.".to_string()]
    );
    assert_eq!(h.arena.players[&1].group, "default");
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?grplogin mod letmein");
    assert_eq!(h.messages(1), vec!["You are now in group mod.".to_string()]);
    assert_eq!(h.arena.players[&1].group, "mod");
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?grplogin mod");
    assert_eq!(
        h.messages(1),
        vec!["You must specify a group name and password.".to_string()]
    );
}

#[test]
fn timed_kicks_and_zone_control_go_to_the_zone() {
    let mut h = Harness::new(&[]);
    h.enter(1, "sysy", ship::SPECTATOR);
    h.enter(2, "pleb", ship::WARBIRD);
    h.clear();
    h.chat(1, chat_type::PRIVATE, 2, "?kick -m 2 spamming");
    assert_eq!(
        h.messages(1),
        vec!["Kicked 'pleb' for 2 minutes and 0 second(s).".to_string()]
    );
    assert!(
        h.others().iter().any(|o| o.contains("TimedKick")
            && o.contains("secs: 120")
            && o.contains("reason: \"spamming\"")
            && o.contains("kicker: \"sysy\"")),
        "{:?}",
        h.others()
    );
    for (line, want) in [
        ("?listkick", "ListBans"),
        ("?liftkick 1234", "LiftBan { key: \"1234\" }"),
        ("*removeban 99", "LiftBan { key: \"99\" }"),
        ("?lastlog 5 kick", "LastLog { count: 5, filter: \"kick\" }"),
        ("?recyclearena", "RecycleArena"),
        ("?recycle", "RecycleArena"),
        ("?shutdown -r", "Shutdown { recycle: true }"),
        ("?recyclezone", "Shutdown { recycle: true }"),
        ("?uptime", "Uptime"),
        ("?endinterval reset", "EndInterval"),
    ] {
        h.clear();
        h.chat(1, chat_type::PUBLIC, -1, line);
        assert!(
            h.others().iter().any(|o| o.contains(want)),
            "{line}: {:?} {:?}",
            h.others(),
            h.messages(1)
        );
    }
    // A player without the capability gets no zone call.
    h.clear();
    h.chat(2, chat_type::PUBLIC, -1, "?shutdown");
    assert!(h.others().is_empty(), "{:?}", h.others());
    h.chat(2, chat_type::PUBLIC, -1, "?liftkick 0");
    assert_eq!(
        h.messages(2),
        vec![
            "You don't have permission to use ?shutdown.".to_string(),
            "You don't have permission to use ?liftkick.".to_string()
        ]
    );
}

#[test]
fn small_commands_answer() {
    let mut h = Harness::new(&[]);
    h.enter(1, "pleb", ship::WARBIRD);
    h.enter(2, "sysy", ship::SPECTATOR);
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?sheep");
    let sheep = h.received(1).into_iter().find_map(|p| match p {
        S2CPacket::Chat(c) if c.pid == -1 => Some((c.sound, c.text)),
        _ => None,
    });
    assert_eq!(
        sheep,
        Some((24, "Sheep successfully cloned -- hello Dolly".to_string()))
    );
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?stats");
    assert_eq!(
        h.messages(1),
        vec!["pleb in 0: kill points 0, flag points 0, kills 0, deaths 0".to_string()]
    );
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?mapinfo");
    assert!(
        h.messages(1)[0].starts_with("LVL file:"),
        "{:?}",
        h.messages(1)
    );
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?cheater someone is warping");
    assert_eq!(
        h.messages(1),
        vec!["Message has been sent to online staff.".to_string()]
    );
    assert!(
        h.others().iter().any(|o| o.contains("StaffChat")
            && o.contains("cheater: (pleb) (Public 0): someone is warping")),
        "{:?}",
        h.others()
    );
    h.clear();
    h.chat(2, chat_type::PRIVATE, 1, "?reply we are looking into it");
    let private = h.received(1).into_iter().find_map(|p| match p {
        S2CPacket::Chat(c) if c.chat_type == chat_type::PRIVATE => Some((c.pid, c.text)),
        _ => None,
    });
    assert_eq!(private, Some((2, "we are looking into it".to_string())));
    h.clear();
    h.chat(2, chat_type::PUBLIC, -1, "?lsmod -a");
    assert!(
        h.messages(2)[0].starts_with("Modules:"),
        "{:?}",
        h.messages(2)
    );
    h.clear();
    h.chat(2, chat_type::PRIVATE, 1, "*spec");
    assert_eq!(h.arena.players[&1].ship, ship::SPECTATOR);
    assert!(h.arena.players[&1].lock.is_some());
    h.chat(2, chat_type::PRIVATE, 1, "*spec");
    assert!(h.arena.players[&1].lock.is_none());
    h.clear();
    h.chat(2, chat_type::PRIVATE, 1, "*where");
    assert_eq!(h.messages(2), vec!["pleb: A1".to_string()]);
}

/// Sends `pid` a position stamped `dt` ticks from now (so that each is
/// newer than the last).
fn position_after(h: &mut Harness, pid: i16, dt: u32) {
    let pos = ss_proto::game::Position {
        time: ipc_proto::monotonic_ticks().wrapping_add(dt) & 0x7FFF_FFFF,
        x: 8000,
        y: 8000,
        ..Default::default()
    };
    h.send_position(pid, &pos);
}

/// Whether `pid` was sent a position of `of`.
fn got_position_of(h: &Harness, pid: i16, of: i16) -> bool {
    h.received(pid).iter().any(|p| match p {
        S2CPacket::SmallPosition(s) => i16::from(s.pid) == of,
        S2CPacket::LargePosition(l) => l.pid as i16 == of,
        _ => false,
    })
}

#[test]
fn bot_features_widen_what_a_bot_sees() {
    let mut h = Harness::new(&[]);
    h.enter(1, "pilot", ship::WARBIRD);
    h.enter(2, "botty", ship::WARBIRD);
    h.clear();
    position_after(&mut h, 1, 1);
    assert!(!got_position_of(&h, 2, 1), "too far away");
    h.chat(1, chat_type::PUBLIC, -1, "?botfeature +seeallposn");
    assert_eq!(
        h.messages(1),
        vec!["You don't have permission to use ?botfeature.".to_string()]
    );
    h.clear();
    h.chat(
        2,
        chat_type::PUBLIC,
        -1,
        "?botfeature +seeallposn +seeownposn",
    );
    assert_eq!(
        h.messages(2),
        vec!["seeallposn on, seeownposn on".to_string()]
    );
    h.clear();
    position_after(&mut h, 1, 2);
    assert!(got_position_of(&h, 2, 1), "every position reaches the bot");
    assert!(!got_position_of(&h, 1, 1), "nobody else gets his own");
    h.clear();
    position_after(&mut h, 2, 3);
    assert!(got_position_of(&h, 2, 2), "its own position comes back");
    h.clear();
    h.chat(2, chat_type::PUBLIC, -1, "?botfeature +flying");
    assert_eq!(h.messages(2), vec!["Unknown bot feature!".to_string()]);
}

#[test]
fn modules_attach_and_detach_until_the_arena_restarts() {
    let mut h = Harness::new(&[]);
    h.enter(1, "sysy", ship::SPECTATOR);
    let attached =
        |h: &Harness| -> Vec<&'static str> { h.arena.modules.iter().map(|m| m.name()).collect() };
    assert!(attached(&h).contains(&"jackpot"), "{:?}", attached(&h));
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?detmod jackpot");
    assert_eq!(h.messages(1), vec!["Module jackpot detached.".to_string()]);
    assert_eq!(h.arena.jackpot, None, "its state goes with it");
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?attmod jackpot");
    assert_eq!(
        h.messages(1),
        vec!["Module jackpot attached (until the arena restarts).".to_string()]
    );
    assert_eq!(h.arena.jackpot, Some(0));
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?attmod jackpot");
    assert_eq!(
        h.messages(1),
        vec!["Module jackpot is already attached.".to_string()]
    );
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?attmod -d jackpot");
    assert_eq!(h.messages(1), vec!["Module jackpot detached.".to_string()]);
    for (line, want) in [
        ("?attmod fg_turf", "flag games are chosen"),
        ("?detmod fg_wz", "flag games are chosen"),
        ("?attmod nosuch", "no such module"),
        ("?detmod periodic2", "not attached"),
        ("?attmod points_kill", "always on"),
        // The modules every arena runs are attached, and may be detached
        // and attached again like the others.
        ("?attmod game_timer", "already attached"),
        ("?detmod idle", "Module idle detached."),
        ("?attmod idle", "Module idle attached"),
        ("?attmod idle", "already attached"),
    ] {
        h.clear();
        h.chat(1, chat_type::PUBLIC, -1, line);
        assert!(
            h.messages(1)[0].contains(want),
            "{line}: {:?}",
            h.messages(1)
        );
    }
    let names = attached(&h);
    for name in ["game_timer", "autowarp", "messages", "idle"] {
        assert_eq!(
            names.iter().filter(|n| **n == name).count(),
            1,
            "{name} once: {names:?}"
        );
    }
    assert!(!names.contains(&"jackpot"), "{names:?}");
}

/// The state main's staff and arena tools keep per player and per arena
/// crosses a hand-over (docs/upgrades.md §2): a temporary group, bot
/// features, energy viewing, regions (indices the map lacks dropped) and
/// the arena lock.
#[test]
fn a_hand_over_carries_groups_bot_features_energy_regions_and_the_lock() {
    let mut old = Harness::new(&[]);
    old.enter(1, "alice", ship::WARBIRD);
    old.enter(2, "botty", ship::SPECTATOR);
    {
        let a = old.arena.players.get_mut(&1).unwrap();
        a.group = "mod".into();
        a.group_temp = true;
        a.see_nrg = crate::energy::SeeEnergy::Team;
        a.regions.inside = vec![40_000];
        a.regions.no_weapons = true;
        let b = old.arena.players.get_mut(&2).unwrap();
        b.see_all_posn = true;
        b.see_own_posn = true;
        b.see_nrg_spec = crate::energy::SeeEnergy::All;
    }
    old.arena.arena_lock = Some(false);
    old.clear();
    old.arena.handle(ToRealm::HandOver);
    let out = old.arena.take_output();
    let mut r = FrameReader::new();
    r.extend(&out);
    let mut state = None;
    while let Ok(Some(frame)) = r.next_frame() {
        if let Ok(FromRealm::HandOverState { bytes }) = ipc_proto::decode(frame) {
            state = Some(bytes.to_vec());
        }
    }
    let state = state.expect("a hand-over state");

    let mut new = Harness::new(&[]);
    new.send(ToRealm::TakeOver { bytes: &state });
    new.enter_adopted(1, "alice");
    new.enter_adopted(2, "botty");
    let a = &new.arena.players[&1];
    assert_eq!((a.group.as_str(), a.group_temp), ("mod", true));
    assert_eq!(a.see_nrg, crate::energy::SeeEnergy::Team);
    assert!(
        a.regions.inside.is_empty(),
        "a region the map lacks is dropped"
    );
    assert!(a.regions.no_weapons);
    let b = &new.arena.players[&2];
    assert!(b.see_all_posn && b.see_own_posn);
    assert_eq!(b.see_nrg_spec, crate::energy::SeeEnergy::All);
    assert!(!b.group_temp, "botty's group follows staff.conf");
    assert_eq!(new.arena.arena_lock, Some(false));
    // A temporary group this arena does not know is not kept.
    let mut other = Harness::new(&[]);
    let carry = crate::handover::HandOverState {
        format: crate::handover::HANDOVER_FORMAT,
        players: vec![crate::handover::PlayerCarry {
            pid: 1,
            temp_group: Some("wizard".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let bytes = postcard::to_allocvec(&carry).unwrap();
    other.send(ToRealm::TakeOver { bytes: &bytes });
    other.enter_adopted(1, "alice");
    assert_eq!(other.arena.players[&1].group, "default");
    assert!(!other.arena.players[&1].group_temp);
}

mod relay;

#[test]
fn enf_lockspec_keeps_everyone_in_spectator_mode_unless_staff_force_it() {
    let mut h = Harness::new(&["Modules:AttachModules=enf_lockspec"]);
    // Entering asks for a ship: the arena gives spectator mode.
    assert_eq!(h.enter(1, "watcher", ship::WARBIRD).0, ship::SPECTATOR);
    h.enter(2, "smoddy", ship::SPECTATOR);
    h.clear();
    h.packet(
        1,
        C2SPacket::SetShip {
            ship: ship::JAVELIN,
        },
    );
    assert_eq!(h.messages(1), [crate::modules::enforcers::SPEC_ONLY]);
    assert_eq!(h.arena.players[&1].ship, ship::SPECTATOR);
    // Staff without -f go through the freq manager, and its enforcers.
    h.chat(2, chat_type::PRIVATE, 1, "?setship 2");
    assert_eq!(h.arena.players[&1].ship, ship::SPECTATOR);
    h.chat(2, chat_type::PRIVATE, 1, "?setship -f 2");
    assert_eq!(h.arena.players[&1].ship, ship::JAVELIN);
    // Without the module the same request is granted.
    let mut open = Harness::new(&[]);
    assert_eq!(open.enter(1, "watcher", ship::WARBIRD).0, ship::WARBIRD);
}

#[test]
fn enf_flagwin_closes_the_winning_freq_except_to_its_own_players_for_a_grace() {
    let settings = |grace: &'static str| {
        [
            "Modules:AttachModules=fg_wz enf_flagwin",
            "Flag:FlagCount=1",
            "Flag:SpawnRadius=0",
            // No win (and reset) while the test runs, however slowly.
            "Flag:WinDelay=100000000",
            grace,
        ]
    };
    let mut h = Harness::new(&settings("Flag:TeamChangeGrace=100000000"));
    h.arena.on_timer();
    h.enter(1, "smoddy", ship::SPECTATOR);
    assert_eq!(h.enter(2, "alice", ship::WARBIRD), (ship::WARBIRD, 0));
    assert_eq!(h.enter(3, "bob", ship::WARBIRD), (ship::WARBIRD, 1));
    // Nobody holds every flag: freqs are open.
    h.packet(2, C2SPacket::SetFreq { freq: 1 });
    assert_eq!(h.arena.players[&2].freq, 1);
    h.packet(2, C2SPacket::SetFreq { freq: 0 });
    assert_eq!(h.arena.players[&2].freq, 0);
    // Freq 1 owns the only flag: nobody may join it...
    h.chat(1, chat_type::PUBLIC, -1, "?moveflag 0 1 600 610");
    assert_eq!(h.arena.flags.as_ref().unwrap().winning_freq(), Some(1));
    h.clear();
    h.packet(2, C2SPacket::SetFreq { freq: 1 });
    assert_eq!(h.messages(2), ["Freq 1 has all of the flags."]);
    assert_eq!(h.arena.players[&2].freq, 0);
    // ...a spectator entering the game is not put on it...
    h.enter(4, "carol", ship::SPECTATOR);
    h.packet(4, C2SPacket::SetShip { ship: ship::SPIDER });
    assert_eq!(h.arena.players[&4].ship, ship::SPIDER);
    assert_ne!(h.arena.players[&4].freq, 1);
    // ...but one who left it may go back within the grace, even after
    // leaving the arena.
    h.packet(3, C2SPacket::SetFreq { freq: 2 });
    assert_eq!(h.arena.players[&3].freq, 2);
    h.packet(3, C2SPacket::SetFreq { freq: 1 });
    assert_eq!(h.arena.players[&3].freq, 1);
    h.send(ToRealm::PlayerLeave { pid: 3 });
    assert_eq!(
        h.enter(3, "bob", ship::WARBIRD).1,
        1,
        "bob rejoins his freq"
    );

    // With no grace, leaving is final while freq 1 holds the flags.
    let mut h = Harness::new(&settings("Flag:TeamChangeGrace=0"));
    h.arena.on_timer();
    h.enter(1, "smoddy", ship::SPECTATOR);
    h.enter(2, "alice", ship::WARBIRD);
    h.enter(3, "bob", ship::WARBIRD);
    h.chat(1, chat_type::PUBLIC, -1, "?moveflag 0 1 600 610");
    h.packet(3, C2SPacket::SetFreq { freq: 2 });
    h.clear();
    h.packet(3, C2SPacket::SetFreq { freq: 1 });
    assert_eq!(h.messages(3), ["Freq 1 has all of the flags."]);
    assert_eq!(h.arena.players[&3].freq, 2);
    // Once the flag is neutral again, freq 1 is open.
    h.chat(1, chat_type::PUBLIC, -1, "?neutflag 0");
    h.packet(3, C2SPacket::SetFreq { freq: 1 });
    assert_eq!(h.arena.players[&3].freq, 1);
}

#[test]
fn notify_alert_commands_and_empty_reply_follow_the_config() {
    // ASSS's stock global.conf: ?cheater and ?help alert the staff (?man
    // stays the help command).
    let mut h = Harness::new(&[
        "Notify:AlertCommand=cheater,help",
        "Notify:EmptyReply=Please use ?man for command reference.",
    ]);
    h.enter(1, "pleb", ship::WARBIRD);
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?help");
    assert_eq!(h.messages(1), ["Please use ?man for command reference."]);
    h.chat(1, chat_type::PUBLIC, -1, "?help my ship is stuck");
    assert!(
        h.others()
            .iter()
            .any(|o| o.contains("StaffChat")
                && o.contains("help: (pleb) (Public 0): my ship is stuck")),
        "{:?}",
        h.others()
    );
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?cheater warper");
    assert!(h
        .others()
        .iter()
        .any(|o| o.contains("cheater: (pleb) (Public 0): warper")));
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?man stats");
    assert!(
        h.messages(1).iter().any(|m| m.contains("stats")),
        "{:?}",
        h.messages(1)
    );

    // A word of the operator's own replaces ?cheater, and needs its
    // capability like any command.
    let mut h = Harness::new(&["Notify:AlertCommand=sos"]);
    h.enter(1, "pleb", ship::WARBIRD);
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?sos warper");
    assert_eq!(h.messages(1), ["You don't have permission to use ?sos."]);
    h.chat(1, chat_type::PUBLIC, -1, "?cheater warper");
    assert!(
        !h.others().iter().any(|o| o.contains("StaffChat")),
        "{:?}",
        h.others()
    );
    // Without the setting: ?cheater, and the built-in empty reply.
    let mut h = Harness::new(&[]);
    h.enter(1, "pleb", ship::WARBIRD);
    h.clear();
    h.chat(1, chat_type::PUBLIC, -1, "?cheater");
    assert_eq!(
        h.messages(1),
        ["Please include a message to send to online staff."]
    );
}

/// `General:NeedCap` sends a player without the capability to the default
/// arena the supervisor names (`ToRealm::ZoneInfo`), and the arena that
/// is the default lets him in.
#[test]
fn need_cap_sends_the_refused_to_the_zones_default_arena() {
    let mut h = Harness::new(&["General:NeedCap=seeprivarena"]);
    h.send(ToRealm::ZoneInfo {
        version: "test".into(),
        default_arena: "lobby".into(),
    });
    h.send(ToRealm::PlayerEnter(player_info(1, "pleb", ship::WARBIRD)));
    assert!(!h.arena.players.contains_key(&1), "pleb entered");
    let o = h.others();
    assert!(
        o.iter()
            .any(|c| c.contains("MovePlayer") && c.contains("\"lobby\"")),
        "{o:?}"
    );
    // This arena is the default: it turns nobody away.
    h.send(ToRealm::ZoneInfo {
        version: "test".into(),
        default_arena: "0".into(),
    });
    h.clear();
    h.send(ToRealm::PlayerEnter(player_info(2, "other", ship::WARBIRD)));
    assert!(
        h.arena.players.contains_key(&2),
        "turned away from the default arena"
    );
    assert!(!h.others().iter().any(|c| c.contains("MovePlayer")));
}

/// The soccer score line is worded as ASSS words it, which bots read.
#[test]
fn the_soccer_score_line_names_teams_as_asss_does() {
    let line = |settings: &[&str], scores: [i32; 4]| {
        let mut all = vec!["Modules:AttachModules=balls", "Soccer:BallCount=1"];
        all.extend_from_slice(settings);
        let mut h = Harness::new(&all);
        let core = h.arena.balls.as_mut().expect("ball module");
        core.scoring.scores[..4].copy_from_slice(&scores);
        h.arena.soccer_score_line()
    };
    assert_eq!(
        line(&["Soccer:Mode=1"], [1, 2, 0, 0]),
        "SCORE: Evens:1 Odds:2"
    );
    assert_eq!(
        line(&["Soccer:Mode=3"], [1, 0, 0, 3]),
        "SCORE: Team0:1 Team1:0 Team2:0 Team3:3"
    );
    assert_eq!(
        line(
            &["Soccer:Mode=2", "Misc:FrequencyShipTypes=1"],
            [0, 4, 0, 0]
        ),
        "SCORE: Warbirds:0 Javelins:4"
    );
    assert_eq!(
        line(
            &["Soccer:Mode=5", "Misc:FrequencyShipTypes=1"],
            [2, 0, 1, 0]
        ),
        "SCORE: Warbirds:2 Javelins:0 Spiders:1 Leviathans:0"
    );
}

/// Sends the settings editor's C2S 0x1D with `body` from `pid`; returns
/// the `SetArenaSettings` zone calls the realm made (as debug text).
fn settings_change(h: &mut Harness, pid: i16, body: &[u8]) -> Vec<String> {
    let mut pkt = vec![ss_proto::game::c2s_type::SETTINGS_CHANGE];
    pkt.extend_from_slice(body);
    h.send(ToRealm::PlayerPacket { pid, bytes: &pkt });
    h.others()
        .into_iter()
        .filter(|o| o.contains("SetArenaSettings"))
        .collect()
}

/// `?quickfix` (config.md §4): the matching arena settings go out as
/// `server.set`; the editor's changes come back as C2S 0x1D, the permanent
/// ones to the supervisor in one call, the temporary ones applied here, a
/// bad one answered; a player without `changesettings` changes nothing.
#[test]
fn quickfix_sends_the_settings_file_and_takes_the_editors_changes() {
    let mut h = Harness::new(&["Soccer:BallCount=2"]);
    h.enter(1, "sysy", ship::SPECTATOR);
    h.enter(2, "pleb", ship::SPECTATOR);
    let text = crate::commands::server_set(&h.arena.assets.config, "ballcount");
    assert_eq!(
        text,
        format!(
            "Soccer:BallCount:2:0:8:{}\r\n",
            conf::registry::lookup("Soccer", "BallCount").unwrap().help
        )
    );
    // Each ship's section by name.
    let ships = crate::commands::server_set(&h.arena.assets.config, "bulletfireenergy");
    assert!(ships.contains("\r\nWarbird:BulletFireEnergy:"), "{ships}");
    assert_eq!(ships.lines().count(), 8, "{ships}");
    h.chat(1, chat_type::PUBLIC, -1, "?quickfix ballcount");
    assert_eq!(h.messages(1), ["Sending settings..."]);
    assert!(h
        .others()
        .iter()
        .any(|o| o.starts_with("SendSized") && o.contains("pid: 1")));

    h.clear();
    let body = b"Soccer:BallCount:3\0__pragma:perm:0\0Soccer:PassDelay:7\0Nope:Nothing:1\0\0";
    let calls = settings_change(&mut h, 1, body);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(calls[0].contains("\"BallCount\", \"3\""), "{}", calls[0]);
    assert!(
        !calls[0].contains("PassDelay"),
        "the temporary one stays here"
    );
    assert_eq!(h.arena.assets.config.get_int("Soccer", "PassDelay", 0), 7);
    assert!(
        h.messages(1).iter().any(|m| m.contains("Nope:Nothing")),
        "{:?}",
        h.messages(1)
    );

    h.clear();
    let calls = settings_change(&mut h, 2, body);
    assert_eq!(
        h.messages(2),
        ["You are not authorized to view or change settings in this arena."]
    );
    assert!(calls.is_empty(), "{calls:?}");
}

/// One C2S 0x1D writes at most `MAX_SETTINGS_AT_ONCE` settings: each is a
/// file write on the supervisor's thread.
#[test]
fn quickfix_changes_are_taken_fifty_at_a_time() {
    let mut h = Harness::new(&[]);
    h.enter(1, "sysy", ship::SPECTATOR);
    h.clear();
    let mut body = b"Soccer:BallCount:1\0".repeat(60);
    body.push(0);
    let calls = settings_change(&mut h, 1, &body);
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].matches("BallCount").count(),
        ipc_proto::MAX_SETTINGS_AT_ONCE
    );
    assert!(
        h.messages(1)[0].starts_with("At most 50 settings"),
        "{:?}",
        h.messages(1)
    );
}
