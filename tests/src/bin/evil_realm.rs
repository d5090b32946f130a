//! A hostile realm-worker stand-in for the multi-process tests
//! (`tests/hostile.rs`). The zone uses one worker binary for every realm,
//! so this one looks at its `--realm` argument:
//!
//! - `evil`: speaks the IPC protocol itself. On every player entering it
//!   greets that player (a legitimate send), then tries to reach everybody
//!   else in the zone: sends to every other pid 0–255 one by one and as a
//!   list, streams to them, asks the zone to kick them, move them, and send
//!   a private message in their name. It ends each round with a second
//!   message to its own player ([`DONE_TEXT`]), so a test knows the
//!   supervisor has handled the whole round.
//! - `garbage`: the first run answers the first player entering with an
//!   undecodable frame, the second with a frame announcing more than
//!   [`ipc_proto::MAX_FRAME`] bytes; later runs are the real worker. Runs are
//!   counted in the file named by `$EVIL_REALM_STATE` (required).
//! - `flood`: the first run answers the first player entering with
//!   [`FLOOD_FRAMES`] heartbeat answers at once (valid messages, far more
//!   bytes than `Realms:MaxIpcBytesPerSecond` allows); later runs are the
//!   real worker. Runs are counted as for `garbage`.
//! - `checkpoint`: the first run answers the first player entering with a
//!   small checkpoint of garbage (kept by the zone) and then one over
//!   [`ipc_proto::MAX_CHECKPOINT_LEN`]; later runs are the real worker,
//!   which is handed the garbage. Runs are counted as for `garbage`.
//! - anything else: `exec`s the real `realm-worker` next to this binary
//!   (or `$EVIL_REALM_REAL_WORKER`) with the same arguments; the IPC socket
//!   on fd 3 is inherited.

use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use ipc_proto::{
    encode, push_pid, Delivery, FrameReader, FromRealm, Target, ToRealm, ZoneCall,
    MAX_CHECKPOINT_LEN, MAX_FRAME, PROTOCOL_VERSION,
};
use ss_proto::game::{Chat, S2CPacket};

/// Text of the greeting the evil realm sends its own player.
pub const HELLO_TEXT: &str = "evil realm: welcome";
/// Text of the message that ends a round of attacks.
pub const DONE_TEXT: &str = "evil realm: done";
/// Text the evil realm tries to send to players of other arenas.
pub const SPOOF_TEXT: &str = "evil realm: spoofed";
/// Messages the `flood` realm sends in one go (6 bytes each).
pub const FLOOD_FRAMES: usize = 400_000;
/// Highest pid the evil realm targets.
const MAX_TARGET_PID: i16 = 255;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let realm = args
        .windows(2)
        .find(|w| w[0] == "--realm")
        .map(|w| w[1].clone())
        .unwrap_or_default();
    match realm.as_str() {
        "evil" => run_evil(&realm),
        "garbage" => run_garbage(&realm, &args),
        "flood" => run_flood(&realm, &args),
        "checkpoint" => run_checkpoint(&realm, &args),
        _ => exec_real(&args),
    }
}

/// Replaces this process with the real worker.
fn exec_real(args: &[String]) -> ! {
    let real = std::env::var_os("EVIL_REALM_REAL_WORKER")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|e| e.parent().map(|d| d.join("realm-worker")))
        })
        .unwrap_or_else(|| PathBuf::from("realm-worker"));
    let err = Command::new(&real).args(&args[1..]).exec();
    eprintln!("evil_realm: exec {} failed: {err}", real.display());
    std::process::exit(127);
}

/// The IPC socket the supervisor passes on fd 3.
fn ipc_socket() -> UnixStream {
    // SAFETY: the supervisor hands every worker its socket as fd 3, and
    // nothing else in this process owns that descriptor.
    unsafe { UnixStream::from_raw_fd(3) }
}

/// Appends one framed message to a batch.
fn frame(msg: &FromRealm<'_>, out: &mut Vec<u8>) {
    encode(msg, out).expect("an encodable message");
}

fn chat_packet(text: &str) -> Vec<u8> {
    let mut v = Vec::new();
    S2CPacket::Chat(Chat {
        chat_type: 0,
        sound: 0,
        pid: -1,
        text: text.to_owned(),
    })
    .encode(&mut v);
    v
}

fn hello(realm: &str, out: &mut Vec<u8>) {
    frame(
        &FromRealm::Hello {
            version: PROTOCOL_VERSION,
            realm: realm.to_owned(),
        },
        out,
    );
    frame(&FromRealm::Ready, out);
}

/// Reads frames until the link closes, calling `on_msg` for each; whatever
/// `on_msg` appends to the batch is written after each read.
fn serve(
    sock: &mut UnixStream,
    mut out: Vec<u8>,
    mut on_msg: impl FnMut(ToRealm<'_>, &mut Vec<u8>) -> bool,
) {
    let mut reader = FrameReader::new();
    loop {
        if !out.is_empty() {
            if sock.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        let spare = reader.spare(64 * 1024);
        let n = match sock.read(spare) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        reader.filled(n, 64 * 1024);
        loop {
            let f = match reader.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(_) => return,
            };
            let Ok(msg) = ipc_proto::decode::<ToRealm>(f) else {
                continue;
            };
            if let ToRealm::Heartbeat { seq } = msg {
                frame(&FromRealm::HeartbeatAck { seq }, &mut out);
                continue;
            }
            if matches!(msg, ToRealm::Shutdown) {
                let _ = sock.write_all(&out);
                return;
            }
            if !on_msg(msg, &mut out) {
                let _ = sock.write_all(&out);
                return;
            }
        }
    }
}

fn run_evil(realm: &str) {
    let mut out = Vec::new();
    hello(realm, &mut out);
    let mine: std::cell::RefCell<Vec<i16>> = Default::default();
    let greet = chat_packet(HELLO_TEXT);
    let done = chat_packet(DONE_TEXT);
    let spoof = chat_packet(SPOOF_TEXT);
    serve(&mut ipc_socket(), out, |msg, out| {
        match msg {
            ToRealm::PlayerEnter(info) => {
                let mut mine = mine.borrow_mut();
                mine.push(info.pid);
                frame(
                    &FromRealm::Send {
                        to: Target::Player(info.pid),
                        delivery: Delivery::Reliable,
                        bytes: &greet,
                    },
                    out,
                );
                let others: Vec<i16> = (0..=MAX_TARGET_PID).filter(|p| !mine.contains(p)).collect();
                let mut list = Vec::new();
                for &pid in &others {
                    push_pid(&mut list, pid);
                    frame(
                        &FromRealm::Send {
                            to: Target::Player(pid),
                            delivery: Delivery::Reliable,
                            bytes: &spoof,
                        },
                        out,
                    );
                    frame(&FromRealm::SendSized { pid, bytes: &spoof }, out);
                    frame(&FromRealm::ZoneCall(ZoneCall::Kick { pid }), out);
                    frame(
                        &FromRealm::ZoneCall(ZoneCall::MovePlayer {
                            pid,
                            arena: "evil".into(),
                        }),
                        out,
                    );
                    frame(
                        &FromRealm::ZoneCall(ZoneCall::RemotePrivate {
                            from: pid,
                            to_name: info.name.clone(),
                            text: SPOOF_TEXT,
                        }),
                        out,
                    );
                    frame(
                        &FromRealm::PlayerState {
                            pid,
                            ship: 0,
                            freq: 666,
                        },
                        out,
                    );
                }
                frame(
                    &FromRealm::Send {
                        to: Target::Players(&list),
                        delivery: Delivery::Unreliable,
                        bytes: &spoof,
                    },
                    out,
                );
                frame(
                    &FromRealm::Send {
                        to: Target::Player(info.pid),
                        delivery: Delivery::Reliable,
                        bytes: &done,
                    },
                    out,
                );
            }
            ToRealm::PlayerLeave { pid } => mine.borrow_mut().retain(|&p| p != pid),
            _ => {}
        }
        true
    });
}

/// This run's number (0 first), from the counter file `$EVIL_REALM_STATE`.
fn next_run() -> u32 {
    let state = PathBuf::from(
        std::env::var_os("EVIL_REALM_STATE").expect("EVIL_REALM_STATE names the run counter file"),
    );
    let runs: u32 = std::fs::read_to_string(&state)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    std::fs::write(&state, (runs + 1).to_string()).expect("writing the run counter");
    runs
}

/// Keeps the socket open until the supervisor kills this process (or
/// closes the link), so the kill is what it records.
fn linger(sock: &mut UnixStream) {
    let mut sink = [0u8; 4096];
    while matches!(sock.read(&mut sink), Ok(n) if n > 0) {}
}

/// The first worker of the realm says hello and, when the first player
/// enters, writes what `misbehave` puts in its output, then waits to be
/// killed; the restarted workers are the real one.
fn misbehave_on_entry(realm: &str, args: &[String], misbehave: impl Fn(&mut Vec<u8>)) {
    if next_run() >= 1 {
        exec_real(args);
    }
    let mut out = Vec::new();
    hello(realm, &mut out);
    let mut sock = ipc_socket();
    serve(&mut sock, out, |msg, out| {
        if !matches!(msg, ToRealm::PlayerEnter(_)) {
            return true;
        }
        misbehave(out);
        false
    });
    linger(&mut sock);
}

fn run_flood(realm: &str, args: &[String]) {
    misbehave_on_entry(realm, args, |out| {
        for _ in 0..FLOOD_FRAMES {
            frame(&FromRealm::HeartbeatAck { seq: 0 }, out);
        }
    });
}

fn run_checkpoint(realm: &str, args: &[String]) {
    misbehave_on_entry(realm, args, |out| {
        let garbage: Vec<u8> = (0..200u32).map(|i| (i * 37 % 251) as u8).collect();
        frame(&FromRealm::ArenaCheckpoint { bytes: &garbage }, out);
        let huge = vec![0xEE; MAX_CHECKPOINT_LEN + 1];
        frame(&FromRealm::ArenaCheckpoint { bytes: &huge }, out);
    });
}

fn run_garbage(realm: &str, args: &[String]) {
    let runs = next_run();
    if runs >= 2 {
        exec_real(args);
    }
    let mut out = Vec::new();
    hello(realm, &mut out);
    let mut sock = ipc_socket();
    serve(&mut sock, out, |msg, out| {
        if !matches!(msg, ToRealm::PlayerEnter(_)) {
            return true;
        }
        if runs == 0 {
            // A frame of 8 bytes that is no FromRealm message (variant 0x7F).
            out.extend_from_slice(&8u32.to_le_bytes());
            out.extend_from_slice(&[0x7F; 8]);
        } else {
            // A frame header announcing more than the limit.
            out.extend_from_slice(&((MAX_FRAME as u32) + 1).to_le_bytes());
            out.extend_from_slice(&[0xAB; 64]);
        }
        false
    });
    linger(&mut sock);
}
