//! The control socket: a Unix-domain stream socket (owner-only) on which
//! the operator CLI asks for stats, realm restarts and config reloads.
//!
//! One request per connection: a command line (`stats`, `restart NAME`,
//! `reload`), answered with one line of JSON, then the connection closes.
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
}

/// The default control socket path: `$RUNTIME_DIRECTORY/control.sock`
/// under systemd, else `$XDG_RUNTIME_DIR/subsumption/control.sock`, else a
/// per-user folder in /tmp.
pub fn default_path() -> PathBuf {
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
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") {
        return Path::new(&dir).join("subsumption").join("control.sock");
    }
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    PathBuf::from(format!("/tmp/subsumption-{uid}/control.sock"))
}

/// Binds the control socket with owner-only permissions and starts the
/// task that accepts requests.
pub fn listen(path: &Path, requests: mpsc::UnboundedSender<ControlRequest>) -> Result<()> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() && !dir.exists() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("restricting {}", dir.display()))?;
        }
    }
    if path.exists() {
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
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let requests = requests.clone();
                    tokio::spawn(serve(stream, requests));
                }
                Err(e) => {
                    warn!("control socket accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(())
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
    let req = ControlRequest {
        command: line.trim().to_string(),
        reply: tx,
    };
    if requests.send(req).is_err() {
        return;
    }
    if let Ok(Ok(answer)) = tokio::time::timeout(Duration::from_secs(10), rx).await {
        let _ = write.write_all(answer.as_bytes()).await;
        let _ = write.write_all(b"\n").await;
    }
}

/// CLI side: sends one command and returns the answer line.
pub fn request(path: &Path, command: &str) -> Result<String> {
    use std::io::{BufRead, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(path)
        .with_context(|| format!("connecting to the zone's control socket {}", path.display()))?;
    stream.set_read_timeout(Some(Duration::from_secs(15)))?;
    stream.write_all(command.as_bytes())?;
    stream.write_all(b"\n")?;
    let mut line = String::new();
    std::io::BufReader::new(stream)
        .read_line(&mut line)
        .context("reading the zone's answer")?;
    if line.is_empty() {
        bail!("the zone closed the control connection without answering");
    }
    Ok(line.trim_end().to_string())
}
