//! Benchmarks of the supervisor ↔ realm link: encoding and decoding the
//! messages of the position hot path, reading frames out of a batch, and
//! one round trip over a real Unix-domain socket pair.
//!
//! Run with `cargo bench -p ipc-proto` (add `-- --quick` for a short run).

use std::hint::black_box;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ipc_proto::{decode, encode, push_pid, Delivery, FrameReader, FromRealm, Target, ToRealm};

/// A C2S position as a player sends it (22 bytes).
const POSITION: [u8; 22] = [
    0x03, 5, 0xA0, 0x86, 0x01, 0, 120, 0, 0x00, 0x20, 0x55, 0, 0x00, 0x20, 0xD8, 0xFF, 3, 0, 0xE8,
    0x03, 0, 0,
];
/// A relayed S2C 0x28 position (16 bytes).
const RELAYED: [u8; 16] = [
    0x28, 5, 0xA0, 0x86, 0x00, 0x20, 3, 3, 42, 0, 0xD8, 0xFF, 0x00, 0x20, 120, 0,
];

/// A pid list of `n` receivers.
fn pids(n: i16) -> Vec<u8> {
    let mut list = Vec::new();
    for pid in 0..n {
        push_pid(&mut list, pid);
    }
    list
}

fn messages(c: &mut Criterion) {
    let mut g = c.benchmark_group("ipc_message");
    g.throughput(Throughput::Elements(1));
    let mut out = Vec::with_capacity(4096);

    let packet = ToRealm::PlayerPacket {
        pid: 17,
        bytes: &POSITION,
    };
    g.bench_function("encode_player_packet", |b| {
        b.iter(|| {
            out.clear();
            encode(black_box(&packet), &mut out).unwrap();
            out.len()
        })
    });
    let mut framed = Vec::new();
    encode(&packet, &mut framed).unwrap();
    let frame = framed[4..].to_vec();
    g.bench_function("decode_player_packet", |b| {
        b.iter(|| decode::<ToRealm>(black_box(&frame)).unwrap())
    });

    for n in [39i16, 199] {
        let list = pids(n);
        let send = FromRealm::Send {
            to: Target::Players(&list),
            delivery: Delivery::Unreliable,
            bytes: &RELAYED,
        };
        g.bench_function(format!("encode_send_{n}_targets"), |b| {
            b.iter(|| {
                out.clear();
                encode(black_box(&send), &mut out).unwrap();
                out.len()
            })
        });
        let mut framed = Vec::new();
        encode(&send, &mut framed).unwrap();
        let frame = framed[4..].to_vec();
        g.bench_function(format!("decode_send_{n}_targets"), |b| {
            b.iter(|| {
                let msg = decode::<FromRealm>(black_box(&frame)).unwrap();
                match msg {
                    FromRealm::Send {
                        to: Target::Players(l),
                        ..
                    } => Target::list(l).map(i32::from).sum::<i32>(),
                    _ => 0,
                }
            })
        });
    }
    g.finish();
}

fn frames(c: &mut Criterion) {
    // A loop pass's worth of player packets: 200 frames in one read.
    let mut batch = Vec::new();
    for pid in 0..200 {
        encode(
            &ToRealm::PlayerPacket {
                pid,
                bytes: &POSITION,
            },
            &mut batch,
        )
        .unwrap();
    }
    let mut g = c.benchmark_group("ipc_frames");
    g.throughput(Throughput::Elements(200));
    let mut reader = FrameReader::new();
    g.bench_function("read_decode_200_player_packets", |b| {
        b.iter(|| {
            reader.extend(&batch);
            let mut sum = 0usize;
            while let Some(f) = reader.next_frame().unwrap() {
                if let ToRealm::PlayerPacket { bytes, .. } = decode::<ToRealm>(f).unwrap() {
                    sum += bytes.len();
                }
            }
            sum
        })
    });
    // The same through spare()/filled(), as the realm's read loop uses it
    // (64 KiB offered per read).
    g.bench_function("spare_filled_200_player_packets", |b| {
        b.iter(|| {
            let spare = reader.spare(64 * 1024);
            spare[..batch.len()].copy_from_slice(&batch);
            reader.filled(batch.len(), 64 * 1024);
            let mut n = 0usize;
            while let Some(f) = reader.next_frame().unwrap() {
                n += f.len();
            }
            n
        })
    });
    g.finish();
}

/// Reads one framed message from a blocking stream into `buf`; returns the
/// frame's length.
fn read_frame(stream: &mut UnixStream, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let len = u32::from_le_bytes(len) as usize;
    buf.resize(len, 0);
    stream.read_exact(&mut buf[..len])?;
    Ok(len)
}

fn round_trip(c: &mut Criterion) {
    // The "realm": answers each position with a Send to 39 players.
    let (mut ours, mut theirs) = UnixStream::pair().unwrap();
    let echo = std::thread::spawn(move || {
        let list = pids(39);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while read_frame(&mut theirs, &mut buf).is_ok() {
            if !matches!(decode::<ToRealm>(&buf), Ok(ToRealm::PlayerPacket { .. })) {
                return;
            }
            out.clear();
            encode(
                &FromRealm::Send {
                    to: Target::Players(&list),
                    delivery: Delivery::Unreliable,
                    bytes: &RELAYED,
                },
                &mut out,
            )
            .unwrap();
            if theirs.write_all(&out).is_err() {
                return;
            }
        }
    });
    let mut g = c.benchmark_group("ipc_socket");
    g.throughput(Throughput::Elements(1));
    let mut out = Vec::new();
    let mut buf = Vec::new();
    g.bench_function("round_trip_position_to_send", |b| {
        b.iter(|| {
            out.clear();
            encode(
                &ToRealm::PlayerPacket {
                    pid: 3,
                    bytes: &POSITION,
                },
                &mut out,
            )
            .unwrap();
            ours.write_all(&out).unwrap();
            read_frame(&mut ours, &mut buf).unwrap();
            match decode::<FromRealm>(&buf).unwrap() {
                FromRealm::Send { bytes, .. } => bytes.len(),
                _ => 0,
            }
        })
    });
    g.finish();
    out.clear();
    encode(&ToRealm::Shutdown, &mut out).unwrap();
    let _ = ours.write_all(&out);
    drop(ours);
    let _ = echo.join();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = messages, frames, round_trip
}
criterion_main!(benches);
