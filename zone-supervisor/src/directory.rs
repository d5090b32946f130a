//! Directory publishing: the zone announces itself, with its player count,
//! to every directory server listed in `[Directory]`
//! (`docs/protocol/directory.md`).
//!
//! The announcing runs in its own task: it owns the announcement socket,
//! resolves server names (on a blocking thread, never on the zone task),
//! and sends one datagram per server each round. The zone task only hands
//! it the player count and, on reload, fresh settings, over watch channels:
//! a directory server that is down or a name that does not resolve never
//! touches the zone loop. Names that failed to resolve are tried again each
//! round.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use conf::{ConfigFile, Warning};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tracing::{debug, info, warn};

/// The directory servers' usual port.
pub const DEFAULT_PORT: u16 = 4991;
/// Server keys read: `Server1` … `Server9` (gaps are skipped).
const SERVER_KEYS: u32 = 9;
/// Length of the name field (the name is cut to one less).
const NAME_LEN: usize = 32;
/// Length of the password field.
const PASSWORD_LEN: usize = 48;
/// Longest description sent.
const DESCRIPTION_MAX: usize = 385;
/// The version number directory servers expect.
const VERSION: u32 = 134;
/// Bytes before the description.
const HEADER_LEN: usize = 94;

/// One configured directory server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirServer {
    /// The key it was set by (`Directory:Server2`), for log lines.
    pub key: String,
    /// Host name or IPv4 address.
    pub host: String,
    /// Destination port.
    pub port: u16,
}

/// The `[Directory]` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryConfig {
    /// Zone name (`Directory:Name`); without one nothing is announced.
    pub name: Option<String>,
    /// Description (`Directory:Description`).
    pub description: String,
    /// Directory password (`Directory:Password`, default `cane`).
    pub password: String,
    /// The servers to announce to.
    pub servers: Vec<DirServer>,
    /// Delay of the first round after start
    /// (`Directory:FirstAnnounceMillis`, default 10 s as ASSS).
    pub first_delay: Duration,
    /// Time between rounds (`Directory:AnnounceMillis`, default 60 s as
    /// ASSS).
    pub interval: Duration,
}

impl DirectoryConfig {
    /// Whether anything is to be announced.
    pub fn active(&self) -> bool {
        self.name.is_some() && !self.servers.is_empty()
    }

    /// Reads `[Directory]` from the global config. Every malformed value is
    /// one warning naming its key: a server that is not a host name or IPv4
    /// address is skipped, a bad port replaced by the default, and servers
    /// without `Directory:Name` announce nothing.
    pub fn read(global: &ConfigFile) -> (DirectoryConfig, Vec<Warning>) {
        let mut warnings = Vec::new();
        let sec = "Directory";
        let text = |key: &str| global.get_text(sec, key);
        let (base_port, w) =
            global.get_int_checked(sec, "Port", i64::from(DEFAULT_PORT), 1..=65535);
        warnings.extend(w);
        let mut servers = Vec::new();
        for i in 1..=SERVER_KEYS {
            let key = format!("Server{i}");
            let Some(host) = text(&key) else { continue };
            let (port, w) = global.get_int_checked(sec, &format!("Port{i}"), base_port, 1..=65535);
            warnings.extend(w);
            if !valid_host(host) {
                warnings.push(global.bad_value(
                    sec,
                    &key,
                    host,
                    "is not a host name or IPv4 address".into(),
                    "no announcement to it".into(),
                ));
                continue;
            }
            servers.push(DirServer {
                key: format!("{sec}:{key}"),
                host: host.to_string(),
                port: port as u16,
            });
        }
        let name = text("Name").map(|n| truncate(n, NAME_LEN - 1).to_string());
        if name.is_none() && !servers.is_empty() {
            warnings.push(global.bad_value(
                sec,
                "Name",
                "",
                format!("is missing while {} is set", servers[0].key),
                "no directory announcements".into(),
            ));
        }
        let password = text("Password").unwrap_or("cane");
        let (first, w) = global.get_int_checked(sec, "FirstAnnounceMillis", 10_000, 0..=3_600_000);
        warnings.extend(w);
        let (every, w) = global.get_int_checked(sec, "AnnounceMillis", 60_000, 100..=3_600_000);
        warnings.extend(w);
        let cfg = DirectoryConfig {
            name,
            description: truncate(text("Description").unwrap_or(""), DESCRIPTION_MAX).to_string(),
            password: truncate(password, PASSWORD_LEN - 1).to_string(),
            servers,
            first_delay: Duration::from_millis(first as u64),
            interval: Duration::from_millis(every as u64),
        };
        (cfg, warnings)
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A host name (letters, digits, `-`, dot-separated labels of 1–63
/// characters, 253 at most) or a dotted IPv4 address.
fn valid_host(host: &str) -> bool {
    if host.parse::<Ipv4Addr>().is_ok() {
        return true;
    }
    // Four dot-separated numbers that did not parse are a bad address,
    // not a name.
    if host
        .split('.')
        .all(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    host.len() <= 253
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Encodes one announcement datagram (`docs/protocol/directory.md` §2): the header, then
/// the description up to and including its NUL.
pub fn encode_announcement(cfg: &DirectoryConfig, port: u16, players: u16, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&port.to_le_bytes());
    out.extend_from_slice(&players.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&VERSION.to_le_bytes());
    let mut field = |s: &str, len: usize| {
        let s = truncate(s, len - 1).as_bytes();
        out.extend_from_slice(s);
        out.resize(out.len() + len - s.len(), 0);
    };
    field(cfg.name.as_deref().unwrap_or(""), NAME_LEN);
    field(&cfg.password, PASSWORD_LEN);
    debug_assert_eq!(out.len(), HEADER_LEN);
    out.extend_from_slice(truncate(&cfg.description, DESCRIPTION_MAX).as_bytes());
    out.push(0);
}

/// The zone task's handle on the announcing task.
pub struct Directory {
    config: watch::Sender<Arc<DirectoryConfig>>,
    players: watch::Sender<u16>,
}

impl Directory {
    /// Starts the announcing task for the zone's game port.
    pub fn start(cfg: DirectoryConfig, game_port: u16) -> Directory {
        let (config, config_rx) = watch::channel(Arc::new(cfg));
        let (players, players_rx) = watch::channel(0u16);
        tokio::spawn(announce_task(config_rx, players_rx, game_port));
        Directory { config, players }
    }

    /// The zone's current player count, sent with the next round.
    pub fn set_population(&self, n: usize) {
        let n = u16::try_from(n).unwrap_or(u16::MAX);
        self.players.send_if_modified(|v| {
            let changed = *v != n;
            *v = n;
            changed
        });
    }

    /// New settings after a reload: the names are resolved again.
    pub fn configure(&self, cfg: DirectoryConfig) {
        let _ = self.config.send(Arc::new(cfg));
    }
}

/// Resolves each server to its first IPv4 address (`None`: failed).
fn resolve(servers: &[DirServer]) -> Vec<Option<SocketAddrV4>> {
    servers
        .iter()
        .map(|s| {
            let found = (s.host.as_str(), s.port).to_socket_addrs().ok()?.find_map(|a| match a {
                SocketAddr::V4(v4) => Some(v4),
                SocketAddr::V6(_) => None,
            });
            if found.is_none() {
                warn!(key = %s.key, host = %s.host, "directory server name did not resolve; retrying each round");
            }
            found
        })
        .collect()
}

/// Resolves on a blocking thread.
async fn resolve_off_task(servers: Vec<DirServer>) -> Vec<Option<SocketAddrV4>> {
    let n = servers.len();
    tokio::task::spawn_blocking(move || resolve(&servers))
        .await
        .unwrap_or_else(|_| vec![None; n])
}

async fn announce_task(
    mut config_rx: watch::Receiver<Arc<DirectoryConfig>>,
    players_rx: watch::Receiver<u16>,
    game_port: u16,
) {
    let mut socket: Option<UdpSocket> = None;
    let mut next: Option<tokio::time::Instant> = None;
    let mut buf = Vec::with_capacity(HEADER_LEN + DESCRIPTION_MAX + 1);
    loop {
        let cfg = config_rx.borrow_and_update().clone();
        if !cfg.active() {
            if config_rx.changed().await.is_err() {
                return;
            }
            continue;
        }
        let mut addrs = resolve_off_task(cfg.servers.clone()).await;
        info!(
            servers = cfg.servers.len(),
            resolved = addrs.iter().flatten().count(),
            "directory announcements on"
        );
        let mut due = next.unwrap_or_else(|| tokio::time::Instant::now() + cfg.first_delay);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(due) => {
                    // Names that did not resolve are tried again.
                    if addrs.iter().any(Option::is_none) {
                        let again = resolve_off_task(cfg.servers.clone()).await;
                        for (a, b) in addrs.iter_mut().zip(again) {
                            if a.is_none() {
                                *a = b;
                            }
                        }
                    }
                    if socket.is_none() {
                        socket = bind_socket(&addrs);
                    }
                    if let Some(sock) = &socket {
                        let players = *players_rx.borrow();
                        encode_announcement(&cfg, game_port, players, &mut buf);
                        for (server, addr) in cfg.servers.iter().zip(&addrs) {
                            let Some(addr) = addr else { continue };
                            // A server that is down costs a lost datagram.
                            if let Err(e) = sock.try_send_to(&buf, SocketAddr::V4(*addr)) {
                                debug!(key = %server.key, %addr, "directory announcement not sent: {e}");
                            }
                        }
                    }
                    due += cfg.interval;
                    let now = tokio::time::Instant::now();
                    if due < now {
                        due = now + cfg.interval;
                    }
                    next = Some(due);
                }
                r = config_rx.changed() => {
                    if r.is_err() {
                        return;
                    }
                    break;
                }
            }
        }
    }
}

/// The announcement socket: an ephemeral port, on loopback when every
/// server is on loopback (directory servers learn the zone's address from
/// the datagram's source).
fn bind_socket(addrs: &[Option<SocketAddrV4>]) -> Option<UdpSocket> {
    let local = if addrs.iter().flatten().all(|a| a.ip().is_loopback()) {
        Ipv4Addr::LOCALHOST
    } else {
        Ipv4Addr::UNSPECIFIED
    };
    let sock = std::net::UdpSocket::bind((local, 0)).and_then(|s| {
        s.set_nonblocking(true)?;
        UdpSocket::from_std(s)
    });
    match sock {
        Ok(s) => Some(s),
        Err(e) => {
            warn!("directory announcement socket: {e}; retrying next round");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> (DirectoryConfig, Vec<Warning>) {
        let file = ConfigFile::parse_str(text).unwrap();
        DirectoryConfig::read(&file)
    }

    #[test]
    fn announcement_layout() {
        let (cfg, w) =
            config("[Directory]\nName = Zone\nDescription = Hi there\nServer1 = 127.0.0.1\n");
        assert!(w.is_empty(), "{w:?}");
        let mut out = Vec::new();
        encode_announcement(&cfg, 5000, 7, &mut out);
        assert_eq!(out.len(), HEADER_LEN + "Hi there".len() + 1);
        assert_eq!(&out[0..4], &[0, 0, 0, 0]);
        assert_eq!(&out[4..6], &5000u16.to_le_bytes());
        assert_eq!(&out[6..8], &7u16.to_le_bytes());
        assert_eq!(&out[8..10], &1u16.to_le_bytes());
        assert_eq!(&out[10..14], &134u32.to_le_bytes());
        assert_eq!(&out[14..18], b"Zone");
        assert!(out[18..46].iter().all(|&b| b == 0));
        assert_eq!(&out[46..50], b"cane");
        assert_eq!(&out[94..102], b"Hi there");
        assert_eq!(out.last(), Some(&0));
        assert_eq!(cfg.servers[0].port, DEFAULT_PORT);
    }

    #[test]
    fn long_fields_are_cut() {
        let long = "n".repeat(50);
        let desc = "d".repeat(500);
        let (cfg, _) = config(&format!(
            "[Directory]\nName = {long}\nDescription = {desc}\nPassword = {desc}\nServer1 = a.example\n"
        ));
        let mut out = Vec::new();
        encode_announcement(&cfg, 1, 0, &mut out);
        assert_eq!(out.len(), HEADER_LEN + DESCRIPTION_MAX + 1);
        assert_eq!(out[14 + 31], 0);
        assert_eq!(out[46 + 47], 0);
    }

    #[test]
    fn malformed_settings_name_their_key() {
        let (cfg, w) = config(
            "[Directory]\nServer1 = bad host!\nServer3 = 10.0.0\nServer4 = dir.example\nPort4 = 99999\n",
        );
        let text: Vec<String> = w.iter().map(ToString::to_string).collect();
        assert!(
            text.iter().any(|t| t.contains("Directory:Server1")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|t| t.contains("Directory:Server3")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|t| t.contains("Directory:Port4")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|t| t.contains("Directory:Name")),
            "{text:?}"
        );
        assert_eq!(cfg.servers.len(), 1);
        assert_eq!(cfg.servers[0].port, DEFAULT_PORT);
        assert!(!cfg.active());
    }

    #[test]
    fn per_server_ports_and_gaps() {
        let (cfg, w) = config(
            "[Directory]\nName = Z\nPort = 4000\nServer2 = localhost\nServer5 = 1.2.3.4\nPort5 = 4100\n",
        );
        assert!(w.is_empty(), "{w:?}");
        assert!(cfg.active());
        let ports: Vec<u16> = cfg.servers.iter().map(|s| s.port).collect();
        assert_eq!(ports, vec![4000, 4100]);
        assert_eq!(cfg.servers[0].key, "Directory:Server2");
    }
}
