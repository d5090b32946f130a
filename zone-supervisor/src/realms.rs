//! Realm worker processes: spawning them with their IPC socket, and the
//! small tasks that move bytes between that socket and the zone task.
//!
//! The zone task owns all realm state; these tasks only shovel bytes and
//! report exits, so the zone never blocks on a slow or dead worker.

use std::io::Write as _;
use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use ipc_proto::socket::IpcStream;
use tokio::sync::mpsc;

use crate::config::Settings;

use crate::state::ExitCause;
pub use crate::state::WorkerId;

/// What a link task reports to the zone task.
#[derive(Debug)]
pub enum RealmSignal {
    /// Bytes the worker wrote.
    Data(Vec<u8>),
    /// The worker closed its socket.
    Closed,
    /// The worker process ended.
    Exited(ExitCause),
}

/// A report about one realm instance.
#[derive(Debug)]
pub struct RealmEvent {
    /// Which instance.
    pub worker: WorkerId,
    /// What happened.
    pub signal: RealmSignal,
}

/// The supervisor's handle on a running worker process.
pub struct WorkerProcess {
    /// OS process id.
    pub os_pid: u32,
    /// Batches of framed messages to write to the worker.
    pub writer: mpsc::UnboundedSender<Vec<u8>>,
    /// Bytes handed to the writer and not yet written (the IPC queue depth).
    pub queued: Arc<AtomicU64>,
    /// The supervisor's end of the IPC socket (kept open by the link tasks;
    /// handed to the next supervisor on an in-place upgrade).
    pub fd: std::os::fd::RawFd,
    /// The read end of the worker's stderr pipe, if it is tapped (kept open
    /// by the tap task; handed over on an in-place upgrade so that the
    /// worker's log lines keep coming).
    pub stderr_fd: Option<std::os::fd::RawFd>,
}

/// How a process ended: exit code or signal.
pub fn exit_cause(status: &ExitStatus) -> ExitCause {
    if let Some(code) = status.code() {
        ExitCause::Exited(code)
    } else if let Some(sig) = status.signal() {
        match nix::sys::signal::Signal::try_from(sig) {
            Ok(s) => ExitCause::Signaled(s.as_str().to_string()),
            Err(_) => ExitCause::Signaled(sig.to_string()),
        }
    } else {
        ExitCause::Misbehaved("ended in an unknown way".into())
    }
}

/// Starts a worker for realm `name` with its IPC socket on fd 3. The worker
/// gets SIGKILL if the supervisor dies (parent-death signal). With a `tap`,
/// the worker's stderr comes through the supervisor: each line is written
/// to the supervisor's stderr as it is and handed to the `?lastlog` ring
/// (`docs/protocol/commands-and-capabilities.md` §4.3).
pub fn spawn_worker(
    settings: &Settings,
    binary: &std::path::Path,
    name: &str,
    id: WorkerId,
    events: mpsc::UnboundedSender<RealmEvent>,
    tap: Option<crate::logring::LineTap>,
) -> Result<WorkerProcess> {
    let (ours, theirs) =
        std::os::unix::net::UnixStream::pair().context("creating IPC socket pair")?;
    let child_fd = theirs.as_raw_fd();
    let mut cmd = tokio::process::Command::new(binary);
    cmd.arg("--realm").arg(name).arg("--ipc-fd").arg("3");
    if let Some(dir) = &settings.zone_dir {
        cmd.arg("--zone").arg(dir);
    }
    for o in &settings.overrides {
        cmd.arg("--set")
            .arg(format!("{}:{}={}", o.section, o.key, o.value));
    }
    cmd.stdin(Stdio::null()).kill_on_drop(true);
    if tap.is_some() {
        cmd.stderr(Stdio::piped());
    }
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if child_fd == 3 {
                if libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(child_fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().with_context(|| {
        format!(
            "starting realm worker {} for realm {name:?}",
            binary.display()
        )
    })?;
    drop(theirs);
    let os_pid = child.id().unwrap_or(0);
    let mut stderr_fd = None;
    if let (Some(tap), Some(stderr)) = (tap, child.stderr.take()) {
        stderr_fd = Some(stderr.as_raw_fd());
        tap_lines(stderr, name.to_string(), tap);
    }

    let (writer, queued, fd) = link_tasks(ours, id, events.clone())?;

    tokio::spawn(async move {
        let cause = match child.wait().await {
            Ok(status) => exit_cause(&status),
            Err(e) => ExitCause::Misbehaved(format!("wait failed: {e}")),
        };
        let _ = events.send(RealmEvent {
            worker: id,
            signal: RealmSignal::Exited(cause),
        });
    });

    Ok(WorkerProcess {
        os_pid,
        writer,
        queued,
        fd,
        stderr_fd,
    })
}

/// Passes a worker's stderr lines on: each is written to the supervisor's
/// stderr as it is and handed to the `?lastlog` ring.
fn tap_lines<R>(stderr: R, realm: String, tap: crate::logring::LineTap)
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            // A closed stderr must not end the reading (the worker
            // would then block or fail on its own writes).
            let _ = writeln!(std::io::stderr(), "{line}");
            tap.line(&realm, &line);
        }
    });
}

/// Starts the reader and writer tasks of a worker's IPC socket; returns
/// the writer's channel, its queue counter and the socket's fd.
fn link_tasks(
    ours: std::os::unix::net::UnixStream,
    id: WorkerId,
    events: mpsc::UnboundedSender<RealmEvent>,
) -> Result<(
    mpsc::UnboundedSender<Vec<u8>>,
    Arc<AtomicU64>,
    std::os::fd::RawFd,
)> {
    let fd = ours.as_raw_fd();
    // Registered for reading only (ipc_proto::socket explains why).
    let stream = Arc::new(IpcStream::new(ours).context("registering IPC socket")?);
    let write_half = stream.clone();

    let tx = events;
    tokio::spawn(async move {
        loop {
            let mut buf = Vec::new();
            match stream.read_buf(&mut buf, 64 * 1024).await {
                Ok(0) | Err(_) => {
                    let _ = tx.send(RealmEvent {
                        worker: id,
                        signal: RealmSignal::Closed,
                    });
                    return;
                }
                Ok(_) => {
                    if tx
                        .send(RealmEvent {
                            worker: id,
                            signal: RealmSignal::Data(buf),
                        })
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    });

    let (writer, mut batches) = mpsc::unbounded_channel::<Vec<u8>>();
    let queued = Arc::new(AtomicU64::new(0));
    let written = queued.clone();
    tokio::spawn(async move {
        while let Some(batch) = batches.recv().await {
            if write_half.write_all(&batch).await.is_err() {
                return;
            }
            written.fetch_sub(batch.len() as u64, Ordering::Relaxed);
        }
    });
    Ok((writer, queued, fd))
}

/// Takes on a worker started by the previous supervisor process (in-place
/// upgrade, `docs/upgrades.md` §3): its IPC socket arrives as the inherited
/// `fd`, the read end of its stderr pipe (if it was tapped) as
/// `stderr_fd`; its exit is watched through a pidfd (it is still this
/// process's child: the pid did not change across exec).
pub fn adopt_worker(
    os_pid: u32,
    fd: std::os::fd::RawFd,
    id: WorkerId,
    events: mpsc::UnboundedSender<RealmEvent>,
    stderr_fd: Option<std::os::fd::RawFd>,
    realm: &str,
    tap: crate::logring::LineTap,
) -> Result<WorkerProcess> {
    use std::os::fd::FromRawFd;
    // SAFETY: the previous process handed this fd over for this worker
    // alone; nothing else in this process owns it.
    let ours = unsafe { std::os::unix::net::UnixStream::from_raw_fd(fd) };
    set_cloexec(fd, true);
    let (writer, queued, fd) = link_tasks(ours, id, events.clone())?;
    let stderr_fd = stderr_fd.and_then(|efd| {
        set_cloexec(efd, true);
        // SAFETY: handed over for this worker's stderr alone.
        let file = unsafe { std::fs::File::from_raw_fd(efd) };
        match tokio::net::unix::pipe::Receiver::from_file(file) {
            Ok(pipe) => {
                tap_lines(pipe, realm.to_string(), tap);
                Some(efd)
            }
            Err(e) => {
                // The file was closed by `from_file`; the worker's log
                // lines are lost from here on, nothing else.
                tracing::warn!(realm, "the worker's stderr pipe cannot be taken: {e}");
                None
            }
        }
    });
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, os_pid as libc::pid_t, 0) } as i32;
    if pidfd < 0 {
        // No pidfd (an old kernel, or a seccomp filter): a thread waits.
        std::thread::Builder::new()
            .name(format!("wait-{os_pid}"))
            .spawn(move || reap_and_report(os_pid, id, &events))
            .context("starting a waiter for an adopted worker")?;
    } else {
        // SAFETY: pidfd_open just gave us this fd.
        let pidfd = unsafe { std::os::fd::OwnedFd::from_raw_fd(pidfd) };
        // SAFETY: the OwnedFd is moved into the AsyncFd and stays open,
        // the same fd, for its whole life.
        let watch = unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(pidfd, tokio::io::Interest::READABLE)
        }
        .map_err(|e| anyhow::anyhow!("watching the worker's pidfd: {e}"))?;
        tokio::spawn(async move {
            let _ = watch.readable().await;
            // The pidfd is readable once the child has exited: no blocking.
            reap_and_report(os_pid, id, &events);
        });
    }
    Ok(WorkerProcess {
        os_pid,
        writer,
        queued,
        fd,
        stderr_fd,
    })
}

/// Waits for the adopted child `os_pid` (blocking until it exits) and
/// reports how it ended as worker `id`'s exit.
fn reap_and_report(os_pid: u32, id: WorkerId, events: &mpsc::UnboundedSender<RealmEvent>) {
    let mut status = 0;
    // SAFETY: waits for our own child (adopted across the upgrade's exec).
    let r = unsafe { libc::waitpid(os_pid as libc::pid_t, &mut status, 0) };
    let cause = if r < 0 {
        ExitCause::Misbehaved("its exit status was lost".into())
    } else {
        exit_cause(&ExitStatus::from_raw(status))
    };
    let _ = events.send(RealmEvent {
        worker: id,
        signal: RealmSignal::Exited(cause),
    });
}

/// Sets or clears `FD_CLOEXEC` on `fd`.
pub fn set_cloexec(fd: std::os::fd::RawFd, on: bool) -> bool {
    // SAFETY: fcntl on an fd number; a bad one only returns an error.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags < 0 {
            return false;
        }
        let flags = if on {
            flags | libc::FD_CLOEXEC
        } else {
            flags & !libc::FD_CLOEXEC
        };
        libc::fcntl(fd, libc::F_SETFD, flags) >= 0
    }
}
