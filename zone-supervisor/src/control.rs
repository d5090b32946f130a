//! The control socket: a Unix-domain stream socket (owner-only) on which
//! the operator CLI asks for stats, realm restarts and config reloads.
//!
//! One request per connection: a command line (`stats`, `restart NAME`,
//! `reload`, `upgrade-realms [PATH]`, `upgrade-status`,
//! `upgrade-supervisor [PATH]` — `docs/upgrades.md`), answered with one
//! line of JSON, then the connection closes.
//! The accept task only forwards requests; the zone task answers them.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

/// Longest command line accepted.
const MAX_REQUEST: u64 = 4096;

/// A request from the operator, with the channel for its answer.
pub struct ControlRequest {
    /// The command line, trimmed.
    pub command: String,
    /// Where the JSON answer goes.
    pub reply: oneshot::Sender<String>,
    /// Fires once the answer has been written to the operator (or the
    /// connection is gone): an in-place upgrade execs only after that.
    pub written: oneshot::Receiver<()>,
}

/// Longest socket path that fits `sun_path` (108 bytes with its NUL) with
/// room to spare.
const MAX_SOCKET_PATH: usize = 100;

/// The control socket path when none is given with `--control`:
///
/// - under systemd (`$RUNTIME_DIRECTORY`): `control.sock` there;
/// - for a zone folder: `<zone folder>/run/control.sock` (the folder made
///   absolute), or, if that path is too long for a socket,
///   `zone-<hash of the folder>.sock` in the runtime folder below;
/// - for the embedded zone: `control.sock` in the runtime folder,
///   `$XDG_RUNTIME_DIR/subsumption`, else `/tmp/subsumption-UID`.
///
/// The CLI computes the same path from `--zone DIR`, so each zone folder
/// has its own socket.
pub fn default_path(zone_dir: Option<&Path>) -> PathBuf {
    if let Some(dir) = std::env::var_os("RUNTIME_DIRECTORY") {
        // systemd may list several folders separated by ':'; use the first.
        let first = dir
            .to_string_lossy()
            .split(':')
            .next()
            .unwrap_or("")
            .to_string();
        if !first.is_empty() {
            return Path::new(&first).join("control.sock");
        }
    }
    match zone_dir {
        Some(zone) => {
            let zone = absolute(zone);
            let path = zone.join("run").join("control.sock");
            if path.as_os_str().len() <= MAX_SOCKET_PATH {
                path
            } else {
                let hash = fnv1a(zone.as_os_str().as_encoded_bytes());
                runtime_dir().join(format!("zone-{hash:016x}.sock"))
            }
        }
        None => runtime_dir().join("control.sock"),
    }
}

/// `dir` made absolute, symlinks resolved when it exists, so that `run`
/// and the CLI agree whatever their working folders.
fn absolute(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir)
        .or_else(|_| std::path::absolute(dir))
        .unwrap_or_else(|_| dir.to_path_buf())
}

/// The per-user folder for sockets of zones without their own folder.
fn runtime_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return Path::new(&dir).join("subsumption");
    }
    PathBuf::from(format!("/tmp/subsumption-{}", euid()))
}

/// This process's effective user id.
fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// 64-bit FNV-1a: a stable hash (the same in every build and process).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Makes sure `dir` is a folder only this user can enter: creates it with
/// mode 0700 if it is absent; refuses it unless it is a real folder (not a
/// symlink) owned by this user with mode 0700. Anyone else able to write
/// there could swap the socket for their own.
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {
            // The umask may have removed bits we need (never added any).
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("restricting {}", dir.display()))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
    }
    let meta =
        std::fs::symlink_metadata(dir).with_context(|| format!("inspecting {}", dir.display()))?;
    if !meta.file_type().is_dir() {
        bail!(
            "refusing control folder {}: not a folder (a symlink or a file)",
            dir.display()
        );
    }
    let uid = euid();
    if meta.uid() != uid {
        bail!(
            "refusing control folder {}: owned by uid {}, not by this user (uid {uid})",
            dir.display(),
            meta.uid()
        );
    }
    let mode = meta.mode() & 0o7777;
    if mode != 0o700 {
        bail!(
            "refusing control folder {}: mode {mode:04o}, must be 0700",
            dir.display()
        );
    }
    Ok(())
}

/// Whether a peer with user id `uid` may use the control socket: this
/// user and root.
fn peer_allowed(uid: u32) -> bool {
    uid == 0 || uid == euid()
}

/// The user id of the process at the other end of a control connection.
fn peer_uid(stream: &UnixStream) -> Result<u32> {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    let cred = getsockopt(stream, PeerCredentials).context("reading the peer's credentials")?;
    Ok(cred.uid())
}

/// Binds the control socket with owner-only permissions and starts the
/// task that accepts requests. `private_dir`: the socket's folder is a
/// default one, which is created 0700 and refused unless it is this user's
/// with mode 0700 (see [`ensure_private_dir`]). A socket someone still
/// answers on is never taken over.
pub fn listen(
    path: &Path,
    private_dir: bool,
    requests: mpsc::UnboundedSender<ControlRequest>,
) -> Result<std::os::fd::RawFd> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if private_dir {
            ensure_private_dir(dir)?;
        } else if !dir.exists() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("restricting {}", dir.display()))?;
        }
    }
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        if !meta.file_type().is_socket() {
            bail!(
                "{} exists and is not a socket; not replacing it with the control socket",
                path.display()
            );
        }
        // A socket left by a previous run; refuse if someone still answers.
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            bail!(
                "another zone is using the control socket {}",
                path.display()
            );
        }
        std::fs::remove_file(path).with_context(|| format!("removing stale {}", path.display()))?;
    }
    // SAFETY: umask only changes this process's file creation mask.
    let old = unsafe { libc::umask(0o177) };
    let bound = UnixListener::bind(path);
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    let listener = bound.with_context(|| format!("binding {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("restricting {}", path.display()))?;
    Ok(accept_loop(listener, requests))
}

/// Takes on the control socket the previous supervisor process listened
/// on (in-place upgrade, `docs/upgrades.md` §3): connections made during
/// the exec wait in its backlog and are answered here.
pub fn adopt(
    fd: std::os::fd::RawFd,
    requests: mpsc::UnboundedSender<ControlRequest>,
) -> Result<std::os::fd::RawFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: the previous process handed this listening socket over and
    // nothing else in this process owns it.
    let std_listener = unsafe { std::os::unix::net::UnixListener::from_raw_fd(fd) };
    std_listener
        .set_nonblocking(true)
        .context("control socket non-blocking")?;
    let listener =
        UnixListener::from_std(std_listener).context("registering the control socket")?;
    Ok(accept_loop(listener, requests))
}

/// Starts the task accepting control connections; returns the socket's fd.
fn accept_loop(
    listener: UnixListener,
    requests: mpsc::UnboundedSender<ControlRequest>,
) -> std::os::fd::RawFd {
    use std::os::fd::AsRawFd;
    let fd = listener.as_raw_fd();
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => match peer_uid(&stream) {
                    Ok(uid) if peer_allowed(uid) => {
                        let requests = requests.clone();
                        tokio::spawn(serve(stream, requests));
                    }
                    Ok(uid) => warn!("control socket: refused a connection from uid {uid}"),
                    Err(e) => warn!("control socket: refused a connection: {e:#}"),
                },
                Err(e) => {
                    warn!("control socket accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    fd
}

async fn serve(stream: UnixStream, requests: mpsc::UnboundedSender<ControlRequest>) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read.take(MAX_REQUEST));
    let read = tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line)).await;
    if !matches!(read, Ok(Ok(n)) if n > 0) {
        return;
    }
    let (tx, rx) = oneshot::channel();
    let (written_tx, written) = oneshot::channel();
    let req = ControlRequest {
        command: line.trim().to_string(),
        reply: tx,
        written,
    };
    if requests.send(req).is_err() {
        return;
    }
    if let Ok(Ok(answer)) = tokio::time::timeout(Duration::from_secs(10), rx).await {
        let _ = write.write_all(answer.as_bytes()).await;
        let _ = write.write_all(b"\n").await;
        let _ = write.flush().await;
    }
    let _ = written_tx.send(());
}

/// CLI side: sends one command and returns the answer line.
pub fn request(path: &Path, command: &str) -> Result<String> {
    use std::io::{BufRead, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(path)
        .with_context(|| format!("connecting to the zone's control socket {}", path.display()))?;
    stream.set_read_timeout(Some(Duration::from_secs(15)))?;
    stream
        .write_all(format!("{command}\n").as_bytes())
        .with_context(|| {
            format!(
                "sending the request to the control socket {}",
                path.display()
            )
        })?;
    let mut line = String::new();
    std::io::BufReader::new(stream)
        .read_line(&mut line)
        .with_context(|| {
            format!(
                "reading the answer on the control socket {}",
                path.display()
            )
        })?;
    if line.is_empty() {
        bail!(
            "the zone closed the control connection {} without answering",
            path.display()
        );
    }
    Ok(line.trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};

    /// A fresh folder under the temp dir.
    fn scratch(tag: &str) -> PathBuf {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "zs-control-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        dir
    }

    #[test]
    fn private_dir_is_created_0700() {
        let base = scratch("create");
        let dir = base.join("ctl");
        ensure_private_dir(&dir).expect("created");
        let meta = std::fs::metadata(&dir).expect("exists");
        assert_eq!(meta.mode() & 0o7777, 0o700);
        // Accepted again as it is.
        ensure_private_dir(&dir).expect("accepted");
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn planted_dir_with_wrong_mode_is_refused() {
        let base = scratch("mode");
        let dir = base.join("ctl");
        std::fs::DirBuilder::new()
            .mode(0o755)
            .create(&dir)
            .expect("mkdir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let err = ensure_private_dir(&dir).expect_err("refused");
        assert!(format!("{err:#}").contains("mode 0755"), "{err:#}");
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn planted_dir_of_another_user_is_refused() {
        if !euid() == 0 {
            // Only root can give a folder away.
            return;
        }
        let base = scratch("owner");
        let dir = base.join("ctl");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .expect("mkdir");
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).expect("chown");
        let err = ensure_private_dir(&dir).expect_err("refused");
        assert!(format!("{err:#}").contains("owned by uid 65534"), "{err:#}");
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn symlinked_dir_is_refused() {
        let base = scratch("link");
        let target = base.join("real");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&target)
            .expect("mkdir");
        let link = base.join("ctl");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        assert!(ensure_private_dir(&link).is_err());
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn zone_folders_get_their_own_sockets() {
        if std::env::var_os("RUNTIME_DIRECTORY").is_some() {
            return;
        }
        let base = scratch("paths");
        let (a, b) = (base.join("a"), base.join("b"));
        std::fs::create_dir_all(&a).expect("mkdir");
        std::fs::create_dir_all(&b).expect("mkdir");
        let pa = default_path(Some(&a));
        assert_ne!(pa, default_path(Some(&b)));
        assert_eq!(pa, absolute(&a).join("run").join("control.sock"));
        // The same folder named another way gives the same socket.
        assert_eq!(pa, default_path(Some(&a.join(".").join("..").join("a"))));
        // Folders too deep for a socket path get a hashed name.
        let deep = base.join("d".repeat(120));
        let pd = default_path(Some(&deep));
        assert!(
            pd.as_os_str().len() <= MAX_SOCKET_PATH + 40,
            "{}",
            pd.display()
        );
        assert!(pd
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("zone-")));
        assert_ne!(pd, default_path(Some(&base.join("e".repeat(120)))));
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn a_non_socket_at_the_path_is_not_removed() {
        let base = scratch("file");
        let path = base.join("control.sock");
        std::fs::write(&path, b"precious").expect("write");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (tx, _rx) = mpsc::unbounded_channel();
        let err = rt
            .block_on(async { listen(&path, false, tx) })
            .expect_err("refused");
        assert!(format!("{err:#}").contains("not a socket"), "{err:#}");
        assert_eq!(std::fs::read(&path).expect("kept"), b"precious");
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn peers_of_this_user_and_root_are_allowed() {
        assert!(peer_allowed(0));
        assert!(peer_allowed(euid()));
        if euid() == 0 {
            assert!(!peer_allowed(65534));
        }
    }
}
