//! Benchmarks of the zone's hot protocol code: VIE encryption, the core
//! transport on a received datagram, building one player's per-tick
//! datagrams, and position decoding, encoding and relaying.
//!
//! Run with `cargo bench -p ss-proto` (add `-- --quick` for a short run).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ss_proto::crypto::Cipher;
use ss_proto::game::{
    relay_position, ExtraLen, Position, SmallPosition, WeaponInfo, MAX_RELAY_LEN,
};
use ss_proto::transport::{Connection, Priority, Reliability, TickClock, TransportConfig};

/// The key both ends of the benchmark connections use.
const KEY: u32 = 0x1234_5678;

/// A typical client position (22 bytes, no weapon).
fn position(n: u32) -> Position {
    Position {
        rotation: (n % 40) as i8,
        time: 100_000 + n,
        x: 8192 + (n % 300) as i16,
        y: 8192 - (n % 200) as i16,
        x_speed: 120,
        y_speed: -40,
        status: 0,
        bounty: 3,
        energy: 1000,
        weapon: WeaponInfo::NONE,
        extra: None,
    }
}

fn encoded_position(n: u32) -> Vec<u8> {
    let mut v = Vec::new();
    position(n).encode(&mut v);
    v
}

/// A server-side connection with VIE encryption, open.
fn server_conn(now: Instant) -> Connection {
    Connection::server(
        now,
        TransportConfig::default(),
        TickClock::new(now, 0),
        KEY,
        false,
    )
}

fn vie(c: &mut Criterion) {
    let cipher = Cipher::for_key(KEY);
    let mut g = c.benchmark_group("vie");
    for size in [32usize, 512] {
        let mut buf: Vec<u8> = (0..size).map(|i| i as u8).collect();
        buf[0] = 0x03;
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(format!("encrypt_{size}"), |b| {
            b.iter(|| cipher.encrypt(black_box(&mut buf)))
        });
        g.bench_function(format!("decrypt_{size}"), |b| {
            b.iter(|| cipher.decrypt(black_box(&mut buf)))
        });
    }
    g.bench_function("key_table", |b| b.iter(|| Cipher::for_key(black_box(KEY))));
    g.finish();
}

fn transport_receive(c: &mut Criterion) {
    let now = Instant::now();
    let cipher = Cipher::for_key(KEY);
    let mut g = c.benchmark_group("transport_receive");
    g.throughput(Throughput::Elements(1));

    // One position, as a client sends it ten times a second.
    let mut single = encoded_position(1);
    cipher.encrypt(&mut single);
    let mut conn = server_conn(now);
    let mut buf = [0u8; 64];
    g.bench_function("position_datagram", |b| {
        b.iter(|| {
            let d = &mut buf[..single.len()];
            d.copy_from_slice(&single);
            let mut got = 0usize;
            conn.handle_datagram(now, d, &mut |p| got += p.len());
            black_box(got)
        })
    });

    // A cluster: a position plus a time sync request, as clients send them.
    let mut cluster = vec![0x00, 0x0E];
    let pos = encoded_position(2);
    cluster.push(pos.len() as u8);
    cluster.extend_from_slice(&pos);
    let mut sync = [0u8; 14];
    sync[1] = 0x05;
    cluster.push(sync.len() as u8);
    cluster.extend_from_slice(&sync);
    cipher.encrypt(&mut cluster);
    let mut conn = server_conn(now);
    let mut buf = [0u8; 128];
    g.bench_function("cluster_position_sync", |b| {
        b.iter(|| {
            let d = &mut buf[..cluster.len()];
            d.copy_from_slice(&cluster);
            let mut got = 0usize;
            conn.handle_datagram(now, d, &mut |p| got += p.len());
            // The time sync reply is queued; send it so the queue stays small.
            conn.poll_transmit(now, &mut |d| got += d.len());
            black_box(got)
        })
    });
    g.finish();
}

fn transport_transmit(c: &mut Criterion) {
    let now = Instant::now();
    let mut g = c.benchmark_group("transport_tick");
    let mut relayed = [0u8; MAX_RELAY_LEN];
    let len = relay_position(&position(7), 17, 100_000, 3, ExtraLen::None, &mut relayed);
    let relayed = relayed[..len].to_vec();
    for others in [39usize, 199] {
        // One player's tick in an arena of `others + 1`: a position from
        // everyone else, queued, then clustered, encrypted and emitted.
        let mut conn = server_conn(now);
        g.throughput(Throughput::Elements(others as u64));
        g.bench_function(format!("cluster_{others}_positions"), |b| {
            b.iter(|| {
                for _ in 0..others {
                    conn.send(&relayed, Reliability::Unreliable, Priority::Normal);
                }
                let mut datagrams = 0usize;
                conn.poll_transmit(now, &mut |d| datagrams += d.len());
                black_box(datagrams)
            })
        });
    }
    // Reliable traffic: a chat line queued and acknowledged each round.
    let mut conn = server_conn(now);
    let chat = [0x07u8; 60];
    let mut seq: i32 = 0;
    let cipher = Cipher::for_key(KEY);
    g.throughput(Throughput::Elements(1));
    g.bench_function("reliable_send_and_ack", |b| {
        b.iter(|| {
            conn.send(&chat, Reliability::Reliable, Priority::Normal);
            let mut n = 0usize;
            conn.poll_transmit(now, &mut |d| n += d.len());
            let mut ack = [0u8, 0x04, 0, 0, 0, 0];
            ack[2..6].copy_from_slice(&seq.to_le_bytes());
            cipher.encrypt(&mut ack);
            conn.handle_datagram(now, &mut ack, &mut |_| {});
            seq = seq.wrapping_add(1);
            black_box(n)
        })
    });
    g.finish();
}

fn positions(c: &mut Criterion) {
    let mut g = c.benchmark_group("position");
    g.throughput(Throughput::Elements(1));
    let bytes = encoded_position(3);
    g.bench_function("decode_c2s", |b| {
        b.iter(|| Position::decode(black_box(&bytes)))
    });
    let pos = position(4);
    g.bench_function("encode_c2s", |b| {
        let mut buf = [0u8; Position::MAX_LEN];
        b.iter(|| black_box(&pos).encode_into(&mut buf))
    });
    g.bench_function("relay_position", |b| {
        let mut out = [0u8; MAX_RELAY_LEN];
        b.iter(|| {
            relay_position(
                black_box(&pos),
                black_box(42),
                100_000,
                5,
                ExtraLen::None,
                &mut out,
            )
        })
    });
    let mut relayed = [0u8; MAX_RELAY_LEN];
    let len = relay_position(&pos, 42, 100_000, 5, ExtraLen::None, &mut relayed);
    g.bench_function("decode_s2c_small", |b| {
        b.iter(|| SmallPosition::decode(black_box(&relayed[..len])))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = vie, transport_receive, transport_transmit, positions
}
criterion_main!(benches);
