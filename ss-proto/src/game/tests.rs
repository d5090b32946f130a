//! Tests: doc test vectors (§25), round trips, length checks, proptests.

use super::*;
use crate::transport::DisconnectReason;
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect()
}

fn c2s_bytes(p: &C2SPacket) -> Vec<u8> {
    let mut v = Vec::new();
    p.encode(&mut v);
    v
}

fn s2c_bytes(p: &S2CPacket) -> Vec<u8> {
    let mut v = Vec::new();
    p.encode(&mut v);
    v
}

fn c2s_round_trip(p: C2SPacket) {
    let bytes = c2s_bytes(&p);
    assert_eq!(C2SPacket::decode(&bytes), Ok(p), "bytes {bytes:02x?}");
}

fn s2c_round_trip(p: S2CPacket) {
    let bytes = s2c_bytes(&p);
    assert_eq!(S2CPacket::decode(&bytes), Ok(p), "bytes {bytes:02x?}");
}

// ---- §25 test vectors ----

fn vector_position() -> Position {
    Position {
        rotation: 10,
        time: 0x1234,
        x_speed: 100,
        y: 8192,
        status: 0,
        x: 8192,
        y_speed: -50,
        bounty: 3,
        energy: 1000,
        weapon: WeaponInfo::NONE,
        extra: None,
    }
}

#[test]
fn vector_c2s_position() {
    let wire = hex("03 0a 34 12 00 00 64 00 00 20 92 00 00 20 ce ff 03 00 e8 03 00 00");
    assert_eq!(c2s_bytes(&C2SPacket::Position(vector_position())), wire);
    assert_eq!(
        C2SPacket::decode(&wire),
        Ok(C2SPacket::Position(vector_position()))
    );
    let mut buf = [0u8; Position::MAX_LEN];
    assert_eq!(vector_position().encode_into(&mut buf), 22);
    assert_eq!(&buf[..22], &wire[..]);
    let mut bad = wire.clone();
    bad[10] ^= 1;
    assert_eq!(
        C2SPacket::decode(&bad),
        Err(PacketError::BadChecksum { ptype: 0x03 })
    );
}

#[test]
fn vector_weapon_word() {
    let w = WeaponInfo::new(weapon_type::BOMB, 1, false, 1, 5, false);
    assert_eq!(w, WeaponInfo(0x1523));
    assert_eq!(w.0.to_le_bytes(), [0x23, 0x15]);
    assert_eq!(
        (
            w.kind(),
            w.level(),
            w.shrap_bouncing(),
            w.shrap_level(),
            w.shrap(),
            w.alternate()
        ),
        (3, 1, false, 1, 5, false)
    );
    assert!(w.is_fired() && !w.is_mine());
    assert!(WeaponInfo(0x1523 | 0x8000).is_mine());
}

#[test]
fn each_weapon_reaches_as_far_as_its_range() {
    let w = |kind, alternate| WeaponInfo::new(kind, 0, false, 0, 0, alternate);
    assert_eq!(
        w(weapon_type::BULLET, true).relay_reach(1500, 2000),
        Some(1500)
    );
    assert_eq!(
        w(weapon_type::BOUNCE_BULLET, false).relay_reach(1500, 2000),
        Some(1500)
    );
    assert_eq!(
        w(weapon_type::BOMB, false).relay_reach(1500, 2000),
        Some(2000)
    );
    assert_eq!(
        w(weapon_type::REPEL, false).relay_reach(1500, 2000),
        Some(2000)
    );
    assert_eq!(
        w(weapon_type::THOR, false).relay_reach(1500, 2000),
        Some(THOR_RELAY_PIXELS)
    );
    // Mines, of either bomb kind, go to everyone.
    assert_eq!(w(weapon_type::BOMB, true).relay_reach(1500, 2000), None);
    assert_eq!(
        w(weapon_type::PROX_BOMB, true).relay_reach(1500, 2000),
        None
    );
}

fn vector_large() -> LargePosition {
    LargePosition {
        rotation: 10,
        time: 0x5678,
        x: 8192,
        y: 8192,
        x_speed: 100,
        y_speed: -50,
        pid: 3,
        status: 0,
        latency: 12,
        bounty: 3,
        weapon: WeaponInfo(0x1523),
        extra: ExtraData::Energy(1000),
    }
}

const VECTOR_05: &str = "05 0a 78 56 00 20 ce ff 03 00 64 00 4e 00 0c 00 20 03 00 23 15 e8 03";
const VECTOR_28: &str = "28 0a 78 56 00 20 0c 03 03 00 ce ff 00 20 64 00 e8 03";

#[test]
fn vector_s2c_large_position() {
    let wire = hex(VECTOR_05);
    assert_eq!(s2c_bytes(&S2CPacket::LargePosition(vector_large())), wire);
    assert_eq!(
        S2CPacket::decode(&wire),
        Ok(S2CPacket::LargePosition(vector_large()))
    );
    let mut buf = [0u8; LargePosition::MAX_LEN];
    assert_eq!(vector_large().encode_into(&mut buf), 23);
    assert_eq!(&buf[..23], &wire[..]);
}

#[test]
fn vector_s2c_small_position() {
    let small = SmallPosition {
        rotation: 10,
        time: 0x5678,
        x: 8192,
        y: 8192,
        x_speed: 100,
        y_speed: -50,
        pid: 3,
        status: 0,
        latency: 12,
        bounty: 3,
        extra: ExtraData::Energy(1000),
    };
    let wire = hex(VECTOR_28);
    assert_eq!(s2c_bytes(&S2CPacket::SmallPosition(small)), wire);
    assert_eq!(
        S2CPacket::decode(&wire),
        Ok(S2CPacket::SmallPosition(small))
    );
}

// ---- relaying ----

#[test]
fn relay_matches_vectors() {
    let mut src = vector_position();
    let mut buf = [0u8; MAX_RELAY_LEN];
    // No weapon, small pid and bounty: 0x28.
    let n = relay_position(&src, 3, 0x1_5678, 12, ExtraLen::Energy, &mut buf);
    assert_eq!(&buf[..n], &hex(VECTOR_28)[..]);
    // With a weapon: 0x05.
    src.weapon = WeaponInfo(0x1523);
    let n = relay_position(&src, 3, 0x1_5678, 12, ExtraLen::Energy, &mut buf);
    assert_eq!(&buf[..n], &hex(VECTOR_05)[..]);
}

#[test]
fn relay_choice_and_extra() {
    let mut buf = [0u8; MAX_RELAY_LEN];
    let src = vector_position();
    let n = relay_position(&src, 3, 0, 0, ExtraLen::None, &mut buf);
    assert_eq!((buf[0], n), (0x28, 16));
    let n = relay_position(&src, 256, 0, 0, ExtraLen::None, &mut buf);
    assert_eq!((buf[0], n), (0x05, 21));
    let big = Position { bounty: 256, ..src };
    let n = relay_position(&big, 3, 0, 0, ExtraLen::None, &mut buf);
    assert_eq!((buf[0], n), (0x05, 21));
    // Full extra without sender extra falls back to energy only.
    let n = relay_position(&src, 3, 0, 0, ExtraLen::Full, &mut buf);
    assert_eq!(n, 18);
    // Full extra: energy field replaced by the sender's energy.
    let x = ExtraPositionData {
        energy: 1,
        s2c_ping: 2,
        timer: 3,
        items: 0x3FFF_FFFF,
    };
    let with = Position {
        extra: Some(x),
        weapon: WeaponInfo(0x1523),
        ..src
    };
    let n = relay_position(&with, 300, 0, 0, ExtraLen::Full, &mut buf);
    assert_eq!(n, 31);
    let got = LargePosition::decode(&buf[..n]).unwrap();
    assert_eq!(got.pid, 300);
    assert_eq!(
        got.extra,
        ExtraData::Full(ExtraPositionData { energy: 1000, ..x })
    );
}

#[test]
fn latency() {
    assert_eq!(position_latency(100, 88), 12);
    assert_eq!(position_latency(100, 101), 0);
    assert_eq!(position_latency(10_000, 0), 255);
    assert_eq!(position_latency(5, 0x7FFF_FFFE), 7); // 31-bit wrap
}

#[test]
fn extra_item_bits() {
    let x = ExtraPositionData {
        items: 0b01 | 0b10 | 3 << 2 | 4 << 6 | 5 << 26,
        ..Default::default()
    };
    assert!(x.shields() && x.super_());
    assert_eq!(
        (x.bursts(), x.repels(), x.thors(), x.portals()),
        (3, 4, 0, 5)
    );
}

// ---- round trips of every packet ----

fn sample_login(continuum: bool) -> Login {
    Login {
        flags: 1,
        machine_id: 0xDEAD_BEEF,
        connection_type: 2,
        timezone_bias: -120,
        unknown73: 7,
        unknown77: 8,
        client_features: client_feature::LVZ | client_feature::WARP_TO,
        field555: 9,
        permission_id: 10,
        reserved: [1; 12],
        continuum_id: continuum.then_some([0xAB; 64]),
        ..Login::new("Bot Name", "pässword", continuum)
    }
}

#[test]
fn c2s_round_trips() {
    let chat = Chat {
        chat_type: chat_type::PRIVATE,
        sound: 1,
        pid: 7,
        text: "hi ?go".into(),
    };
    let go = GoArena {
        ship: ship::SPECTATOR,
        obscenity_filter: true,
        allow_audio: false,
        x_res: 1024,
        y_res: 768,
        arena_type: GoArena::NAMED,
        arena_name: "duel".into(),
        optional_graphics: None,
    };
    let sec = SecurityResponse {
        exe_checksum: 5,
        slow_frames: 9,
        ..Default::default()
    };
    let all = [
        C2SPacket::GoArena(go.clone()),
        C2SPacket::GoArena(GoArena {
            optional_graphics: Some(true),
            ..go
        }),
        C2SPacket::LeaveArena,
        C2SPacket::Position(vector_position()),
        C2SPacket::Position(Position {
            extra: Some(ExtraPositionData {
                energy: 5,
                s2c_ping: 6,
                timer: 7,
                items: 8,
            }),
            weapon: WeaponInfo(0x9523),
            ..vector_position()
        }),
        C2SPacket::Death {
            killer: 4,
            bounty: 50,
        },
        C2SPacket::Chat(chat),
        C2SPacket::Green(Green {
            time: 99,
            x: 1,
            y: -2,
            prize: 13,
        }),
        C2SPacket::SpectateRequest { pid: -1 },
        C2SPacket::Login(Box::new(sample_login(false))),
        C2SPacket::Login(Box::new(sample_login(true))),
        C2SPacket::MapRequest { file_index: None },
        C2SPacket::MapRequest {
            file_index: Some(3),
        },
        C2SPacket::NewsRequest,
        C2SPacket::SetFreq { freq: 8025 },
        C2SPacket::Attach { pid: 2 },
        C2SPacket::TurretKickoff,
        C2SPacket::SetShip { ship: ship::SHARK },
        C2SPacket::SecurityResponse(sec.clone()),
        C2SPacket::SecurityResponse(SecurityResponse {
            tail: vec![1, 2, 3, 4, 5, 6],
            ..sec
        }),
        C2SPacket::Other {
            ptype: 0x1E,
            body: vec![1, 0, 2, 0],
        },
    ];
    for p in all {
        c2s_round_trip(p);
    }
}

/// C2S (type, length) pairs that must decode.
#[rustfmt::skip]
const C2S_LENGTHS: &[(u8, usize)] = &[
    (0x01, 26), (0x01, 27), (0x02, 1), (0x03, 22), (0x03, 32), (0x05, 5), (0x06, 6),
    (0x06, 500), (0x07, 11), (0x08, 3), (0x09, 101), (0x24, 165), (0x09, 165),
    (0x0C, 1), (0x0C, 3), (0x0D, 1), (0x0F, 3), (0x10, 3), (0x14, 1), (0x14, 4),
    (0x18, 2), (0x1A, 40), (0x1A, 46),
];

/// S2C exact-length (type, length) pairs.
#[rustfmt::skip]
const S2C_LENGTHS: &[(u8, usize)] = &[
    (0x01, 3), (0x02, 1), (0x04, 3), (0x06, 10), (0x08, 13), (0x09, 15), (0x0A, 36),
    (0x0D, 6), (0x0E, 5), (0x0F, 1428), (0x18, 17), (0x1B, 1), (0x1C, 2), (0x1D, 6),
    (0x20, 5), (0x27, 1), (0x32, 5), (0x34, 7), (0x28, 16), (0x28, 18), (0x28, 26),
];

/// S2C (type, length) pairs that must be rejected.
#[rustfmt::skip]
const S2C_BAD_LENGTHS: &[(u8, usize)] = &[
    (0x03, 63), (0x03, 65), (0x03, 1), (0x05, 22), (0x05, 20), (0x21, 16), (0x29, 20),
    (0x29, 24), (0x2A, 16), (0x10, 3), (0x33, 1), (0x07, 5), (0x07, 509),
];

#[test]
fn c2s_lengths() {
    let cases = C2S_LENGTHS;
    for &(t, len) in cases {
        let mut b = vec![0u8; len];
        b[0] = t;
        if t == 0x03 {
            b[10] = 0x03; // checksum of an all-zero body
        }
        assert!(C2SPacket::decode(&b).is_ok(), "type {t:#04x} len {len}");
        for bad in [len - 1, len + 1] {
            let ok_too = cases.iter().any(|&(t2, l2)| t2 == t && l2 == bad);
            let in_range = (t == 0x1A && bad >= 40) || (t == 0x06 && (6..=500).contains(&bad));
            if bad == 0 || ok_too || in_range || t == 0x14 {
                continue;
            }
            let mut b = vec![0u8; bad];
            b[0] = t;
            assert!(
                matches!(C2SPacket::decode(&b), Err(PacketError::BadLength { .. })),
                "type {t:#04x} len {bad} accepted"
            );
        }
    }
    assert_eq!(C2SPacket::decode(&[]), Err(PacketError::Empty));
    assert_eq!(C2SPacket::decode(&[0, 1]), Err(PacketError::CorePacket));
    assert!(C2SPacket::decode(&[0x06, 2, 0, 0, 0]).is_err());
}

fn sample_player(pid: i16) -> PlayerEntering {
    PlayerEntering {
        ship: ship::WARBIRD,
        accepts_audio: true,
        name: "exactly twenty chars".into(),
        squad: "sq".into(),
        kill_points: 1_000_000,
        flag_points: -5,
        pid,
        freq: 1,
        kills: 60_000,
        deaths: 3,
        attached_to: -1,
        flags_carried: 2,
        misc_bits: PlayerEntering::HAS_CROWN,
    }
}

/// The redirect's address is the numeric value of a.b.c.d, little-endian
/// on the wire (`docs/protocol/game-protocol.md` §23).
#[test]
fn redirect_wire_form() {
    let mut out = Vec::new();
    S2CPacket::Redirect(Redirect::to(
        std::net::Ipv4Addr::new(10, 1, 2, 3),
        5002,
        Some("duel"),
    ))
    .encode(&mut out);
    assert_eq!(out.len(), Redirect::LEN);
    assert_eq!(&out[..9], &[0x3B, 3, 2, 1, 10, 0x8A, 0x13, 0xFD, 0xFF]);
    assert_eq!(&out[9..13], b"duel");
    assert!(out[13..29].iter().all(|&b| b == 0));
    let mut out = Vec::new();
    S2CPacket::Redirect(Redirect::to(std::net::Ipv4Addr::LOCALHOST, 1, None)).encode(&mut out);
    assert_eq!(&out[7..9], &[0xFF, 0xFF]);
    assert!(S2CPacket::decode(&out[..28]).is_err());
}

#[test]
fn redirect_aliases() {
    let table = |name: &str| (name == "elsewhere").then_some("10.0.0.9:5400:pub");
    let r = Redirect::from_alias("elsewhere", table).unwrap();
    assert_eq!(
        (r.ip, r.port, r.arena_type, r.arena_name.as_str()),
        (std::net::Ipv4Addr::new(10, 0, 0, 9), 5400, -3, "pub")
    );
    let r = Redirect::from_alias("127.0.0.1:5000", table).unwrap();
    assert_eq!((r.port, r.arena_type), (5000, -1));
    assert!(Redirect::from_alias("nowhere", table).is_none());
    assert!(Redirect::from_alias("0.1.2.3:5", table).is_none());
    assert!(Redirect::from_alias("1.2.3:5", table).is_none());
    assert!(Redirect::from_alias("1.2.3.4:x", table).is_none());
}

#[test]
fn s2c_round_trips() {
    let mut settings = Box::new([7u8; ARENA_SETTINGS_LEN]);
    settings[0] = 0x0F;
    let all = [
        S2CPacket::WhoAmI { pid: 5 },
        S2CPacket::EnteredArena,
        S2CPacket::PlayerEntering(vec![sample_player(1)]),
        S2CPacket::PlayerEntering(vec![sample_player(1), sample_player(2), sample_player(3)]),
        S2CPacket::PlayerLeaving { pid: 9 },
        S2CPacket::LargePosition(vector_large()),
        S2CPacket::LargePosition(LargePosition {
            extra: ExtraData::None,
            ..vector_large()
        }),
        S2CPacket::Kill(Kill {
            green: 13,
            killer: 1,
            killed: 2,
            points: 300,
            flags: 1,
        }),
        S2CPacket::Chat(Chat {
            chat_type: 0,
            sound: 0,
            pid: -1,
            text: "Welcome €".into(),
        }),
        S2CPacket::Green {
            green: Green {
                time: 5,
                x: 6,
                y: 7,
                prize: -8,
            },
            pid: 4,
        },
        S2CPacket::ScoreUpdate(ScoreUpdate {
            pid: 2,
            kill_points: 10,
            flag_points: 20,
            kills: 3,
            deaths: 4,
        }),
        S2CPacket::LoginResponse(LoginResponse::vie(LoginCode::OK, 0x1234_5678)),
        S2CPacket::LoginResponse(LoginResponse {
            is_vip: true,
            registration_wanted: true,
            ..LoginResponse::vie(LoginCode::ASK_DEMOGRAPHICS, 0)
        }),
        S2CPacket::FreqChange { pid: 3, freq: 8025 },
        S2CPacket::Turret {
            pid: 3,
            attached_to: -1,
        },
        S2CPacket::ArenaSettings(settings),
        S2CPacket::IncomingFile(FileData {
            name: String::new(),
            data: vec![0x78, 0x9c, 1],
        }),
        S2CPacket::Security(SecuritySeeds {
            green_seed: 1,
            door_seed: 2,
            timestamp: 3,
            checksum_key: 0,
        }),
        S2CPacket::ShipReset,
        S2CPacket::SpectateData { extra: true },
        S2CPacket::ShipChange {
            ship: 3,
            pid: 4,
            freq: 5,
        },
        S2CPacket::PrizeReceived {
            count: 2,
            prize: 24,
        },
        S2CPacket::Bricks(vec![]),
        S2CPacket::Bricks(vec![
            Brick {
                x1: 1,
                y1: 2,
                x2: 3,
                y2: 2,
                freq: 0,
                id: 7,
                start_time: 1000,
            },
            Brick {
                x1: 5,
                y1: 5,
                x2: 5,
                y2: 9,
                freq: 1,
                id: 8,
                start_time: 1001,
            },
        ]),
        S2CPacket::KeepAlive,
        S2CPacket::Redirect(Redirect::to(
            std::net::Ipv4Addr::new(10, 1, 2, 3),
            5002,
            Some("duel"),
        )),
        S2CPacket::SmallPosition(SmallPosition {
            pid: 200,
            ..Default::default()
        }),
        S2CPacket::MapInfo(MapInfo::Vie {
            name: "smallmap.lvl".into(),
            checksum: 0x5643_EF8A,
        }),
        S2CPacket::MapInfo(MapInfo::Continuum(vec![
            MapFileEntry {
                name: "a.lvl".into(),
                checksum: 1,
                size: 2,
            },
            MapFileEntry {
                name: "sixteen_chars.lv".into(),
                checksum: 3,
                size: 4,
            },
        ])),
        S2CPacket::MapData(FileData {
            name: "tinymap.lvl".into(),
            data: vec![1, 2, 3],
        }),
        S2CPacket::ArenaList(vec![]),
        S2CPacket::ArenaList(vec![
            ArenaListEntry {
                name: "0".into(),
                players: -3,
            },
            ArenaListEntry {
                name: "#priv".into(),
                players: 12,
            },
        ]),
        S2CPacket::WarpTo { x: 512, y: 512 },
        S2CPacket::LoginText("Your player name contains no valid characters".into()),
        S2CPacket::ContinuumVersion {
            version: LoginResponse::CONTINUUM_VERSION,
            checksum: !0,
        },
        S2CPacket::Other {
            ptype: 0x3C,
            body: vec![0; 28],
        },
    ];
    for p in all {
        s2c_round_trip(p);
    }
}

#[test]
fn tinymap_packet_decodes() {
    let wire = hex(
        "2a 74 69 6e 79 6d 61 70 2e 6c 76 6c 00 00 00 00 00 78 9c 63 60 60 60 04 00 00 05 00 02",
    );
    let S2CPacket::MapData(f) = S2CPacket::decode(&wire).unwrap() else {
        panic!()
    };
    assert_eq!(f.name, "tinymap.lvl");
    assert_eq!(f.data.len(), 12);
    assert_eq!(s2c_bytes(&S2CPacket::MapData(f)), wire);
}

#[test]
fn login_response_layout() {
    let b = s2c_bytes(&S2CPacket::LoginResponse(LoginResponse::vie(
        LoginCode::BAD_NAME,
        9,
    )));
    assert_eq!(b.len(), 36);
    assert_eq!(b[1], 0x0B);
    assert_eq!(&b[2..6], &134u32.to_le_bytes());
    assert_eq!(&b[10..14], &0xF142_9CE8u32.to_le_bytes());
    assert_eq!(&b[20..24], &0x281C_C948u32.to_le_bytes());
    assert_eq!(&b[24..28], &9u32.to_le_bytes());
    assert!(LoginCode::SPECTATE_ONLY.proceeds() && !LoginCode::BAD_NAME.proceeds());
}

#[test]
fn s2c_lengths() {
    let cases = S2C_LENGTHS;
    for &(t, len) in cases {
        let mut b = vec![0u8; len];
        b[0] = t;
        assert!(S2CPacket::decode(&b).is_ok(), "type {t:#04x} len {len}");
        for bad in [len - 1, len + 1] {
            if bad == 0 || cases.iter().any(|&(t2, l2)| t2 == t && l2 == bad) {
                continue;
            }
            let mut b = vec![0u8; bad];
            b[0] = t;
            assert!(
                matches!(S2CPacket::decode(&b), Err(PacketError::BadLength { .. })),
                "type {t:#04x} len {bad} accepted"
            );
        }
    }
    for &(t, len) in S2C_BAD_LENGTHS {
        let mut b = vec![0u8; len];
        b[0] = t;
        assert!(
            S2CPacket::decode(&b).is_err(),
            "type {t:#04x} len {len} accepted"
        );
    }
    // A 0x03 record that does not start with 0x03.
    let mut two = s2c_bytes(&S2CPacket::PlayerEntering(vec![
        sample_player(1),
        sample_player(2),
    ]));
    two[64] = 0x04;
    assert!(matches!(
        S2CPacket::decode(&two),
        Err(PacketError::Malformed { .. })
    ));
    // Truncated arena list entries.
    assert!(S2CPacket::decode(b"\x2fabc").is_err());
    assert!(S2CPacket::decode(b"\x2fabc\0\x01").is_err());
}

// ---- text ----

#[test]
fn text_fields() {
    let mut field = [0xFFu8; 8];
    write_fixed_str("abc", &mut field);
    assert_eq!(field, *b"abc\0\0\0\0\0");
    write_fixed_str("abcdefghijk", &mut field);
    assert_eq!(field, *b"abcdefgh");
    assert_eq!(read_fixed_str(b"abcdefgh"), "abcdefgh");
    assert_eq!(read_fixed_str(b"ab\0cd"), "ab");
    assert_eq!(read_fixed_str(b"\x80\xe9\x81"), "€é\u{81}");
    for b in 0..=255u8 {
        assert_eq!(char_to_byte(byte_to_char(b)), b);
    }
    assert_eq!(char_to_byte('日'), b'?');
}

#[test]
fn chat_control_chars_and_limits() {
    let b = [0x06, 2, 0, 0xFF, 0xFF, b'a', 0x07, 0x7F, 0xFF, b'b'];
    let C2SPacket::Chat(c) = C2SPacket::decode(&b).unwrap() else {
        panic!()
    };
    assert_eq!((c.pid, c.text.as_str()), (-1, "a___b"));
    let long = Chat {
        text: "x".repeat(600),
        ..Default::default()
    };
    let b = c2s_bytes(&C2SPacket::Chat(long.clone()));
    assert_eq!((b.len(), b[499]), (500, 0));
    let b = s2c_bytes(&S2CPacket::Chat(long));
    assert_eq!(b.len(), 508);
}

#[test]
fn login_names() {
    assert_eq!(
        sanitize_login_name("  Bob   the::  Bot"),
        Ok("Bob the Bot".into())
    );
    assert_eq!(sanitize_login_name("Bob "), Ok("Bob ".into()));
    assert_eq!(
        sanitize_login_name("a123456789012345678XYZ"),
        Ok("a123456789012345678".into())
    );
    assert_eq!(sanitize_login_name("\u{1}é:"), Err(BadName::Empty));
    assert_eq!(sanitize_login_name("   "), Err(BadName::Empty));
    assert_eq!(sanitize_login_name("_x"), Err(BadName::BadFirstChar));
    assert_eq!(BadName::Empty.code(false), LoginCode::BAD_NAME);
    assert_eq!(BadName::Empty.code(true), LoginCode::CUSTOM_TEXT);
    assert_eq!(LoginCode::from(BadName::BadFirstChar), LoginCode::BAD_NAME);
}

#[test]
fn login_forms() {
    let vie = c2s_bytes(&C2SPacket::Login(Box::new(Login::new("a", "b", false))));
    assert_eq!((vie.len(), vie[0]), (101, 0x09));
    assert_eq!(&vie[75..77], &134i16.to_le_bytes());
    let cont = c2s_bytes(&C2SPacket::Login(Box::new(sample_login(true))));
    assert_eq!((cont.len(), cont[0]), (165, 0x24));
    assert_eq!(&cont[79..81], &12u16.to_le_bytes());
}

// ---- proptests ----

/// Text of `max` chars drawn from bytes in `lo..=hi` (no NUL).
fn text(max: usize, chat: bool) -> impl Strategy<Value = String> {
    let byte = if chat {
        prop_oneof![32u8..=126, 128u8..=254].boxed()
    } else {
        (1u8..=255).boxed()
    };
    proptest::collection::vec(byte, 0..=max).prop_map(|b| decode_bytes(&b))
}

fn extra_pd() -> impl Strategy<Value = ExtraPositionData> {
    (any::<u16>(), any::<u16>(), any::<u16>(), any::<u32>()).prop_map(
        |(energy, s2c_ping, timer, items)| ExtraPositionData {
            energy,
            s2c_ping,
            timer,
            items,
        },
    )
}

fn extra_data() -> impl Strategy<Value = ExtraData> {
    prop_oneof![
        Just(ExtraData::None),
        any::<u16>().prop_map(ExtraData::Energy),
        extra_pd().prop_map(ExtraData::Full),
    ]
}

fn position() -> impl Strategy<Value = Position> {
    (
        (
            any::<i8>(),
            any::<u32>(),
            any::<i16>(),
            any::<i16>(),
            any::<i16>(),
            any::<i16>(),
        ),
        (
            any::<u8>(),
            any::<u16>(),
            any::<i16>(),
            any::<u16>(),
            proptest::option::of(extra_pd()),
        ),
    )
        .prop_map(
            |((rotation, time, x, y, x_speed, y_speed), (status, bounty, energy, w, extra))| {
                Position {
                    rotation,
                    time,
                    x,
                    y,
                    x_speed,
                    y_speed,
                    status,
                    bounty,
                    energy,
                    weapon: WeaponInfo(w),
                    extra,
                }
            },
        )
}

fn player() -> impl Strategy<Value = PlayerEntering> {
    (
        (
            0u8..=8,
            any::<bool>(),
            text(20, false),
            text(20, false),
            any::<i32>(),
            any::<i32>(),
        ),
        (
            any::<i16>(),
            any::<i16>(),
            any::<u16>(),
            any::<u16>(),
            any::<i16>(),
            any::<i16>(),
        ),
        any::<u8>(),
    )
        .prop_map(
            |((ship, accepts_audio, name, squad, kp, fp), (pid, freq, k, d, att, fl), m)| {
                PlayerEntering {
                    ship,
                    accepts_audio,
                    name,
                    squad,
                    kill_points: kp,
                    flag_points: fp,
                    pid,
                    freq,
                    kills: k,
                    deaths: d,
                    attached_to: att,
                    flags_carried: fl,
                    misc_bits: m,
                }
            },
        )
}

fn chat(max: usize) -> impl Strategy<Value = Chat> {
    (any::<u8>(), any::<u8>(), any::<i16>(), text(max, true)).prop_map(
        |(chat_type, sound, pid, text)| Chat {
            chat_type,
            sound,
            pid,
            text,
        },
    )
}

fn login() -> impl Strategy<Value = Login> {
    (
        (
            any::<u8>(),
            text(32, false),
            text(32, false),
            any::<u32>(),
            any::<u8>(),
            any::<i16>(),
        ),
        (
            any::<u16>(),
            any::<i16>(),
            any::<u16>(),
            any::<u16>(),
            any::<u32>(),
            any::<u32>(),
        ),
        (
            any::<[u8; 12]>(),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 64)),
        ),
    )
        .prop_map(
            |((flags, name, password, mid, ct, tz), (u73, cv, u77, cf, f555, perm), (res, cid))| {
                Login {
                    flags,
                    name,
                    password,
                    machine_id: mid,
                    connection_type: ct,
                    timezone_bias: tz,
                    unknown73: u73,
                    client_version: cv,
                    unknown77: u77,
                    client_features: cf,
                    field555: f555,
                    permission_id: perm,
                    reserved: res,
                    continuum_id: cid.map(|v| v.try_into().unwrap()),
                }
            },
        )
}

fn go_arena() -> impl Strategy<Value = GoArena> {
    (
        (
            any::<u8>(),
            any::<bool>(),
            any::<bool>(),
            any::<i16>(),
            any::<i16>(),
            any::<i16>(),
        ),
        (text(16, false), proptest::option::of(any::<bool>())),
    )
        .prop_map(|((ship, of, aa, xr, yr, at), (name, og))| GoArena {
            ship,
            obscenity_filter: of,
            allow_audio: aa,
            x_res: xr,
            y_res: yr,
            arena_type: at,
            arena_name: name,
            optional_graphics: og,
        })
}

fn ball_packet() -> impl Strategy<Value = BallPacket> {
    (any::<u8>(), any::<[i16; 5]>(), any::<u32>()).prop_map(|(ball, v, time)| BallPacket {
        ball,
        x: v[0],
        y: v[1],
        x_speed: v[2],
        y_speed: v[3],
        carrier: v[4],
        time,
    })
}

fn c2s_packet() -> impl Strategy<Value = C2SPacket> {
    prop_oneof![
        go_arena().prop_map(C2SPacket::GoArena),
        position().prop_map(C2SPacket::Position),
        (any::<i16>(), any::<i16>())
            .prop_map(|(killer, bounty)| C2SPacket::Death { killer, bounty }),
        chat(494).prop_map(C2SPacket::Chat),
        (any::<u32>(), any::<i16>(), any::<i16>(), any::<i16>())
            .prop_map(|(time, x, y, prize)| C2SPacket::Green(Green { time, x, y, prize })),
        login().prop_map(|l| C2SPacket::Login(Box::new(l))),
        proptest::option::of(any::<u16>())
            .prop_map(|file_index| C2SPacket::MapRequest { file_index }),
        any::<i16>().prop_map(|freq| C2SPacket::SetFreq { freq }),
        (
            any::<[u8; 39]>(),
            proptest::collection::vec(any::<u8>(), 0..10)
        )
            .prop_map(|(b, tail)| {
                let mut raw = vec![0x1A];
                raw.extend_from_slice(&b);
                raw.extend_from_slice(&tail);
                C2SPacket::decode(&raw).unwrap()
            }),
        (any::<i16>(), any::<i16>()).prop_map(|(x, y)| C2SPacket::DropBrick { x, y }),
        ball_packet().prop_map(C2SPacket::ShootBall),
        (any::<u8>(), any::<u32>()).prop_map(|(ball, time)| C2SPacket::PickupBall { ball, time }),
        (any::<u8>(), any::<i16>(), any::<i16>()).prop_map(|(ball, x, y)| C2SPacket::Goal {
            ball,
            x,
            y
        }),
        (0x40u8..=0xFF, proptest::collection::vec(any::<u8>(), 0..50))
            .prop_map(|(ptype, body)| C2SPacket::Other { ptype, body }),
    ]
}

fn s2c_packet() -> impl Strategy<Value = S2CPacket> {
    let large =
        (position(), any::<u16>(), any::<u8>(), extra_data()).prop_map(|(p, pid, lat, extra)| {
            LargePosition {
                rotation: p.rotation,
                time: p.time as u16,
                x: p.x,
                y: p.y,
                x_speed: p.x_speed,
                y_speed: p.y_speed,
                pid,
                status: p.status,
                latency: lat,
                bounty: p.bounty,
                weapon: p.weapon,
                extra,
            }
        });
    let small =
        (position(), any::<u8>(), any::<u8>(), extra_data()).prop_map(|(p, pid, lat, extra)| {
            SmallPosition {
                rotation: p.rotation,
                time: p.time as u16,
                x: p.x,
                y: p.y,
                x_speed: p.x_speed,
                y_speed: p.y_speed,
                pid,
                status: p.status,
                latency: lat,
                bounty: p.bounty as u8,
                extra,
            }
        });
    let brick =
        (any::<[i16; 5]>(), any::<u16>(), any::<u32>()).prop_map(|(c, id, start_time)| Brick {
            x1: c[0],
            y1: c[1],
            x2: c[2],
            y2: c[3],
            freq: c[4],
            id,
            start_time,
        });
    let entry = (text(16, false), any::<u32>(), any::<u32>()).prop_map(|(name, checksum, size)| {
        MapFileEntry {
            name,
            checksum,
            size,
        }
    });
    let arena = (text(20, false), any::<i16>())
        .prop_map(|(name, players)| ArenaListEntry { name, players });
    let resp = (
        any::<u8>(),
        any::<u32>(),
        any::<bool>(),
        any::<[u32; 3]>(),
        any::<bool>(),
    )
        .prop_map(|(code, v, vip, c, reg)| LoginResponse {
            code: LoginCode(code),
            server_version: v,
            is_vip: vip,
            exe_checksum: c[0],
            registration_wanted: reg,
            code_checksum: c[1],
            news_checksum: c[2],
        });
    prop_oneof![
        proptest::collection::vec(player(), 1..4).prop_map(S2CPacket::PlayerEntering),
        large.prop_map(S2CPacket::LargePosition),
        small.prop_map(S2CPacket::SmallPosition),
        chat(502).prop_map(S2CPacket::Chat),
        resp.prop_map(S2CPacket::LoginResponse),
        proptest::collection::vec(brick, 0..4).prop_map(S2CPacket::Bricks),
        (text(16, false), any::<u32>())
            .prop_map(|(name, checksum)| S2CPacket::MapInfo(MapInfo::Vie { name, checksum })),
        proptest::collection::vec(entry, 0..18)
            .prop_map(|e| S2CPacket::MapInfo(MapInfo::Continuum(e))),
        (
            text(16, false),
            proptest::collection::vec(any::<u8>(), 0..100)
        )
            .prop_map(|(name, data)| S2CPacket::MapData(FileData { name, data })),
        proptest::collection::vec(arena, 0..10).prop_map(S2CPacket::ArenaList),
        text(254, false).prop_map(S2CPacket::LoginText),
        (any::<i16>(), any::<i16>()).prop_map(|(pid, freq)| S2CPacket::FreqChange { pid, freq }),
        ball_packet().prop_map(S2CPacket::Ball),
        (any::<i16>(), any::<i32>())
            .prop_map(|(freq, points)| S2CPacket::SoccerGoal { freq, points }),
        (0x40u8..=0xFF, proptest::collection::vec(any::<u8>(), 0..50))
            .prop_map(|(ptype, body)| S2CPacket::Other { ptype, body }),
    ]
}

/// Types and lengths the decoders accept (C2S and S2C mixed), so random
/// bodies reach the field parsers, not just the length checks.
#[rustfmt::skip]
const VALID_SHAPES: &[(u8, usize)] = &[
    (0x01, 3), (0x01, 26), (0x01, 27), (0x03, 22), (0x03, 32), (0x03, 64), (0x03, 128),
    (0x05, 5), (0x05, 21), (0x05, 23), (0x05, 31), (0x06, 10), (0x06, 40), (0x07, 11),
    (0x07, 40), (0x08, 3), (0x08, 13), (0x09, 101), (0x09, 15), (0x24, 165), (0x0A, 36),
    (0x0C, 3), (0x0F, 1428), (0x10, 3), (0x10, 30), (0x18, 17), (0x1A, 46), (0x1D, 6),
    (0x21, 33), (0x28, 18), (0x28, 26), (0x29, 21), (0x29, 49), (0x2A, 40), (0x2F, 20),
    (0x33, 10), (0x02, 1), (0x04, 3), (0x0D, 6), (0x0E, 5), (0x1C, 2), (0x20, 5), (0x32, 5),
    (0x34, 7), (0x1B, 1), (0x27, 1), (0x0D, 1), (0x18, 2), (0x14, 1), (0x0C, 1), (0x0F, 3),
    (0x21, 1), (0x1C, 5), (0x1F, 16), (0x20, 6), (0x21, 6), (0x2E, 16), (0x0B, 7),
];

/// Bytes that look like game packets often enough to reach the decoders.
fn packet_bytes() -> impl Strategy<Value = Vec<u8>> {
    let shaped =
        (proptest::sample::select(VALID_SHAPES), any::<u64>()).prop_map(|((t, len), seed)| {
            // Cheap deterministic filler; mostly small bytes so NULs and
            // printable text both occur.
            let mut x = seed | 1;
            let mut v: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    if x % 4 == 0 {
                        0
                    } else {
                        x as u8
                    }
                })
                .collect();
            v[0] = t;
            if matches!(t, 0x03 | 0x05) {
                // Fix position checksums half of the time.
                let (n, at) = if t == 0x03 { (22, 10) } else { (21, 12) };
                if len >= n && seed % 2 == 0 {
                    v[at] = 0;
                    v[at] = v[..n].iter().fold(0, |a, b| a ^ b);
                }
            }
            v
        });
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..600),
        (0u8..0x40, proptest::collection::vec(any::<u8>(), 0..200)).prop_map(|(t, mut v)| {
            v.insert(0, t);
            v
        }),
        shaped,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn c2s_decode_never_panics_and_is_stable(b in packet_bytes()) {
        if let Ok(p) = C2SPacket::decode(&b) {
            let again = c2s_bytes(&p);
            prop_assert_eq!(C2SPacket::decode(&again), Ok(p));
        }
    }

    #[test]
    fn s2c_decode_never_panics_and_is_stable(b in packet_bytes()) {
        if let Ok(p) = S2CPacket::decode(&b) {
            let again = s2c_bytes(&p);
            prop_assert_eq!(S2CPacket::decode(&again), Ok(p));
        }
    }

}

proptest! {
    #[test]
    fn c2s_valid_round_trip(p in c2s_packet()) {
        let b = c2s_bytes(&p);
        prop_assert_eq!(C2SPacket::decode(&b), Ok(p));
    }

    #[test]
    fn s2c_valid_round_trip(p in s2c_packet()) {
        let b = s2c_bytes(&p);
        prop_assert_eq!(S2CPacket::decode(&b), Ok(p));
    }

    #[test]
    fn position_checksum_always_valid(p in position()) {
        let mut buf = [0u8; Position::MAX_LEN];
        let n = p.encode_into(&mut buf);
        prop_assert_eq!(buf[..22].iter().fold(0, |a, b| a ^ b), 0);
        prop_assert_eq!(Position::decode(&buf[..n]), Ok(p));
    }

    #[test]
    fn relayed_positions_decode(p in position(), pid in any::<u16>(), t in any::<u32>(),
                                lat in any::<u8>(), which in 0..3u8) {
        let extra_len = [ExtraLen::None, ExtraLen::Energy, ExtraLen::Full][usize::from(which)];
        let mut buf = [0u8; MAX_RELAY_LEN];
        let n = relay_position(&p, pid, t, lat, extra_len, &mut buf);
        match S2CPacket::decode(&buf[..n]).unwrap() {
            S2CPacket::LargePosition(l) => {
                prop_assert!(p.weapon.is_fired() || p.bounty > 255 || pid > 255);
                prop_assert_eq!((l.x, l.y, l.pid, l.weapon, l.time), (p.x, p.y, pid, p.weapon, t as u16));
            }
            S2CPacket::SmallPosition(s) => {
                prop_assert!(!p.weapon.is_fired() && p.bounty <= 255 && pid <= 255);
                prop_assert_eq!((s.x, s.y, u16::from(s.pid), s.latency), (p.x, p.y, pid, lat));
            }
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn sanitized_names_are_valid(raw in "\\PC{0,40}") {
        if let Ok(name) = sanitize_login_name(&raw) {
            prop_assert!(!name.is_empty() && name.chars().count() <= 19);
            prop_assert!(name.chars().all(|c| (' '..='~').contains(&c) && c != ':'));
            prop_assert!(!name.contains("  "));
            prop_assert!(name.starts_with(|c: char| c.is_ascii_alphanumeric()));
        }
    }
}

// ---- packets the zone handles itself ----

/// A packet of type `t` and length `len`, body bytes 0x41.
fn sized(t: u8, len: usize) -> Vec<u8> {
    let mut v = vec![0x41; len];
    v[0] = t;
    v
}

fn zone(b: &[u8], client: ClientKind) -> Result<Option<ZonePacket>, PacketError> {
    ZonePacket::decode(b, client)
}

fn bad_len(ptype: u8, len: usize) -> Result<Option<ZonePacket>, PacketError> {
    Err(PacketError::BadLength { ptype, len })
}

const BOTH: [ClientKind; 2] = [ClientKind::Vie, ClientKind::Continuum];

#[test]
fn zone_news_request_is_exactly_one_byte() {
    for c in BOTH {
        assert_eq!(zone(&[0x0D], c), Ok(Some(ZonePacket::NewsRequest)));
        assert_eq!(zone(&[0x0D, 0], c), bad_len(0x0D, 2));
        assert_eq!(zone(&sized(0x0D, 500), c), bad_len(0x0D, 500));
    }
    let mut out = Vec::new();
    ZonePacket::NewsRequest.encode(&mut out);
    assert_eq!(out, [0x0D]);
}

#[test]
fn zone_update_request_is_exactly_one_byte() {
    for c in BOTH {
        assert!(ZonePacket::handles(0x0B));
        assert_eq!(zone(&[0x0B], c), Ok(Some(ZonePacket::UpdateRequest)));
        assert_eq!(zone(&[0x0B, 0], c), bad_len(0x0B, 2));
        assert_eq!(zone(&sized(0x0B, 40), c), bad_len(0x0B, 40));
    }
    let mut out = Vec::new();
    ZonePacket::UpdateRequest.encode(&mut out);
    assert_eq!(out, [0x0B]);
    assert_eq!(ZonePacket::UpdateRequest.packet_type(), 0x0B);
}

#[test]
fn news_travels_as_an_incoming_file_with_an_empty_name() {
    let text = b"Welcome to the zone.\r\n";
    let pkt = crate::map::incoming_file_packet("", text).expect("packet");
    assert_eq!(pkt[0], 0x10);
    assert_eq!(&pkt[1..17], &[0u8; 16]);
    match S2CPacket::decode(&pkt) {
        Ok(S2CPacket::IncomingFile(f)) => {
            assert_eq!(f.name, "");
            let back = crate::map::decompress_download(&f.data, 1000).expect("zlib");
            assert_eq!(back, text);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn zone_leave_arena_is_exactly_one_byte() {
    for c in BOTH {
        assert_eq!(zone(&[0x02], c), Ok(Some(ZonePacket::LeaveArena)));
        assert_eq!(zone(&[0x02, 0], c), bad_len(0x02, 2));
        assert_eq!(zone(&sized(0x02, 30), c), bad_len(0x02, 30));
    }
}

#[test]
fn zone_go_arena_takes_either_length_from_either_client() {
    let go = GoArena {
        ship: ship::SPECTATOR,
        x_res: 1024,
        y_res: 768,
        arena_type: GoArena::NAMED,
        arena_name: "duel".into(),
        ..GoArena::default()
    };
    let vie = c2s_bytes(&C2SPacket::GoArena(go.clone()));
    let cont_go = GoArena {
        optional_graphics: Some(true),
        ..go.clone()
    };
    let cont = c2s_bytes(&C2SPacket::GoArena(cont_go.clone()));
    assert_eq!((vie.len(), cont.len()), (26, 27));
    for c in BOTH {
        assert_eq!(zone(&vie, c), Ok(Some(ZonePacket::GoArena(go.clone()))));
        assert_eq!(
            zone(&cont, c),
            Ok(Some(ZonePacket::GoArena(cont_go.clone())))
        );
        assert_eq!(zone(&vie[..25], c), bad_len(0x01, 25));
        let mut long = cont.clone();
        long.push(0);
        assert_eq!(zone(&long, c), bad_len(0x01, 28));
        assert_eq!(zone(&[0x01], c), bad_len(0x01, 1));
    }
}

#[test]
fn zone_login_length_follows_the_client_kind() {
    for (continuum, kind, other) in [
        (false, ClientKind::Vie, ClientKind::Continuum),
        (true, ClientKind::Continuum, ClientKind::Vie),
    ] {
        let login = sample_login(continuum);
        let bytes = c2s_bytes(&C2SPacket::Login(Box::new(login.clone())));
        assert_eq!(bytes.len(), kind.login_len());
        assert_eq!(ClientKind::from_continuum(continuum), kind);
        let got = zone(&bytes, kind).unwrap().unwrap();
        assert_eq!(got, ZonePacket::Login(Box::new(login.clone())));
        // Either type byte: ASSS checks the length by client kind only.
        for t in [0x09, 0x24] {
            let mut b = bytes.clone();
            b[0] = t;
            assert!(matches!(zone(&b, kind), Ok(Some(ZonePacket::Login(_)))));
            assert_eq!(zone(&b, other), bad_len(t, bytes.len()));
            let mut long = b.clone();
            long.push(0);
            assert_eq!(zone(&long, kind), bad_len(t, bytes.len() + 1));
            assert_eq!(zone(&b[..b.len() - 1], kind), bad_len(t, bytes.len() - 1));
        }
    }
}

#[test]
fn zone_registration_is_one_to_766_bytes() {
    for c in BOTH {
        assert_eq!(
            zone(&[0x17], c),
            Ok(Some(ZonePacket::Registration(Vec::new())))
        );
        let full = sized(0x17, 766);
        assert_eq!(
            zone(&full, c),
            Ok(Some(ZonePacket::Registration(vec![0x41; 765])))
        );
        assert_eq!(zone(&sized(0x17, 767), c), bad_len(0x17, 767));
    }
    assert_eq!(ZonePacket::MAX_REGISTRATION_LEN, 766);
}

#[test]
fn zone_banner_is_exactly_97_bytes() {
    let mut b = sized(0x19, 97);
    b[1] = 7;
    b[96] = 9;
    for c in BOTH {
        match zone(&b, c) {
            Ok(Some(ZonePacket::Banner(bitmap))) => {
                assert_eq!(bitmap[..], b[1..]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(zone(&b[..96], c), bad_len(0x19, 96));
        assert_eq!(zone(&sized(0x19, 98), c), bad_len(0x19, 98));
        assert_eq!(zone(&[0x19], c), bad_len(0x19, 1));
    }
}

#[test]
fn zone_leaves_other_types_to_the_arena() {
    for t in 1..=255u8 {
        let b = sized(t, 5);
        let handled = ZonePacket::handles(t);
        assert_eq!(
            handled,
            [0x01, 0x02, 0x09, 0x0B, 0x0D, 0x17, 0x19, 0x24].contains(&t),
            "{t:#04x}"
        );
        if !handled {
            assert_eq!(zone(&b, ClientKind::Vie), Ok(None), "{t:#04x}");
        }
    }
    assert_eq!(zone(&[], ClientKind::Vie), Err(PacketError::Empty));
    assert_eq!(zone(&[0, 1], ClientKind::Vie), Err(PacketError::CorePacket));
}

#[test]
fn zone_packets_encode_what_they_decode() {
    let packets = [
        ZonePacket::LeaveArena,
        ZonePacket::UpdateRequest,
        ZonePacket::Registration(vec![1, 2, 3]),
        ZonePacket::Banner(Box::new([5; 96])),
        ZonePacket::GoArena(GoArena::default()),
        ZonePacket::Login(Box::new(sample_login(true))),
        ZonePacket::Login(Box::new(sample_login(false))),
    ];
    for p in packets {
        let mut b = Vec::new();
        p.encode(&mut b);
        assert_eq!(b[0], p.packet_type());
        let kind = ClientKind::from_continuum(b.len() == Login::CONTINUUM_LEN);
        assert_eq!(zone(&b, kind), Ok(Some(p)));
    }
}

#[test]
fn supervisor_s2c_helpers_match_the_wire_forms() {
    assert_eq!(s2c_bytes(&S2CPacket::who_am_i(0x0102)), [0x01, 0x02, 0x01]);
    assert_eq!(s2c_bytes(&S2CPacket::who_am_i(3)), [0x01u8, 3, 0]);
    assert_eq!(
        s2c_bytes(&S2CPacket::arena_message("hi")),
        [0x07, 0, 0, 0xFF, 0xFF, b'h', b'i', 0]
    );
    assert_eq!(
        s2c_bytes(&S2CPacket::remote_private("Bob", "yo")),
        b"\x07\x07\x00\xFF\xFF(Bob)>yo\0"
    );
    for (reason, why) in [
        (DisconnectReason::NoData, "no data"),
        (
            DisconnectReason::TooManyRetries,
            "too many reliable retries",
        ),
        (
            DisconnectReason::TooManyOutgoing,
            "too many outgoing packets",
        ),
    ] {
        let mut expected = vec![0x07, 0x08, 0x00, 0x00, 0x00];
        expected.extend_from_slice(
            format!("You have been disconnected because of lag ({why}).").as_bytes(),
        );
        expected.push(0);
        let pkt = S2CPacket::lagged_out(reason).unwrap();
        assert_eq!(s2c_bytes(&pkt), expected);
    }
    assert_eq!(S2CPacket::lagged_out(DisconnectReason::Peer), None);
    assert_eq!(S2CPacket::lagged_out(DisconnectReason::Local), None);
}

/// Packets of the zone's types around the lengths that matter.
fn zone_packet_bytes() -> impl Strategy<Value = Vec<u8>> {
    let t = prop_oneof![
        Just(0x01u8),
        Just(0x02),
        Just(0x09),
        Just(0x17),
        Just(0x19),
        Just(0x24),
        any::<u8>()
    ];
    let len = prop_oneof![
        0usize..4,
        24usize..30,
        95usize..100,
        99usize..104,
        163usize..168,
        764usize..770,
        0usize..900
    ];
    prop_oneof![
        (t, len, any::<u8>()).prop_map(|(t, len, fill)| {
            let mut v = vec![fill; len];
            if let Some(first) = v.first_mut() {
                *first = t;
            }
            v
        }),
        packet_bytes(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn zone_decode_never_panics_and_is_stable(b in zone_packet_bytes(), continuum in any::<bool>()) {
        let kind = ClientKind::from_continuum(continuum);
        match ZonePacket::decode(&b, kind) {
            Ok(Some(p)) => {
                let mut again = Vec::new();
                p.encode(&mut again);
                prop_assert_eq!(again.len(), b.len());
                prop_assert_eq!(ZonePacket::decode(&again, kind), Ok(Some(p)));
            }
            Ok(None) => prop_assert!(!ZonePacket::handles(b[0])),
            Err(_) => prop_assert!(b.first().is_none_or(|&t| t == 0 || ZonePacket::handles(t))),
        }
    }
}

#[test]
fn flag_packets_round_trip_with_their_wire_lengths() {
    let cases: Vec<(S2CPacket, usize)> = vec![
        (
            S2CPacket::FlagLocation {
                fid: 3,
                x: 500,
                y: 510,
                freq: -1,
            },
            9,
        ),
        (S2CPacket::FlagPickup { fid: 3, pid: 7 }, 5),
        (
            S2CPacket::FlagVictory {
                freq: 1,
                points: 70_000,
            },
            7,
        ),
        (S2CPacket::FlagDrop { pid: 7 }, 3),
        (S2CPacket::TurfFlags(vec![-1, 0, 1]), 7),
        (S2CPacket::TurfFlags(vec![]), 1),
        (S2CPacket::PeriodicReward(vec![(0, 100), (1, 0)]), 9),
    ];
    for (pkt, len) in cases {
        let mut buf = Vec::new();
        pkt.encode(&mut buf);
        assert_eq!(buf.len(), len, "{pkt:?}");
        assert_eq!(S2CPacket::decode(&buf).unwrap(), pkt);
    }
    // A turf packet with half a record and a short victory are refused.
    assert!(S2CPacket::decode(&[0x22, 1, 0, 2]).is_err());
    assert!(S2CPacket::decode(&[0x14, 1, 0, 2]).is_err());
    for pkt in [C2SPacket::TouchFlag { fid: 4 }, C2SPacket::DropFlags] {
        let mut buf = Vec::new();
        pkt.encode(&mut buf);
        assert_eq!(C2SPacket::decode(&buf).unwrap(), pkt);
    }
    assert!(C2SPacket::decode(&[0x13, 1]).is_err());
    assert!(C2SPacket::decode(&[0x15, 1]).is_err());
}

#[test]
fn object_toggles_wire_layout_and_round_trip() {
    let pkt = S2CPacket::ToggleObjects(vec![
        ObjectToggle { id: 5, on: true },
        ObjectToggle {
            id: 0x1234,
            on: false,
        },
    ]);
    let mut buf = Vec::new();
    pkt.encode(&mut buf);
    // Id in the low 15 bits, little-endian; top bit set = off.
    assert_eq!(buf, [0x35, 0x05, 0x00, 0x34, 0x92]);
    assert_eq!(S2CPacket::decode(&buf).unwrap(), pkt);
    // Empty and half records are refused.
    assert!(S2CPacket::decode(&[0x35]).is_err());
    assert!(S2CPacket::decode(&[0x35, 1, 0, 2]).is_err());
}

#[test]
fn object_changes_wire_layout_and_round_trip() {
    let map = ObjectChange {
        changes: objects::change::XY | objects::change::MODE,
        data: ObjectData {
            map_obj: true,
            id: 7,
            x: -2,
            y: 300,
            rel_x: 0,
            rel_y: 0,
            image: 3,
            layer: 4,
            time: 100,
            mode: 5,
        },
    };
    let screen = ObjectChange {
        changes: objects::change::IMAGE,
        data: ObjectData {
            map_obj: false,
            id: 0x7FFF,
            x: -5,
            y: 2047,
            rel_x: 1,
            rel_y: 11,
            image: 9,
            layer: 7,
            time: 0x0FFF,
            mode: 0,
        },
    };
    let pkt = S2CPacket::MoveObjects(vec![map, screen]);
    let mut buf = Vec::new();
    pkt.encode(&mut buf);
    assert_eq!(buf.len(), 1 + 2 * ObjectChange::LEN);
    assert_eq!(
        &buf[..12],
        &[0x36, 0x11, 0x0F, 0x00, 0xFE, 0xFF, 0x2C, 0x01, 3, 4, 0x64, 0x50]
    );
    // Screen object: mapobj bit clear, id 0x7FFF, x = -5 in 12 bits with
    // offset C (1), y = 2047 with offset V (11).
    assert_eq!(
        &buf[12..],
        &[0x02, 0xFE, 0xFF, 0xB1, 0xFF, 0xFB, 0x7F, 9, 7, 0xFF, 0x0F]
    );
    assert_eq!(S2CPacket::decode(&buf).unwrap(), pkt);
    assert!(S2CPacket::decode(&[0x36]).is_err());
    assert!(S2CPacket::decode(&buf[..buf.len() - 1]).is_err());
}

#[test]
fn ball_and_brick_packets_have_their_wire_layouts() {
    // S2C 0x2E: ball 2 at (8200, 8216), speed (-30, 40), carried by pid 5,
    // fired at tick 0x01020304 (game-protocol.md §15.1).
    let ball = BallPacket {
        ball: 2,
        x: 8200,
        y: 8216,
        x_speed: -30,
        y_speed: 40,
        carrier: 5,
        time: 0x0102_0304,
    };
    let wire = hex("2e 02 08 20 18 20 e2 ff 28 00 05 00 04 03 02 01");
    assert_eq!(s2c_bytes(&S2CPacket::Ball(ball)), wire);
    assert_eq!(S2CPacket::decode(&wire), Ok(S2CPacket::Ball(ball)));
    // C2S 0x1F carries the same record.
    let mut fire = wire.clone();
    fire[0] = 0x1F;
    assert_eq!(C2SPacket::decode(&fire), Ok(C2SPacket::ShootBall(ball)));
    assert_eq!(c2s_bytes(&C2SPacket::ShootBall(ball)), fire);
    // C2S 0x20 pickup, 0x21 goal, 0x1C brick; S2C 0x0B goal.
    let cases: Vec<(C2SPacket, Vec<u8>)> = vec![
        (
            C2SPacket::PickupBall {
                ball: 1,
                time: 0x0A0B_0C0D,
            },
            hex("20 01 0d 0c 0b 0a"),
        ),
        (
            C2SPacket::Goal {
                ball: 0,
                x: 500,
                y: -1,
            },
            hex("21 00 f4 01 ff ff"),
        ),
        (C2SPacket::DropBrick { x: 512, y: 3 }, hex("1c 00 02 03 00")),
    ];
    for (pkt, wire) in cases {
        assert_eq!(c2s_bytes(&pkt), wire, "{pkt:?}");
        assert_eq!(C2SPacket::decode(&wire), Ok(pkt));
    }
    let goal = S2CPacket::SoccerGoal {
        freq: 1,
        points: 300,
    };
    assert_eq!(s2c_bytes(&goal), hex("0b 01 00 2c 01 00 00"));
    assert_eq!(S2CPacket::decode(&hex("0b 01 00 2c 01 00 00")), Ok(goal));
    // Any other length is refused.
    for (t, len) in [
        (0x1F, 15),
        (0x1F, 17),
        (0x20, 5),
        (0x21, 7),
        (0x1C, 4),
        (0x1C, 6),
    ] {
        assert!(C2SPacket::decode(&sized(t, len)).is_err(), "{t:#x} {len}");
    }
    for (t, len) in [(0x2E, 15), (0x2E, 17), (0x0B, 6), (0x0B, 8)] {
        assert!(S2CPacket::decode(&sized(t, len)).is_err(), "{t:#x} {len}");
    }
}
