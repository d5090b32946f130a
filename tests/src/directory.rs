//! A test directory server, written from `docs/protocol/directory.md`: a
//! UDP socket on 127.0.0.1 that decodes every announcement strictly (layout,
//! fixed values, field padding, length cut after the description's NUL)
//! and keeps them, with anything malformed, for the test to check.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// One decoded announcement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announcement {
    /// Where it came from.
    pub from: SocketAddr,
    /// The zone's game port.
    pub port: u16,
    /// The player count.
    pub players: u16,
    /// Zone name.
    pub name: String,
    /// Directory password.
    pub password: String,
    /// Description.
    pub description: String,
}

/// Bytes before the description.
const HEADER_LEN: usize = 94;

/// Decodes an announcement datagram, refusing anything the protocol does
/// not allow.
pub fn decode(from: SocketAddr, d: &[u8]) -> Result<Announcement> {
    if d.len() < HEADER_LEN + 1 || d.len() > 480 {
        bail!("length {} outside 95..=480", d.len());
    }
    let u16_at = |o: usize| u16::from_le_bytes([d[o], d[o + 1]]);
    let u32_at = |o: usize| u32::from_le_bytes([d[o], d[o + 1], d[o + 2], d[o + 3]]);
    if u32_at(0) != 0 {
        bail!("IP field {:#x}, not 0", u32_at(0));
    }
    if u16_at(8) != 1 {
        bail!("scorekeeping {}, not 1", u16_at(8));
    }
    if u32_at(10) != 134 {
        bail!("version {}, not 134", u32_at(10));
    }
    let padded = |field: &[u8], what: &str| -> Result<String> {
        let end = field
            .iter()
            .position(|&b| b == 0)
            .with_context(|| format!("{what} has no NUL"))?;
        if field[end..].iter().any(|&b| b != 0) {
            bail!("{what} is not NUL-padded");
        }
        Ok(String::from_utf8_lossy(&field[..end]).into_owned())
    };
    let name = padded(&d[14..46], "name")?;
    let password = padded(&d[46..94], "password")?;
    let desc = &d[HEADER_LEN..];
    let end = desc
        .iter()
        .position(|&b| b == 0)
        .context("description has no NUL")?;
    if end + 1 != desc.len() {
        bail!(
            "datagram goes on {} bytes after the description's NUL",
            desc.len() - end - 1
        );
    }
    if end > 385 {
        bail!("description of {end} bytes");
    }
    Ok(Announcement {
        from,
        port: u16_at(4),
        players: u16_at(6),
        name,
        password,
        description: String::from_utf8_lossy(&desc[..end]).into_owned(),
    })
}

#[derive(Default)]
struct Log {
    announcements: Vec<Announcement>,
    errors: Vec<String>,
}

/// A directory server listening on 127.0.0.1 (stopped when dropped).
pub struct TestDirectory {
    addr: SocketAddr,
    log: Arc<Mutex<Log>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TestDirectory {
    /// Binds an ephemeral port and starts receiving.
    pub fn start() -> Result<TestDirectory> {
        let sock = UdpSocket::bind("127.0.0.1:0")?;
        sock.set_read_timeout(Some(Duration::from_millis(50)))?;
        let addr = sock.local_addr()?;
        let log = Arc::new(Mutex::new(Log::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log2, stop2) = (log.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stop2.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let mut log = log2.lock().unwrap_or_else(|e| e.into_inner());
                match decode(from, &buf[..n]) {
                    Ok(a) => log.announcements.push(a),
                    Err(e) => log.errors.push(format!("from {from}: {e:#}")),
                }
            }
        });
        Ok(TestDirectory {
            addr,
            log,
            stop,
            thread: Some(thread),
        })
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every announcement received so far.
    pub fn announcements(&self) -> Vec<Announcement> {
        self.lock().announcements.clone()
    }

    /// Every malformed datagram received so far.
    pub fn errors(&self) -> Vec<String> {
        self.lock().errors.clone()
    }

    /// Waits up to `timeout` for an announcement received after the first
    /// `after` ones that satisfies `pred`.
    pub fn wait_for(
        &self,
        after: usize,
        timeout: Duration,
        mut pred: impl FnMut(&Announcement) -> bool,
    ) -> Result<Announcement> {
        let mut found = None;
        crate::wait_until(timeout, || {
            found = self
                .lock()
                .announcements
                .iter()
                .skip(after)
                .find(|a| pred(a))
                .cloned();
            found.is_some()
        });
        found.with_context(|| {
            format!(
                "no matching announcement; got {:?}, errors {:?}",
                self.announcements(),
                self.errors()
            )
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for TestDirectory {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
