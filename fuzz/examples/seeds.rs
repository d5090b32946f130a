//! Writes a small seed corpus for every fuzz target into `corpus/<target>/`
//! (`cargo run --example seeds`; `scripts/fuzz.sh` runs it first). Seeds are
//! valid inputs built with the project's own encoders, so the fuzzers start
//! from the interesting shapes instead of rediscovering them.

use std::fs;
use std::path::Path;

use conf::{default_zone, ConfigFile, EmbeddedSource};
use ipc_proto::{encode, Delivery, FromRealm, Target, ToRealm, PROTOCOL_VERSION};
use ss_proto::game::{
    C2SPacket, Chat, GoArena, Login, LoginCode, LoginResponse, Position, S2CPacket,
};
use ss_proto::map::{compress_for_download, default_map, generate, GenParams, EMERGENCY_MAP};

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new("corpus").join(target);
    fs::create_dir_all(&dir).expect("create corpus folder");
    fs::write(dir.join(format!("seed-{name}")), bytes).expect("write seed");
}

fn c2s(p: &C2SPacket) -> Vec<u8> {
    let mut v = Vec::new();
    p.encode(&mut v);
    v
}

/// Transport input: a datagram command (see the target's layout).
fn dgram(out: &mut Vec<u8>, d: &[u8]) {
    out.push(0);
    if d.len() >= 255 {
        out.push(255);
        let rest = d.len() - 255;
        out.push(rest.min(255) as u8);
        out.push((rest.saturating_sub(255)) as u8);
    } else {
        out.push(d.len() as u8);
    }
    out.extend_from_slice(d);
}

fn reliable(seq: i32, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x00, 0x03];
    v.extend_from_slice(&seq.to_le_bytes());
    v.extend_from_slice(payload);
    v
}

fn main() {
    let pos = Position {
        x: 8000,
        y: 8000,
        bounty: 300,
        ..Position::default()
    };
    let chat = C2SPacket::Chat(Chat {
        chat_type: 2,
        sound: 0,
        pid: -1,
        text: "hello there".into(),
    });
    let c2s_seeds = [
        c2s(&C2SPacket::Login(Box::new(Login::new(
            "fuzzer", "pw", false,
        )))),
        c2s(&C2SPacket::Login(Box::new(Login::new(
            "fuzzer", "pw", true,
        )))),
        c2s(&C2SPacket::Position(pos)),
        c2s(&chat),
        c2s(&C2SPacket::GoArena(GoArena::default())),
        c2s(&C2SPacket::SetShip { ship: 3 }),
        c2s(&C2SPacket::SetFreq { freq: 2 }),
        c2s(&C2SPacket::MapRequest { file_index: None }),
    ];
    for (i, s) in c2s_seeds.iter().enumerate() {
        write("game_c2s", &i.to_string(), s);
    }

    let s2c_seeds = [
        S2CPacket::WhoAmI { pid: 3 },
        S2CPacket::EnteredArena,
        S2CPacket::PlayerLeaving { pid: 4 },
        S2CPacket::FreqChange { pid: 1, freq: 2 },
        S2CPacket::LoginResponse(LoginResponse::vie(LoginCode(0), 0x1234)),
        S2CPacket::Chat(Chat {
            chat_type: 0,
            sound: 0,
            pid: 2,
            text: "hi".into(),
        }),
    ];
    for (i, p) in s2c_seeds.iter().enumerate() {
        let mut v = Vec::new();
        p.encode(&mut v);
        write("game_s2c", &i.to_string(), &v);
    }

    let mut p = Vec::new();
    pos.encode(&mut p);
    let mut seed = vec![1u8];
    seed.extend_from_slice(&p);
    write("game_position", "0", &seed);

    let zone = default_zone();
    let arena = ConfigFile::load(&zone, Some("(default)"), "arena.conf").expect("default arena");
    let settings = ss_proto::settings::ArenaSettings::build(&arena);
    write("settings", "0", settings.as_bytes());

    write("map_lvl", "default", &default_map());
    let small = generate(&GenParams {
        seed: 7,
        ..GenParams::default()
    });
    write("map_lvl", "generated", &small.encode());
    write("map_lvl", "emergency", &EMERGENCY_MAP);
    write(
        "map_download",
        "emergency",
        &compress_for_download(&EMERGENCY_MAP),
    );
    write(
        "map_download",
        "small",
        &compress_for_download(&small.encode()[..4000.min(small.encode().len())]),
    );

    for (path, data) in zone.files() {
        if path.ends_with(".conf") {
            let mut v = data.to_vec();
            v.truncate(6000);
            write("conf_parse", &path.replace('/', "_"), &v);
        }
    }
    write(
        "conf_parse",
        "include",
        b"[General]\nA=1\n#include x.conf\n#ifdef X\nB=2\n#else\nB=3\n#endif\n\xFF[Other]\nC = 4 \\\n  5\n#define X 1\n",
    );
    let _ = EmbeddedSource::new();

    let mut frames = vec![3u8];
    let list = [1u8, 0, 2, 0];
    // (No PlayerEnter seed: `PlayerInfo` grows often; the fuzzer finds it.)
    encode(&ToRealm::PlayerPacket { pid: 1, bytes: &p }, &mut frames).expect("encode");
    encode(&ToRealm::Heartbeat { seq: 9 }, &mut frames).expect("encode");
    encode(
        &FromRealm::Hello {
            version: PROTOCOL_VERSION,
            realm: "0".into(),
        },
        &mut frames,
    )
    .expect("encode");
    encode(
        &FromRealm::Send {
            to: Target::Players(&list),
            delivery: Delivery::Reliable,
            bytes: &p,
        },
        &mut frames,
    )
    .expect("encode");
    write("ipc_frames", "0", &frames);

    // Transport: plain link; reliable chat, ack, time sync, cluster, big
    // packet, sized stream, cancel, disconnect.
    let mut t = vec![0u8];
    dgram(&mut t, &reliable(0, &c2s(&chat)));
    dgram(&mut t, &[0x00, 0x04, 0, 0, 0, 0]);
    dgram(&mut t, &[0x00, 0x05, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]);
    let mut cluster = vec![0x00, 0x0E, p.len() as u8];
    cluster.extend_from_slice(&p);
    let rel = reliable(1, &[0x18, 0x02]);
    cluster.push(rel.len() as u8);
    cluster.extend_from_slice(&rel);
    dgram(&mut t, &cluster);
    let mut big = vec![0x00, 0x08, 0x06, 0x02, 0x00, 0xFF, 0xFF];
    big.extend_from_slice(&[b'a'; 300]);
    dgram(&mut t, &big);
    let mut big_end = vec![0x00, 0x09];
    big_end.extend_from_slice(&[b'b'; 100]);
    big_end.push(0);
    dgram(&mut t, &big_end);
    let mut sized = vec![0x00, 0x0A, 0x20, 0x03, 0, 0, 0x2A];
    sized.extend_from_slice(&[1; 400]);
    dgram(&mut t, &sized);
    t.extend_from_slice(&[7, 20, 9, 0x00, 0x10, 6, 10]);
    dgram(&mut t, &[0x00, 0x0B]);
    dgram(&mut t, &[0x00, 0x0C]);
    dgram(&mut t, &[0x00, 0x07]);
    write("transport_server", "plain", &t);
    let mut enc = t.clone();
    enc[0] = 1;
    write("transport_server", "vie", &enc);
    enc[0] = 6;
    write("transport_server", "tiny", &enc);
}
