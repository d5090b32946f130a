//! Core transport, server role: any sequence of datagrams from a client,
//! interleaved with time passing and with the server queueing its own
//! traffic. Checks that nothing panics and that every datagram the server
//! builds fits in a packet.
//!
//! Input layout: one flags byte (bit 0: VIE-encrypted link, bit 1:
//! Continuum, bit 2: a tiny receive window and outgoing limit), then
//! commands until the input runs out:
//! - `0..=5`: a datagram follows, one length byte then that many bytes
//!   (a length of 255 takes two more length bytes, for datagrams up to
//!   the 520-byte limit and beyond); the client side encrypts it with the
//!   link's key so the fuzzer's bytes reach the server in plain;
//! - `6`: time passes (next byte × 50 ms);
//! - `7`: the server queues a reliable packet (next byte = length);
//! - `8`: the server queues an unreliable packet;
//! - `9`: the server queues a sized stream (next two bytes = length);
//! - anything else: the server disconnects.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use ss_proto::crypto::{vie_server_key, Cipher};
use ss_proto::transport::{
    Connection, Priority, Reliability, TickClock, TransportConfig, MAX_PACKET,
};

/// A fixed client key, as a real client would pick (bit 31 set).
const CLIENT_KEY: u32 = 0x8123_4567;

struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let Some(flags) = input.byte() else {
        return;
    };
    let encrypted = flags & 1 != 0;
    let continuum = flags & 2 != 0;
    let mut cfg = TransportConfig::default();
    if flags & 4 != 0 {
        cfg.recv_window = 4;
        cfg.send_window = 3;
        cfg.max_outgoing = 20;
        cfg.max_big_packet = 2000;
        cfg.max_sized_receive = 3000;
        cfg.max_unreliable_bytes = 600;
    }
    let mut now = Instant::now();
    let key = if encrypted {
        vie_server_key(CLIENT_KEY)
    } else {
        0
    };
    let client_cipher = Cipher::for_key(key);
    let mut conn = Connection::server(now, cfg, TickClock::new(now, 0), key, continuum);
    let mut delivered = 0usize;

    while let Some(cmd) = input.byte() {
        match cmd {
            0..=5 => {
                let mut len = input.byte().unwrap_or(0) as usize;
                if len == 255 {
                    len += input.byte().unwrap_or(0) as usize + input.byte().unwrap_or(0) as usize;
                }
                let mut datagram = input.take(len).to_vec();
                client_cipher.encrypt(&mut datagram);
                conn.handle_datagram(now, &mut datagram, &mut |pkt| {
                    assert!(!pkt.is_empty());
                    delivered += pkt.len();
                });
            }
            6 => now += Duration::from_millis(50 * u64::from(input.byte().unwrap_or(0))),
            7 => {
                let len = input.byte().unwrap_or(1).max(1) as usize;
                let payload = vec![0x07u8; len * 3];
                conn.send(&payload, Reliability::Reliable, Priority::Normal);
            }
            8 => {
                let len = input.byte().unwrap_or(1).max(1) as usize;
                let payload = vec![0x28u8; len];
                conn.send(&payload, Reliability::Unreliable, Priority::High);
            }
            9 => {
                let len =
                    u16::from_le_bytes([input.byte().unwrap_or(1), input.byte().unwrap_or(0)]);
                let mut payload = vec![0x2Au8; usize::from(len).max(1)];
                payload[0] = 0x2A;
                conn.send_sized(Arc::from(payload));
            }
            _ => conn.disconnect(),
        }
        conn.poll_transmit(now, &mut |out| {
            assert!(!out.is_empty());
            assert!(
                out.len() <= MAX_PACKET,
                "built a {}-byte datagram",
                out.len()
            );
        });
        while conn.poll_event().is_some() {}
        let _ = conn.next_deadline();
        let _ = conn.has_pending();
    }
    let _ = delivered;
});
