//! The bot against an in-process fake zone built on the server role of
//! `ss_proto::transport::Connection`.

use std::sync::Arc;

use ss_proto::game::{relay_position, Chat, ExtraLen, LoginCode, PlayerEntering, MAX_RELAY_LEN};
use ss_proto::map::{default_map, download_packet};
use ss_proto::transport::{decide_init, Connection, InitDecision, InitPolicy, TickClock};

use super::*;

const FAKE_PID: i16 = 7;

/// A one-client fake zone on its own thread; stops when dropped.
struct FakeZone {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeZone {
    fn start() -> FakeZone {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(10)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let thread = std::thread::spawn(move || fake_zone(&socket, &stop2));
        FakeZone {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeZone {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn fake_zone(socket: &UdpSocket, stop: &AtomicBool) {
    let start = Instant::now();
    let clock = TickClock::new(start, 1_000_000);
    let lvl = default_map();
    let map_packet: Arc<[u8]> = download_packet("fake.lvl", &lvl).unwrap().into();
    let map_crc = file_checksum(&lvl);
    let mut conn: Option<(Connection, SocketAddr)> = None;
    let mut buf = [0u8; 2048];
    let mut out = Vec::new();
    while !stop.load(Ordering::Acquire) {
        let now = Instant::now();
        if let Ok((n, from)) = socket.recv_from(&mut buf) {
            let datagram = &mut buf[..n];
            if conn.is_none() {
                if let InitDecision::Accept {
                    reply,
                    cipher_key,
                    continuum,
                } = decide_init(datagram, &InitPolicy::default())
                {
                    socket.send_to(&reply, from).unwrap();
                    let c = Connection::server(
                        now,
                        TransportConfig::default(),
                        clock,
                        cipher_key,
                        continuum,
                    );
                    conn = Some((c, from));
                }
                continue;
            }
            let Some((c, peer)) = conn.as_mut() else {
                continue;
            };
            if from != *peer {
                continue;
            }
            let mut packets = Vec::new();
            c.handle_datagram(now, datagram, &mut |p| packets.push(p.to_vec()));
            for p in packets {
                let Ok(pkt) = C2SPacket::decode(&p) else {
                    continue;
                };
                let mut reply = |s: S2CPacket, c: &mut Connection| {
                    out.clear();
                    s.encode(&mut out);
                    c.send(&out, Reliability::Reliable, Priority::Normal);
                };
                match pkt {
                    C2SPacket::Login(l) => {
                        assert_eq!(l.name, "tester");
                        reply(
                            S2CPacket::LoginResponse(LoginResponse::vie(LoginCode::OK, 0)),
                            c,
                        );
                    }
                    C2SPacket::GoArena(g) => {
                        assert_eq!(g.arena_type, 0);
                        reply(S2CPacket::WhoAmI { pid: FAKE_PID }, c);
                        let other = PlayerEntering {
                            name: "other".into(),
                            pid: 3,
                            ship: 1,
                            freq: 5,
                            ..PlayerEntering::default()
                        };
                        let me = PlayerEntering {
                            name: "tester".into(),
                            pid: FAKE_PID,
                            ..PlayerEntering::default()
                        };
                        reply(S2CPacket::PlayerEntering(vec![other, me]), c);
                        reply(
                            S2CPacket::MapInfo(MapInfo::Vie {
                                name: "fake.lvl".into(),
                                checksum: map_crc,
                            }),
                            c,
                        );
                        reply(S2CPacket::Bricks(Vec::new()), c);
                        reply(S2CPacket::EnteredArena, c);
                        reply(
                            S2CPacket::ShipChange {
                                ship: 2,
                                pid: 3,
                                freq: 6,
                            },
                            c,
                        );
                    }
                    C2SPacket::MapRequest { file_index: None } => {
                        c.send_sized(Arc::clone(&map_packet));
                    }
                    C2SPacket::Position(pos) => {
                        // Echo it back as the relay another player would get.
                        let mut relay = [0u8; MAX_RELAY_LEN];
                        let ticks = c.local_ticks(now);
                        let latency = ss_proto::game::position_latency(ticks, pos.time);
                        assert!(
                            latency < 50,
                            "stamp {} is far from server time {ticks}",
                            pos.time
                        );
                        let len = relay_position(
                            &pos,
                            FAKE_PID as u16,
                            ticks,
                            latency,
                            ExtraLen::None,
                            &mut relay,
                        );
                        c.send(&relay[..len], Reliability::Unreliable, Priority::High);
                    }
                    C2SPacket::Chat(chat) => reply(
                        S2CPacket::Chat(Chat {
                            pid: FAKE_PID,
                            ..chat
                        }),
                        c,
                    ),
                    C2SPacket::SetShip { ship } => {
                        reply(
                            S2CPacket::ShipChange {
                                ship,
                                pid: FAKE_PID,
                                freq: 0,
                            },
                            c,
                        );
                    }
                    _ => {}
                }
            }
        }
        if let Some((c, peer)) = conn.as_mut() {
            c.poll_transmit(now, &mut |d| {
                let _ = socket.send_to(d, *peer);
            });
            while c.poll_event().is_some() {}
        }
    }
}

#[test]
fn bot_talks_to_a_fake_zone() {
    let zone = FakeZone::start();
    let mut bot = Bot::connect(zone.addr).unwrap();
    assert!(bot.is_encrypted());
    assert!(bot.server_ticks().is_some());
    bot.login("tester", "pw").unwrap();

    let entry = bot.enter_arena("0", 1).unwrap();
    assert_eq!(entry.pid, FAKE_PID);
    assert_eq!(bot.pid(), Some(FAKE_PID));
    assert_eq!(entry.players.len(), 2);
    assert!(entry.map_info.is_some());
    assert_eq!(bot.player_by_name("OTHER").map(|p| p.pid), Some(3));

    // The ship change after the entry is in the backlog and was tracked.
    let ship = bot
        .wait_for(Duration::from_secs(5), |p| match p {
            S2CPacket::ShipChange { ship, pid: 3, .. } => Some(*ship),
            _ => None,
        })
        .unwrap();
    assert_eq!(ship, 2);
    assert_eq!(bot.player(3).map(|p| (p.ship, p.freq)), Some((2, 6)));

    let lvl = bot.download_map().unwrap();
    assert_eq!(lvl, default_map());

    // Positions: stamps are close to the server's time; weapons come back.
    bot.send_position(8200, 8300, 0, 0, WeaponInfo::NONE)
        .unwrap();
    let (x, y) = bot
        .wait_for(Duration::from_secs(5), |p| match p {
            S2CPacket::SmallPosition(s) if s.pid == FAKE_PID as u8 => Some((s.x, s.y)),
            _ => None,
        })
        .unwrap();
    assert_eq!((x, y), (8200, 8300));
    let gun = WeaponInfo::new(ss_proto::game::weapon_type::BULLET, 1, false, 0, 0, false);
    bot.send_position(8201, 8301, 10, -10, gun).unwrap();
    let w = bot
        .wait_for(Duration::from_secs(5), |p| match p {
            S2CPacket::LargePosition(l) => Some(l.weapon),
            _ => None,
        })
        .unwrap();
    assert_eq!(w, gun);

    bot.chat(ss_proto::game::chat_type::PUBLIC, -1, "hello")
        .unwrap();
    let text = bot
        .wait_for(Duration::from_secs(5), |p| match p {
            S2CPacket::Chat(c) => Some(c.text.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(text, "hello");
    // The fake zone echoes each chat once: the echo of a second message is
    // the marker, and no other chat comes before it.
    bot.chat(ss_proto::game::chat_type::PUBLIC, -1, "marker")
        .unwrap();
    bot.expect_none_before(
        |p| matches!(p, S2CPacket::Chat(c) if c.text == "marker").then_some(()),
        |p| matches!(p, S2CPacket::Chat(_)),
    )
    .unwrap();
    bot.expect_none_received(|p| matches!(p, S2CPacket::Chat(_)))
        .unwrap();
    // An unwanted packet before the marker fails the check, whether it is
    // still arriving or already in the backlog; the marker is not taken.
    bot.chat(ss_proto::game::chat_type::PUBLIC, -1, "unwanted")
        .unwrap();
    bot.chat(ss_proto::game::chat_type::PUBLIC, -1, "marker 2")
        .unwrap();
    let is_marker = |p: &S2CPacket| matches!(p, S2CPacket::Chat(c) if c.text == "marker 2");
    let unwanted = |p: &S2CPacket| matches!(p, S2CPacket::Chat(c) if c.text == "unwanted");
    let err = bot
        .expect_none_before(|p| is_marker(p).then_some(()), unwanted)
        .unwrap_err();
    assert!(format!("{err}").contains("unwanted"), "{err}");
    assert!(bot
        .expect_none_before(|p| is_marker(p).then_some(()), unwanted)
        .is_err());
    assert!(bot.expect_none_received(unwanted).is_err());
    bot.clear_backlog();

    // A timeout is an error, not a hang.
    let err = bot.wait_for(Duration::from_millis(50), |p| match p {
        S2CPacket::KeepAlive => Some(()),
        _ => None,
    });
    assert!(err.is_err());

    bot.disconnect();
    assert!(bot.is_disconnected());
    assert!(bot.send_position(1, 1, 0, 0, WeaponInfo::NONE).is_err());
}

#[test]
fn connect_times_out_without_a_zone() {
    // A socket that never answers.
    let silent = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let started = Instant::now();
    let r = Bot::connect_with(
        silent.local_addr().unwrap(),
        TransportConfig::default(),
        Duration::from_millis(300),
    );
    assert!(r.is_err());
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn bots_can_move_between_threads() {
    fn assert_send<T: Send>() {}
    assert_send::<Bot>();
}
