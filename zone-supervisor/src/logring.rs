//! The zone's recent log lines for `?lastlog`, and the optional log file
//! (`docs/protocol/commands-and-capabilities.md` §4.3).
//!
//! A `tracing` layer formats each event the filter lets through (`info`
//! and up unless `RUST_LOG` says otherwise) into one line and hands it
//! over a bounded channel; the zone task moves the lines into a ring of the
//! last [`RING_LINES`] and, when `[Log] File` is set, on to a writer thread
//! that appends them to the file and rotates it by size. Nothing waits on
//! anything: a full channel drops the line (counted). Realm workers'
//! stderr is piped through the supervisor ([`LineTap`], `realms.rs`): each
//! line goes on to the supervisor's stderr and into the ring.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, TrySendError};
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

/// Lines the ring keeps.
pub const RING_LINES: usize = 1000;
/// Lines waiting between the layer and the zone task.
const CHANNEL_LINES: usize = 4096;

/// The `tracing` layer feeding the ring.
pub struct RingLayer {
    tx: SyncSender<String>,
    dropped: Arc<AtomicU64>,
}

/// A handle that puts realm workers' stderr lines into the ring.
#[derive(Clone)]
pub struct LineTap {
    tx: SyncSender<String>,
    dropped: Arc<AtomicU64>,
}

/// `line` without ANSI colour sequences (`ESC [ ... letter`).
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl LineTap {
    /// A realm worker's stderr line (colours removed, marked with its
    /// realm); dropped and counted when the channel is full.
    pub fn line(&self, realm: &str, line: &str) {
        let text = format!("[realm {realm}] {}", strip_ansi(line).trim());
        if let Err(TrySendError::Full(_)) = self.tx.try_send(text) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The zone task's end: the channel, the ring and the file writer.
pub struct LogRing {
    tx: SyncSender<String>,
    rx: Receiver<String>,
    lines: VecDeque<String>,
    dropped: Arc<AtomicU64>,
    file: Option<Sender<FileCmd>>,
}

/// What the log file's thread is asked to do.
enum FileCmd {
    /// Append a line.
    Line(String),
    /// Flush to disk.
    Flush,
    /// Close and open the file again (after an outside rotation).
    Reopen,
    /// Answer once every line before this one is written (before an
    /// in-place upgrade's exec, which ends this thread).
    Sync(Sender<()>),
}

/// A new layer and the ring it feeds.
pub fn channel() -> (RingLayer, LogRing) {
    let (tx, rx) = std::sync::mpsc::sync_channel(CHANNEL_LINES);
    let dropped = Arc::new(AtomicU64::new(0));
    (
        RingLayer {
            tx: tx.clone(),
            dropped: dropped.clone(),
        },
        LogRing {
            tx,
            rx,
            lines: VecDeque::with_capacity(RING_LINES),
            dropped,
            file: None,
        },
    )
}

/// Collects an event's message and fields as `message k=v ...`.
#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

/// `HH:MM:SS` (UTC) of now.
fn clock() -> String {
    let secs = crate::bans::epoch_now().rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

impl<S: Subscriber> Layer<S> for RingLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut line = Line::default();
        event.record(&mut line);
        let meta = event.metadata();
        let text = format!(
            "{} {} {}: {}{}",
            clock(),
            meta.level(),
            meta.target(),
            line.message,
            line.fields
        );
        if let Err(TrySendError::Full(_)) = self.tx.try_send(text) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl LogRing {
    /// Appends the lines to `path` from now on, rotating it to `path.1`
    /// when it grows past `max_bytes` (0 = never).
    pub fn open_file(&mut self, path: PathBuf, max_bytes: u64) -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        let mut size = file.metadata().map_or(0, |m| m.len());
        let (tx, rx) = std::sync::mpsc::channel::<FileCmd>();
        std::thread::Builder::new()
            .name("log-file".into())
            .spawn(move || {
                let open = |p: &PathBuf| {
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(p)
                };
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    batch.extend(rx.try_iter());
                    for cmd in batch {
                        let line = match cmd {
                            FileCmd::Line(l) => l,
                            FileCmd::Flush => {
                                let _ = file.flush().and_then(|()| file.sync_data());
                                continue;
                            }
                            FileCmd::Sync(done) => {
                                let _ = file.flush();
                                let _ = done.send(());
                                continue;
                            }
                            FileCmd::Reopen => {
                                let _ = file.flush();
                                match open(&path) {
                                    Ok(f) => {
                                        size = f.metadata().map_or(0, |m| m.len());
                                        file = f;
                                    }
                                    Err(e) => {
                                        let _ = writeln!(
                                            std::io::stderr(),
                                            "log file {}: {e}",
                                            path.display()
                                        );
                                    }
                                }
                                continue;
                            }
                        };
                        if max_bytes > 0 && size >= max_bytes {
                            let _ = file.flush();
                            let old = path.with_extension(match path.extension() {
                                Some(e) => format!("{}.1", e.to_string_lossy()),
                                None => "1".to_string(),
                            });
                            let _ = std::fs::rename(&path, &old);
                            match std::fs::File::create(&path) {
                                Ok(f) => {
                                    file = f;
                                    size = 0;
                                }
                                Err(e) => {
                                    let _ = writeln!(
                                        std::io::stderr(),
                                        "log file {}: {e}",
                                        path.display()
                                    );
                                    return;
                                }
                            }
                        }
                        if writeln!(file, "{line}").is_ok() {
                            size += line.len() as u64 + 1;
                        }
                    }
                    let _ = file.flush();
                }
            })?;
        self.file = Some(tx);
        Ok(())
    }

    /// A handle for realm workers' stderr lines.
    pub fn tap(&self) -> LineTap {
        LineTap {
            tx: self.tx.clone(),
            dropped: self.dropped.clone(),
        }
    }

    /// Moves what the layer sent into the ring (and the file).
    pub fn drain(&mut self) {
        while let Ok(line) = self.rx.try_recv() {
            if let Some(f) = &self.file {
                let _ = f.send(FileCmd::Line(line.clone()));
            }
            if self.lines.len() == RING_LINES {
                self.lines.pop_front();
            }
            self.lines.push_back(line);
        }
    }

    /// `?admlogfile`: flush the log file, or reopen it; false when there
    /// is no log file.
    pub fn file_command(&mut self, reopen: bool) -> bool {
        self.drain();
        let cmd = if reopen {
            FileCmd::Reopen
        } else {
            FileCmd::Flush
        };
        self.file.as_ref().is_some_and(|f| f.send(cmd).is_ok())
    }

    /// Before an in-place upgrade's exec (`docs/upgrades.md` §3.2): moves
    /// what the layer sent into the ring, waits (at most `limit`) until
    /// the log file has every line, and returns the ring's lines for the
    /// next process.
    pub fn hand_over(&mut self, limit: std::time::Duration) -> Vec<String> {
        self.drain();
        if let Some(f) = &self.file {
            let (tx, rx) = std::sync::mpsc::channel();
            if f.send(FileCmd::Sync(tx)).is_ok() {
                let _ = rx.recv_timeout(limit);
            }
        }
        self.lines.iter().cloned().collect()
    }

    /// The ring's lines handed over by the previous process, put before
    /// those this process logged so far (the newest [`RING_LINES`] stay).
    pub fn take_over(&mut self, carried: Vec<String>) {
        self.drain();
        let mine = std::mem::take(&mut self.lines);
        for line in carried.into_iter().chain(mine) {
            if self.lines.len() == RING_LINES {
                self.lines.pop_front();
            }
            self.lines.push_back(line);
        }
    }

    /// Lines dropped because the channel was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The last `count` lines containing `filter` (case-insensitive; empty
    /// matches all), oldest first.
    pub fn last(&self, count: usize, filter: &str) -> Vec<String> {
        let filter = filter.to_ascii_lowercase();
        let mut out: Vec<String> = self
            .lines
            .iter()
            .rev()
            .filter(|l| filter.is_empty() || l.to_ascii_lowercase().contains(&filter))
            .take(count)
            .cloned()
            .collect();
        out.reverse();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn handed_over_lines_come_before_the_new_ones() {
        let (_layer, mut old) = channel();
        old.lines.push_back("old line".into());
        let carried = old.hand_over(std::time::Duration::from_secs(1));
        let (_layer, mut new) = channel();
        new.lines.push_back("new line".into());
        new.take_over(carried);
        assert_eq!(new.last(5, ""), vec!["old line", "new line"]);
    }

    #[test]
    fn events_reach_the_ring_and_filters_pick_lines() {
        let (layer, mut ring) = channel();
        let sub = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(sub, || {
            tracing::info!(pid = 3, name = "alice", "player logged in");
            tracing::warn!("config: bad line");
            for i in 0..RING_LINES {
                tracing::info!(i, "filler");
            }
            tracing::info!("the newest");
        });
        ring.drain();
        let last = ring.last(2, "");
        assert_eq!(last.len(), 2);
        assert!(
            last[1].ends_with("INFO zone_supervisor::logring::tests: the newest"),
            "{last:?}"
        );
        assert!(last[0].contains("filler i=999"), "{last:?}");
        assert!(
            ring.last(5, "LOGGED IN").is_empty(),
            "the ring keeps only the newest {RING_LINES}"
        );
        assert_eq!(ring.last(5, "filler").len(), 5);
        assert_eq!(ring.dropped(), 0);
    }

    #[test]
    fn realm_lines_come_through_the_tap_without_colours() {
        let (_layer, mut ring) = channel();
        let tap = ring.tap();
        tap.line(
            "duel",
            "\u{1b}[2m2026-12-02T10:00:00Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m realm_worker: command (arena): lockarena",
        );
        ring.drain();
        assert_eq!(
            ring.last(1, "lockarena"),
            vec![
                "[realm duel] 2026-12-02T10:00:00Z  INFO realm_worker: command (arena): lockarena"
            ]
        );
        assert_eq!(strip_ansi("plain"), "plain");
    }

    #[test]
    fn fields_follow_the_message() {
        let (layer, mut ring) = channel();
        let sub = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(sub, || {
            tracing::info!(pid = 3, name = "alice", "player logged in");
        });
        ring.drain();
        let l = &ring.last(1, "alice")[0];
        assert!(l.contains("player logged in pid=3 name=alice"), "{l}");
    }

    #[test]
    fn the_file_gets_the_lines_and_rotates() {
        let dir = std::env::temp_dir().join(format!("logring-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("zone.log");
        let (layer, mut ring) = channel();
        ring.open_file(path.clone(), 100).unwrap();
        let sub = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(sub, || {
            for i in 0..10 {
                tracing::info!(i, "a line long enough to need rotation soon");
            }
        });
        ring.drain();
        // Closing the channel lets the writer finish.
        ring.file = None;
        let rotated = dir.join("zone.log.1");
        let ok = (0..500).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            std::fs::read_to_string(&path).is_ok_and(|t| t.contains("i=9"))
        });
        assert!(ok, "the newest line reaches the file");
        assert!(rotated.exists(), "the file was rotated");
        let now = std::fs::metadata(&path).unwrap().len();
        assert!(now < 200, "the current file starts again ({now} bytes)");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reopening_follows_an_outside_rotation() {
        let dir = std::env::temp_dir().join(format!("logring-reopen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("zone.log");
        let (layer, mut ring) = channel();
        assert!(!ring.file_command(true), "no file yet");
        ring.open_file(path.clone(), 0).unwrap();
        let sub = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(sub, || {
            tracing::info!("before the rotation");
            ring.drain();
            std::fs::rename(&path, dir.join("zone.log.old")).unwrap();
            assert!(ring.file_command(true));
            tracing::info!("after the rotation");
            ring.drain();
            assert!(ring.file_command(false));
        });
        let ok = (0..500).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            std::fs::read_to_string(&path).is_ok_and(|t| t.contains("after the rotation"))
        });
        assert!(ok, "the reopened file gets the new lines");
        let now = std::fs::read_to_string(&path).unwrap();
        assert!(!now.contains("before the rotation"), "{now}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
