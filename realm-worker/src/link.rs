//! The worker's event loop: IPC frames in, arena logic, batched frames out.

use std::time::Duration;

use anyhow::{Context, Result};
use ipc_proto::socket::IpcStream;
use ipc_proto::{FrameReader, ToRealm};
use tracing::{info, warn};

use crate::arena::Arena;
use crate::ticker::Ticker;
use crate::Args;

/// The arena's tick (`Arena::on_timer`, the modules' `on_tick`).
const TICK: Duration = Duration::from_millis(100);

/// Bytes read from the socket per attempt.
const READ_CHUNK: usize = 64 * 1024;

/// Runs the realm until the supervisor says stop or the socket closes.
pub async fn run(
    stream: std::os::unix::net::UnixStream,
    mut arena: Arena,
    args: Args,
) -> Result<()> {
    // Registered for reading only: see ipc_proto::socket.
    let stream = IpcStream::new(stream).context("registering IPC socket")?;
    let mut reader = FrameReader::new();
    arena.start();
    stream
        .write_all(&arena.take_output())
        .await
        .context("IPC write")?;
    info!(realm = %args.realm, "realm ready");
    release_free_memory();
    let mut was_empty = true;
    let timer = Ticker::every(TICK).context("creating the arena tick timer")?;
    loop {
        tokio::select! {
            r = stream.read_buf(reader.buffer(READ_CHUNK), READ_CHUNK) => {
                if r.context("IPC read")? == 0 {
                    info!(realm = %args.realm, "supervisor closed the link; exiting");
                    return Ok(());
                }
                loop {
                    let frame = match reader.next_frame() {
                        Ok(Some(f)) => f,
                        Ok(None) => break,
                        Err(e) => return Err(e).context("IPC framing"),
                    };
                    match ipc_proto::decode::<ToRealm>(frame) {
                        Ok(msg) => arena.handle(msg),
                        Err(e) => warn!("undecodable message from the supervisor: {e}"),
                    }
                }
            }
            r = timer.tick() => {
                r.context("arena tick timer")?;
                arena.on_timer();
            }
        }
        let out = arena.take_output();
        if !out.is_empty() {
            stream.write_all(&out).await.context("IPC write")?;
            arena.give_back(out);
        }
        // The last player left: hand back what the busy arena freed, so an
        // idle realm costs what it holds, not what it once needed.
        let empty = arena.is_empty();
        if empty && !was_empty {
            release_free_memory();
        }
        was_empty = empty;
        if arena.stopping() {
            info!(realm = %args.realm, "stopping");
            return Ok(());
        }
    }
}

/// Hands the heap memory freed while the arena loaded (parsing, map
/// decompression) or while it was busy back to the kernel, so that an idle
/// realm costs what it holds rather than what it once needed (BENCHMARKS.md,
/// "Realm memory").
fn release_free_memory() {
    // SAFETY: malloc_trim only walks glibc's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}
