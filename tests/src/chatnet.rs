//! A chatnet test client (`docs/protocol/chatnet.md`): a TCP connection to
//! the zone's chat listener that sends lines and waits for lines, every
//! wait bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// A connected chatnet client.
pub struct ChatClient {
    stream: TcpStream,
    partial: Vec<u8>,
    /// Every line received so far, oldest first.
    pub seen: Vec<String>,
    /// Lines not yet consumed by [`ChatClient::wait_line`].
    unread: usize,
}

impl ChatClient {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> Result<ChatClient> {
        let s = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
        s.set_read_timeout(Some(Duration::from_millis(100)))?;
        Ok(ChatClient {
            stream: s,
            partial: Vec::new(),
            seen: Vec::new(),
            unread: 0,
        })
    }

    /// Sends one line (LF added).
    pub fn send(&mut self, line: &str) -> Result<()> {
        self.stream.write_all(format!("{line}\n").as_bytes())?;
        Ok(())
    }

    /// Sends raw bytes (no terminator added).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes)?;
        Ok(())
    }

    /// Waits up to `timeout` for a line (after the ones already consumed)
    /// that satisfies `pred`; consumes it and the lines before it.
    pub fn wait_line(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&str) -> bool,
    ) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            while self.unread < self.seen.len() {
                let l = &self.seen[self.unread];
                self.unread += 1;
                if pred(l) {
                    return Ok(l.clone());
                }
            }
            if Instant::now() >= deadline {
                bail!("no matching line within {timeout:?}; got {:?}", self.seen);
            }
            let mut buf = [0u8; 4096];
            match self.stream.read(&mut buf) {
                Ok(0) => bail!("connection closed; got {:?}", self.seen),
                Ok(n) => {
                    self.partial.extend_from_slice(&buf[..n]);
                    while let Some(i) = self.partial.iter().position(|&b| b == b'\n') {
                        let line: Vec<u8> = self.partial.drain(..=i).collect();
                        let l = String::from_utf8_lossy(&line);
                        self.seen.push(l.trim_end_matches(['\r', '\n']).to_string());
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Waits for a line equal to `want`.
    pub fn expect(&mut self, timeout: Duration, want: &str) -> Result<String> {
        self.wait_line(timeout, |l| l == want)
    }
}
