//! A test billing server ("biller") that speaks the UDP biller protocol
//! (`docs/protocol/billing-udp.md`) in the server role, inside the test
//! process.
//!
//! It is written from the protocol document, independently of the zone's
//! codec in `ss_proto::billing`: every message is laid out and read here by
//! the offsets of the document, so that the two cross-check each other. The
//! core transport is `ss_proto`'s ([`Connection::server`] after
//! [`decide_init`], with VIE encryption as a real biller answers).
//!
//! One background thread owns the socket on 127.0.0.1: it accepts the
//! zone's connection requests (a new one replaces the old link), decodes
//! what the zone sends into [`FromZone`] messages for the test to wait on,
//! and answers player logins from a table of [`LoginAnswer`]s (accepting
//! unknown names as typed). [`TestBiller::set_silent`] makes it stop
//! answering entirely, as a dead biller or a cut network would.
//!
//! It can also misbehave as real billers do: answer connection requests
//! with stale key replies first ([`TestBiller::set_replay_key_replies`]),
//! keep a connection per address across the zone's reconnects
//! ([`TestBiller::set_sticky`]), ignore the zone login
//! ([`TestBiller::set_ignore_zone_login`]) or everything
//! ([`TestBiller::set_mute`]), or end the link itself
//! ([`TestBiller::drop_link`]).

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use ss_proto::transport::{
    decide_init, Connection, InitDecision, InitPolicy, Priority, Reliability, TickClock,
    TransportConfig,
};

/// Longest one receive call blocks.
const MAX_WAIT: Duration = Duration::from_millis(50);
/// Messages kept for the test at most (oldest dropped).
const MAX_LOG: usize = 10_000;

/// A message from the zone, decoded by the document's offsets (§3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FromZone {
    /// 0x01.
    Ping,
    /// 0x02 zone login.
    ServerConnect {
        /// ServerID.
        server_id: u32,
        /// GroupID.
        group_id: u32,
        /// ScoreID.
        score_id: u32,
        /// ServerName.
        name: String,
        /// The zone's game port.
        port: u16,
        /// Password.
        password: String,
    },
    /// 0x03.
    ServerDisconnect,
    /// 0x04 player login.
    UserLogin {
        /// MakeNew flag byte.
        make_new: u8,
        /// IPv4 address.
        ip: [u8; 4],
        /// Name.
        name: String,
        /// Password.
        password: String,
        /// ConnectionID (the player's pid).
        pid: u32,
        /// Client version.
        client_version: u16,
        /// Bytes after the 86-byte fixed part.
        extra_len: usize,
    },
    /// 0x05 player left.
    UserLogoff {
        /// ConnectionID.
        pid: u32,
        /// Whether the 14-byte score block came along.
        with_score: bool,
    },
    /// 0x07 remote private / squad message.
    PrivateChat {
        /// ConnectionID field (−1 expected).
        connection_id: u32,
        /// GroupID field.
        group: u32,
        /// SubType field.
        sub_type: u8,
        /// Sound.
        sound: u8,
        /// Text.
        text: String,
    },
    /// 0x0D registration form.
    Demographics {
        /// ConnectionID.
        pid: u32,
        /// Form bytes.
        len: usize,
    },
    /// 0x10 banner.
    Banner {
        /// ConnectionID.
        pid: u32,
    },
    /// 0x13 user command.
    Command {
        /// ConnectionID.
        pid: u32,
        /// Text, with its `?`.
        text: String,
    },
    /// 0x14 chat channel message.
    ChannelChat {
        /// ConnectionID.
        pid: u32,
        /// Channel field.
        channel: String,
        /// Text.
        text: String,
    },
    /// 0x15 capabilities.
    Capabilities(u32),
    /// Anything else, or a message of the wrong size.
    Other(Vec<u8>),
}

/// How the biller answers a player login.
#[derive(Clone, Debug)]
pub struct LoginAnswer {
    /// Result code (0 OK, 1 new user, 2 bad password, …).
    pub result: u8,
    /// Name to give the player.
    pub name: String,
    /// Squad.
    pub squad: String,
    /// UserID.
    pub user_id: u32,
    /// Answer only logins with MakeNew set this way (`None`: any).
    pub only_if_make_new: Option<u8>,
}

impl LoginAnswer {
    /// Accept, naming the player `name` in squad `squad`.
    pub fn accept(name: &str, squad: &str) -> LoginAnswer {
        LoginAnswer {
            result: 0,
            name: name.into(),
            squad: squad.into(),
            user_id: 1000,
            only_if_make_new: None,
        }
    }

    /// Refuse with `result`.
    pub fn refuse(result: u8) -> LoginAnswer {
        LoginAnswer {
            result,
            name: String::new(),
            squad: String::new(),
            user_id: 0,
            only_if_make_new: None,
        }
    }
}

/// Mutable state shared with the thread.
struct State {
    conn: Option<(SocketAddr, Connection)>,
    silent: bool,
    /// Answer each connection request with every earlier key reply first.
    replay: bool,
    /// Key replies sent so far (for `replay`).
    replies: Vec<[u8; 6]>,
    /// Keep the connection of an address when it asks to connect again.
    sticky: bool,
    /// Answer with VIE encryption (else unencrypted).
    encrypt: bool,
    /// Acknowledge but never answer zone logins.
    ignore_zone_login: bool,
    /// Acknowledge but never answer anything.
    mute: bool,
    /// Connection requests answered without a new connection (`sticky`).
    stale_requests: u64,
    /// Logins of these names (lower case) are never answered.
    hold: Vec<String>,
    answers: HashMap<String, Vec<LoginAnswer>>,
    log: VecDeque<FromZone>,
    connections: u64,
    server_connects: u64,
    dropped_while_silent: u64,
}

struct Shared {
    socket: UdpSocket,
    state: Mutex<State>,
    arrived: Condvar,
    stop: AtomicBool,
    datagrams_in: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running test biller.
pub struct TestBiller {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    addr: SocketAddr,
}

impl TestBiller {
    /// Binds 127.0.0.1 on a free port and starts serving.
    pub fn start() -> Result<TestBiller> {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).context("binding the biller")?;
        socket.set_read_timeout(Some(MAX_WAIT))?;
        let addr = socket.local_addr()?;
        let shared = Arc::new(Shared {
            socket,
            state: Mutex::new(State {
                conn: None,
                silent: false,
                replay: false,
                replies: Vec::new(),
                sticky: false,
                encrypt: true,
                ignore_zone_login: false,
                mute: false,
                stale_requests: 0,
                hold: Vec::new(),
                answers: HashMap::new(),
                log: VecDeque::new(),
                connections: 0,
                server_connects: 0,
                dropped_while_silent: 0,
            }),
            arrived: Condvar::new(),
            stop: AtomicBool::new(false),
            datagrams_in: AtomicU64::new(0),
        });
        let t = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("test-biller".into())
            .spawn(move || serve(&t))
            .context("starting the biller thread")?;
        Ok(TestBiller {
            shared,
            thread: Some(thread),
            addr,
        })
    }

    /// The biller's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `--set` overrides that point a zone at this biller.
    pub fn zone_settings(&self) -> Vec<String> {
        vec![
            "Billing:IP=127.0.0.1".to_string(),
            format!("Billing:Port={}", self.addr.port()),
            "Billing:ServerName=Test Zone".to_string(),
            "Billing:Password=zonepw".to_string(),
            "Billing:ServerID=7".to_string(),
        ]
    }

    /// Answers logins of `name` (case-insensitive) with `answer`; several
    /// answers for one name are tried in order, the first that applies
    /// (see [`LoginAnswer::only_if_make_new`]) is used.
    pub fn answer_login(&self, name: &str, answer: LoginAnswer) {
        self.shared
            .lock()
            .answers
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(answer);
    }

    /// Never answers logins of `name`.
    pub fn hold_login(&self, name: &str) {
        self.shared.lock().hold.push(name.to_ascii_lowercase());
    }

    /// Stops (true) or resumes (false) answering anything: while silent,
    /// every datagram is dropped unread and nothing is sent.
    pub fn set_silent(&self, silent: bool) {
        self.shared.lock().silent = silent;
    }

    /// Answers every connection request first with all the key replies
    /// it sent before (to that request's address), then with its own: a
    /// late biller's answers to the zone's earlier attempts.
    pub fn set_replay_key_replies(&self, on: bool) {
        self.shared.lock().replay = on;
    }

    /// Keeps state per address, as some billers do: a connection request
    /// from the address of a live connection is answered, but the old
    /// connection (its sequence numbers, its cipher) stays until that
    /// address sends `00 07` or falls silent for two minutes.
    pub fn set_sticky(&self, on: bool) {
        self.shared.lock().sticky = on;
    }

    /// Answers connection requests with VIE encryption (the default) or
    /// unencrypted.
    pub fn set_encryption(&self, on: bool) {
        self.shared.lock().encrypt = on;
    }

    /// Acknowledges zone logins (the transport does) but says nothing.
    pub fn set_ignore_zone_login(&self, on: bool) {
        self.shared.lock().ignore_zone_login = on;
    }

    /// Acknowledges everything (the transport does) but answers nothing:
    /// no identity after a zone login, no login results.
    pub fn set_mute(&self, on: bool) {
        self.shared.lock().mute = on;
    }

    /// Ends the link from the biller's side (`00 07`).
    pub fn drop_link(&self) -> Result<()> {
        let mut st = self.shared.lock();
        let Some((addr, mut conn)) = st.conn.take() else {
            bail!("no zone is connected");
        };
        conn.disconnect();
        let socket = &self.shared.socket;
        conn.poll_transmit(Instant::now(), &mut |d| {
            let _ = socket.send_to(d, addr);
        });
        Ok(())
    }

    /// Connection requests answered while keeping an older connection
    /// ([`TestBiller::set_sticky`]).
    pub fn stale_requests(&self) -> u64 {
        self.shared.lock().stale_requests
    }

    /// Connection requests accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.lock().connections
    }

    /// Zone logins (ServerConnect) received so far.
    pub fn server_connects(&self) -> u64 {
        self.shared.lock().server_connects
    }

    /// Datagrams dropped while silent.
    pub fn dropped_while_silent(&self) -> u64 {
        self.shared.lock().dropped_while_silent
    }

    /// Every message received and not yet taken by a wait.
    pub fn backlog(&self) -> Vec<FromZone> {
        self.shared.lock().log.iter().cloned().collect()
    }

    /// Waits up to `timeout` for a message `pred` maps to `Some`; that
    /// message is taken out of the backlog, the others stay.
    pub fn wait_for<T>(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&FromZone) -> Option<T>,
    ) -> Result<T> {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        loop {
            let found = st
                .log
                .iter()
                .enumerate()
                .find_map(|(i, m)| pred(m).map(|v| (i, v)));
            if let Some((i, v)) = found {
                st.log.remove(i);
                return Ok(v);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("the biller did not receive the expected message within {timeout:?}");
            }
            st = self
                .shared
                .arrived
                .wait_timeout(st, left)
                .map_err(|_| anyhow!("biller lock poisoned"))?
                .0;
        }
    }

    /// Takes every backlog message `pred` accepts.
    pub fn take_all(&self, mut pred: impl FnMut(&FromZone) -> bool) -> Vec<FromZone> {
        let mut st = self.shared.lock();
        let (hit, keep): (Vec<_>, Vec<_>) = st.log.drain(..).partition(|m| pred(m));
        st.log = keep.into();
        hit
    }

    /// Sends a message to the zone reliably (fails with no link).
    pub fn send(&self, msg: &[u8]) -> Result<()> {
        let mut st = self.shared.lock();
        let Some((addr, conn)) = st.conn.as_mut() else {
            bail!("no zone is connected");
        };
        anyhow::ensure!(
            conn.send(msg, Reliability::Reliable, Priority::Normal),
            "the link refused the message"
        );
        let addr = *addr;
        let socket = &self.shared.socket;
        conn.poll_transmit(Instant::now(), &mut |d| {
            let _ = socket.send_to(d, addr);
        });
        Ok(())
    }
}

impl TestBiller {
    /// Sends one raw datagram to the zone's link address, outside the
    /// transport (for garbage tests).
    pub fn send_datagram(&self, datagram: &[u8]) -> Result<()> {
        let st = self.shared.lock();
        let Some((addr, _)) = st.conn.as_ref() else {
            bail!("no zone is connected");
        };
        self.shared.socket.send_to(datagram, *addr)?;
        Ok(())
    }
}

impl Drop for TestBiller {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ----- building biller → zone messages (§4) ----------------------------------

fn put_fixed(out: &mut Vec<u8>, s: &str, n: usize) {
    let start = out.len();
    out.extend(s.bytes().take(n - 1));
    out.resize(start + n, 0);
}

fn put_text(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

/// B2S 0x01 login result (178 bytes).
pub fn login_result(pid: u32, a: &LoginAnswer) -> Vec<u8> {
    let mut b = vec![0x01, a.result];
    b.extend_from_slice(&pid.to_le_bytes());
    put_fixed(&mut b, &a.name, 24);
    put_fixed(&mut b, &a.squad, 24);
    b.extend_from_slice(&[0u8; 96]); // banner
    b.extend_from_slice(&3600u32.to_le_bytes()); // seconds played
    for v in [2001u16, 2, 3, 4, 5, 6] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&[0u8; 4]);
    b.extend_from_slice(&a.user_id.to_le_bytes());
    b.extend_from_slice(&[0u8; 4]);
    debug_assert_eq!(b.len(), 178);
    b
}

/// B2S 0x03: a remote private, squad or broadcast message.
pub fn private_chat(sound: u8, text: &str) -> Vec<u8> {
    let mut b = vec![0x03, 1, 0, 0, 0, 2, sound];
    put_text(&mut b, text);
    b
}

/// B2S 0x08: kick player `pid`.
pub fn kickout(pid: u32, reason: u16) -> Vec<u8> {
    let mut b = vec![0x08];
    b.extend_from_slice(&pid.to_le_bytes());
    b.extend_from_slice(&reason.to_le_bytes());
    b
}

/// B2S 0x09: a command reply for player `pid`.
pub fn command_chat(pid: u32, text: &str) -> Vec<u8> {
    let mut b = vec![0x09];
    b.extend_from_slice(&pid.to_le_bytes());
    put_text(&mut b, text);
    b
}

/// B2S 0x0A: a channel message for player `pid`.
pub fn channel_chat(pid: u32, channel: u8, text: &str) -> Vec<u8> {
    let mut b = vec![0x0A];
    b.extend_from_slice(&pid.to_le_bytes());
    b.push(channel);
    put_text(&mut b, text);
    b
}

// ----- reading zone → biller messages (§3) ------------------------------------

fn u16_at(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map_or(0, |s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn fixed(b: &[u8], at: usize, n: usize) -> String {
    let f = b.get(at..(at + n).min(b.len())).unwrap_or(&[]);
    let end = f.iter().position(|&c| c == 0).unwrap_or(f.len());
    String::from_utf8_lossy(&f[..end]).into_owned()
}

/// Text from `at` to its NUL; `None` without a NUL.
fn text(b: &[u8], at: usize) -> Option<String> {
    let t = b.get(at..)?;
    let end = t.iter().position(|&c| c == 0)?;
    Some(String::from_utf8_lossy(&t[..end]).into_owned())
}

/// Decodes one zone message; wrong sizes become [`FromZone::Other`].
pub fn decode(b: &[u8]) -> FromZone {
    let other = || FromZone::Other(b.to_vec());
    match (b.first().copied(), b.len()) {
        (Some(0x01), 1) => FromZone::Ping,
        (Some(0x02), 173) => FromZone::ServerConnect {
            server_id: u32_at(b, 1),
            group_id: u32_at(b, 5),
            score_id: u32_at(b, 9),
            name: fixed(b, 13, 126),
            port: u16_at(b, 139),
            password: fixed(b, 141, 32),
        },
        (Some(0x03), 1) => FromZone::ServerDisconnect,
        (Some(0x04), n) if (86..=86 + 256).contains(&n) => FromZone::UserLogin {
            make_new: b[1],
            ip: [b[2], b[3], b[4], b[5]],
            name: fixed(b, 6, 32),
            password: fixed(b, 38, 32),
            pid: u32_at(b, 70),
            client_version: u16_at(b, 84),
            extra_len: n - 86,
        },
        (Some(0x05), 15 | 29) => FromZone::UserLogoff {
            pid: u32_at(b, 1),
            with_score: b.len() == 29,
        },
        (Some(0x07), n) if n > 11 => match text(b, 11) {
            Some(text) => FromZone::PrivateChat {
                connection_id: u32_at(b, 1),
                group: u32_at(b, 5),
                sub_type: b[9],
                sound: b[10],
                text,
            },
            None => other(),
        },
        (Some(0x0D), n) if n >= 5 => FromZone::Demographics {
            pid: u32_at(b, 1),
            len: n - 5,
        },
        (Some(0x10), 101) => FromZone::Banner { pid: u32_at(b, 1) },
        (Some(0x13), n) if n > 5 => match text(b, 5) {
            Some(text) => FromZone::Command {
                pid: u32_at(b, 1),
                text,
            },
            None => other(),
        },
        (Some(0x14), n) if n > 37 => match text(b, 37) {
            Some(text) => FromZone::ChannelChat {
                pid: u32_at(b, 1),
                channel: fixed(b, 5, 32),
                text,
            },
            None => other(),
        },
        (Some(0x15), 5) => FromZone::Capabilities(u32_at(b, 1)),
        _ => other(),
    }
}

// ----- the thread ---------------------------------------------------------------

fn serve(shared: &Shared) {
    let mut buf = vec![0u8; 2048];
    while !shared.stop.load(Ordering::Acquire) {
        let got = match shared.socket.recv_from(&mut buf) {
            Ok((n, from)) => Some((n, from)),
            Err(_) => None, // timeout (or an ICMP report)
        };
        let now = Instant::now();
        let mut st = shared.lock();
        if let Some((n, from)) = got {
            shared.datagrams_in.fetch_add(1, Ordering::Relaxed);
            if st.silent {
                st.dropped_while_silent += 1;
                continue;
            }
            datagram(shared, &mut st, now, from, &mut buf[..n]);
        }
        if st.silent {
            continue;
        }
        let closed = if let Some((addr, conn)) = st.conn.as_mut() {
            let addr = *addr;
            conn.poll_transmit(now, &mut |d| {
                let _ = shared.socket.send_to(d, addr);
            });
            conn.is_closed()
        } else {
            false
        };
        if closed {
            st.conn = None;
        }
    }
}

fn datagram(shared: &Shared, st: &mut State, now: Instant, from: SocketAddr, data: &mut [u8]) {
    if data.len() == 8 && data[0] == 0 && data[1] == 0x01 {
        // A connection request: a (new) link from the zone.
        let policy = InitPolicy {
            vie_encrypt: st.encrypt,
            ..InitPolicy::default()
        };
        if let InitDecision::Accept {
            reply, cipher_key, ..
        } = decide_init(data, &policy)
        {
            if st.replay {
                for old in &st.replies {
                    let _ = shared.socket.send_to(old, from);
                }
            }
            st.replies.push(reply);
            let live = st
                .conn
                .as_ref()
                .is_some_and(|(a, c)| *a == from && !c.is_closed());
            if st.sticky && live {
                st.stale_requests += 1;
                let _ = shared.socket.send_to(&reply, from);
                return;
            }
            let cfg = TransportConfig {
                drop_timeout: Duration::from_secs(120),
                recv_window: 255,
                ..TransportConfig::default()
            };
            let conn = Connection::server(now, cfg, TickClock::new(now, 0), cipher_key, false);
            st.conn = Some((from, conn));
            st.connections += 1;
            let _ = shared.socket.send_to(&reply, from);
        }
        return;
    }
    let Some((addr, conn)) = st.conn.as_mut() else {
        return;
    };
    if *addr != from {
        return;
    }
    let mut packets = Vec::new();
    conn.handle_datagram(now, data, &mut |p| packets.push(p.to_vec()));
    for p in packets {
        let msg = decode(&p);
        match &msg {
            FromZone::ServerConnect { .. } => {
                st.server_connects += 1;
                // Say something at once, so the zone knows it is in
                // (billers send their identity; any message will do).
                if st.ignore_zone_login || st.mute {
                    // acknowledged by the transport, nothing more
                } else if let Some((_, conn)) = st.conn.as_mut() {
                    conn.send(b"\x33test biller", Reliability::Reliable, Priority::Normal);
                }
            }
            FromZone::UserLogin {
                name,
                make_new,
                pid,
                ..
            } if !st.mute => answer(st, name, *make_new, *pid),
            _ => {}
        }
        if st.log.len() >= MAX_LOG {
            st.log.pop_front();
        }
        st.log.push_back(msg);
    }
    shared.arrived.notify_all();
}

/// Answers a login from the table (unknown names: accepted as typed).
fn answer(st: &mut State, name: &str, make_new: u8, pid: u32) {
    let key = name.to_ascii_lowercase();
    if st.hold.contains(&key) {
        return;
    }
    let a = st
        .answers
        .get(&key)
        .and_then(|list| {
            list.iter()
                .find(|a| a.only_if_make_new.is_none_or(|m| m == make_new))
                .cloned()
        })
        .unwrap_or_else(|| LoginAnswer::accept(name, ""));
    let msg = login_result(pid, &a);
    if let Some((_, conn)) = st.conn.as_mut() {
        conn.send(&msg, Reliability::Reliable, Priority::Normal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_by_the_document() {
        let mut sc = vec![0x02];
        sc.extend_from_slice(&7u32.to_le_bytes());
        sc.extend_from_slice(&1u32.to_le_bytes());
        sc.extend_from_slice(&0u32.to_le_bytes());
        put_fixed(&mut sc, "Zone", 126);
        sc.extend_from_slice(&5000u16.to_le_bytes());
        put_fixed(&mut sc, "pw", 32);
        assert_eq!(
            decode(&sc),
            FromZone::ServerConnect {
                server_id: 7,
                group_id: 1,
                score_id: 0,
                name: "Zone".into(),
                port: 5000,
                password: "pw".into()
            }
        );
        assert_eq!(
            decode(&[0x05, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            FromZone::UserLogoff {
                pid: 3,
                with_score: false
            }
        );
        assert!(matches!(decode(&[0x05, 3]), FromZone::Other(_)));
        assert_eq!(login_result(1, &LoginAnswer::accept("a", "b")).len(), 178);
    }
}
