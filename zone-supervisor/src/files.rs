//! Staff file commands on the zone folder (`?cd`, `?pwd`, `?getfile`,
//! `?delfile`, `?renfile`, and the uploads `?putfile` and `?putmap`;
//! `docs/protocol/commands-and-capabilities.md` §4.7). Paths are relative
//! to the asker's working directory, which is relative to the zone
//! folder; `..`, absolute paths and anything that resolves (through
//! links) outside the zone folder are refused.
//!
//! An upload is asked of the client with S2C 0x19 and arrives as C2S 0x16
//! (`docs/protocol/game-protocol.md` §22): only an upload the supervisor
//! asked for is saved, through a temporary file renamed into place.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use ipc_proto::FileOp;
use ss_proto::game::s2c_type;
use ss_proto::transport::{Priority, Reliability};
use tracing::info;

use crate::state::SlotId;
use crate::zone::Zone;

/// Largest file `?getfile` sends.
pub const MAX_GET_LEN: usize = 16 << 20;

/// Bytes before the file's own in C2S 0x16: the type and a 16-byte name.
const UPLOAD_HEADER: usize = 17;

/// A file a player's client was asked for, waiting for his upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    /// Where it goes, relative to the zone folder (as shown to him).
    pub rel: PathBuf,
    /// The same, full.
    pub full: PathBuf,
    /// `?putmap`: the realm whose `General:Map` it becomes, if he is
    /// still there when it arrives.
    pub map_of: Option<SlotId>,
}

/// S2C 0x19: asks the client for the file at `path` on its disk (at most
/// 255 bytes kept); the name field is unused, as in ASSS.
fn request_packet(path: &str) -> Vec<u8> {
    let mut packet = vec![0u8; 1 + 256 + 16];
    packet[0] = s2c_type::REQUEST_FILE;
    let n = path.len().min(255);
    packet[1..1 + n].copy_from_slice(&path.as_bytes()[..n]);
    let unused = b"unused-field";
    packet[257..257 + unused.len()].copy_from_slice(unused);
    packet
}

/// `cwd` joined with `name`, if both are plain relative paths.
pub fn relative(cwd: &str, name: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in [cwd, name] {
        for c in Path::new(part).components() {
            match c {
                Component::Normal(n) => out.push(n),
                Component::CurDir => {}
                _ => return None,
            }
        }
    }
    Some(out)
}

/// Whether `path` (which exists, or whose parent exists) lies inside
/// `root` once links are resolved.
fn inside(root: &Path, path: &Path) -> bool {
    let Ok(root) = root.canonicalize() else {
        return false;
    };
    let real = path.canonicalize().or_else(|_| {
        let parent = path.parent().unwrap_or(path).canonicalize()?;
        Ok::<_, std::io::Error>(parent.join(path.file_name().unwrap_or_default()))
    });
    real.is_ok_and(|r| r.starts_with(&root))
}

/// S2C 0x10 carrying `data` under `name` (at most 15 bytes kept).
fn file_packet(name: &str, data: &[u8]) -> Vec<u8> {
    let mut packet = Vec::with_capacity(17 + data.len());
    packet.push(s2c_type::INCOMING_FILE);
    let mut field = [0u8; 16];
    let n = name.len().min(15);
    field[..n].copy_from_slice(&name.as_bytes()[..n]);
    packet.extend_from_slice(&field);
    packet.extend_from_slice(data);
    packet
}

impl Zone {
    /// A file command of player `pid`; the answer lines.
    pub(crate) fn file_op(&mut self, pid: i16, op: FileOp) -> Vec<String> {
        let Some(root) = self.s.zone_dir.clone() else {
            return vec![
                "This zone runs on its embedded config: it has no zone folder.".to_string(),
            ];
        };
        let cwd = self
            .players
            .get(pid)
            .map_or_else(String::new, |p| p.cwd.clone());
        // A path of the request, checked; `Err` is the message.
        let resolve = |cwd: &str, name: &str| -> Result<(PathBuf, PathBuf), String> {
            let rel = relative(cwd, name.trim()).ok_or("Invalid path or filename.")?;
            let full = root.join(&rel);
            if !inside(&root, &full) {
                return Err("Invalid path or filename.".to_string());
            }
            Ok((rel, full))
        };
        let line = match op {
            FileOp::Pwd => format!(
                "Current working directory: {}",
                if cwd.is_empty() { "." } else { &cwd }
            ),
            FileOp::Cd(dir) => match resolve("", &dir) {
                Err(e) => e,
                Ok((_, full)) if !full.exists() => "The specified path doesn't exist.".to_string(),
                Ok((_, full)) if !full.is_dir() => {
                    "The specified path isn't a directory.".to_string()
                }
                Ok((rel, _)) => {
                    if let Some(p) = self.players.get_mut(pid) {
                        p.cwd = rel.to_string_lossy().into_owned();
                    }
                    "Changed working directory.".to_string()
                }
            },
            FileOp::Get(name) => match resolve(&cwd, &name) {
                Err(e) => e,
                Ok((rel, full)) => match std::fs::metadata(&full) {
                    Err(e) => format!("Error sending '{}': {e}", rel.display()),
                    Ok(m) if !m.is_file() => format!("'{}' is not a file.", rel.display()),
                    Ok(m) if m.len() > MAX_GET_LEN as u64 => format!(
                        "'{}' is {} bytes, more than {MAX_GET_LEN}.",
                        rel.display(),
                        m.len()
                    ),
                    Ok(_) => match std::fs::read(&full) {
                        Err(e) => format!("Error sending '{}': {e}", rel.display()),
                        Ok(data) => {
                            let base = rel
                                .file_name()
                                .map(|n| n.to_string_lossy().into_owned())
                                .unwrap_or_default();
                            let packet: Arc<[u8]> = Arc::from(file_packet(&base, &data));
                            let queued = self.players.get_mut(pid).is_some_and(|p| {
                                p.conn.sized_queue_len() < ss_proto::transport::MAX_SIZED_QUEUE && {
                                    p.conn.send_sized(packet);
                                    true
                                }
                            });
                            self.mark_dirty(pid);
                            info!(pid, file = %rel.display(), "file sent to staff");
                            if queued {
                                format!("Sending '{}' ({} bytes).", rel.display(), data.len())
                            } else {
                                self.stats.refused_downloads += 1;
                                "Too many downloads queued; try again later.".to_string()
                            }
                        }
                    },
                },
            },
            FileOp::Delete(name) => match resolve(&cwd, &name) {
                Err(e) => e,
                Ok((rel, full)) => match std::fs::remove_file(&full) {
                    Err(e) => format!("Error deleting '{}': {e}", rel.display()),
                    Ok(()) => {
                        info!(pid, file = %rel.display(), "file deleted by staff");
                        "Deleted.".to_string()
                    }
                },
            },
            FileOp::Rename { from, to } => match (resolve(&cwd, &from), resolve(&cwd, &to)) {
                (Err(_), _) => "Invalid old path.".to_string(),
                (_, Err(_)) => "Invalid new path.".to_string(),
                (Ok((r1, f1)), Ok((r2, f2))) => match std::fs::rename(&f1, &f2) {
                    Err(e) => format!(
                        "Error renaming '{}' to '{}': {e}",
                        r1.display(),
                        r2.display()
                    ),
                    Ok(()) => {
                        info!(pid, from = %r1.display(), to = %r2.display(), "file renamed by staff");
                        "Renamed.".to_string()
                    }
                },
            },
            FileOp::Put { from, to } => {
                // Without a server name: his file's own name, in the
                // working directory.
                let to = if to.trim().is_empty() {
                    from.rsplit(['/', '\\']).next().unwrap_or("").to_string()
                } else {
                    to
                };
                match resolve(&cwd, &to) {
                    Err(_) => "Invalid server path.".to_string(),
                    Ok((rel, _)) if rel.as_os_str().is_empty() => {
                        "Invalid server path.".to_string()
                    }
                    Ok((rel, full)) => self.request_upload(pid, &from, rel, full, None),
                }
            }
            FileOp::PutMap { from } => {
                let slot = self.state.members.place(pid).and_then(|p| p.realm());
                let base = slot
                    .and_then(|s| self.state.registry.get(s))
                    .map(|s| conf::base_name(&s.name).to_string());
                match (slot, base) {
                    (Some(slot), Some(base)) => {
                        let rel = PathBuf::from(format!("maps/uploads/{base}.lvl"));
                        let full = root.join(&rel);
                        match std::fs::create_dir_all(root.join("maps/uploads")) {
                            Err(e) => format!("Couldn't make maps/uploads: {e}"),
                            Ok(()) if !inside(&root, &full) => "Invalid server path.".to_string(),
                            Ok(()) => self.request_upload(pid, &from, rel, full, Some(slot)),
                        }
                    }
                    _ => "You are in no arena.".to_string(),
                }
            }
        };
        if line.is_empty() {
            return Vec::new();
        }
        vec![line]
    }

    /// Asks `pid`'s client for `from` (S2C 0x19) and remembers where it
    /// goes; a request he had waiting is replaced. The answer line (empty
    /// when asked: his client shows the transfer).
    fn request_upload(
        &mut self,
        pid: i16,
        from: &str,
        rel: PathBuf,
        full: PathBuf,
        map_of: Option<SlotId>,
    ) -> String {
        let from = from.trim();
        if from.is_empty() {
            return "Which file?".to_string();
        }
        if self.chatnet.is_client(pid) {
            return "Your client doesn't support file transfers.".to_string();
        }
        let Some(p) = self.players.get_mut(pid) else {
            return String::new();
        };
        p.upload = Some(Upload { rel, full, map_of });
        p.conn.send(
            &request_packet(from),
            Reliability::Reliable,
            Priority::Normal,
        );
        self.mark_dirty(pid);
        info!(pid, file = from, "file requested from staff");
        String::new()
    }

    /// C2S 0x16 from `pid`: saved where his waiting request says, or
    /// dropped and counted if nothing was asked of him.
    pub(crate) fn file_uploaded(&mut self, pid: i16, pkt: &[u8]) {
        let Some(upload) = self.players.get_mut(pid).and_then(|p| p.upload.take()) else {
            self.stats.uploads_refused += 1;
            return;
        };
        let Some(data) = pkt.get(UPLOAD_HEADER..) else {
            self.stats.uploads_refused += 1;
            return;
        };
        let shown = upload.rel.display().to_string();
        let tmp = upload.full.with_extension("upload-tmp");
        let saved = std::fs::write(&tmp, data).and_then(|()| std::fs::rename(&tmp, &upload.full));
        if let Err(e) = saved {
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!(pid, file = %shown, "upload not saved: {e}");
            self.call_message_to(
                pid,
                0,
                0,
                &format!("Couldn't upload file to '{shown}': {e}"),
            );
            return;
        }
        info!(pid, file = %shown, len = data.len(), "file uploaded by staff");
        self.call_message_to(pid, 0, 0, &format!("File received: {shown}"));
        if let Some(slot) = upload.map_of {
            let here = self.state.members.place(pid).and_then(|p| p.realm()) == Some(slot);
            if here {
                self.call_set_setting(slot, pid, false, "General", "Map", &shown);
            } else {
                self.call_message_to(pid, 0, 0, "Changed arenas! Aborting map upload!");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_request_is_273_bytes_with_the_path_cut_to_fit() {
        let p = request_packet("C:\\maps\\x.lvl");
        assert_eq!(p.len(), 273);
        assert_eq!(p[0], s2c_type::REQUEST_FILE);
        assert_eq!(&p[1..14], b"C:\\maps\\x.lvl");
        assert!(p[14..257].iter().all(|&b| b == 0));
        assert_eq!(&p[257..269], b"unused-field");
        let long = request_packet(&"a".repeat(400));
        assert_eq!(long.len(), 273);
        assert_eq!(long[256], 0, "the path keeps a terminating NUL");
    }

    #[test]
    fn only_plain_relative_paths() {
        assert_eq!(
            relative("conf", "staff.conf"),
            Some(PathBuf::from("conf/staff.conf"))
        );
        assert_eq!(
            relative("", "./maps/a.lvl"),
            Some(PathBuf::from("maps/a.lvl"))
        );
        assert_eq!(relative("", ""), Some(PathBuf::new()));
        assert_eq!(relative("conf", "../x"), None);
        assert_eq!(relative("", "/etc/passwd"), None);
        assert_eq!(relative("..", "x"), None);
    }

    #[test]
    fn links_out_of_the_folder_are_outside() {
        let dir = std::env::temp_dir().join(format!("files-inside-{}", std::process::id()));
        let root = dir.join("zone");
        std::fs::create_dir_all(root.join("conf")).unwrap();
        std::fs::write(dir.join("secret"), "x").unwrap();
        std::os::unix::fs::symlink(dir.join("secret"), root.join("conf/link")).unwrap();
        assert!(inside(&root, &root.join("conf")));
        assert!(
            inside(&root, &root.join("conf/new-file")),
            "a file to be made"
        );
        assert!(
            !inside(&root, &root.join("conf/link")),
            "a link leading out"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn file_packets_carry_a_short_name() {
        let p = file_packet("a-very-long-file-name.conf", b"data");
        assert_eq!(p[0], s2c_type::INCOMING_FILE);
        assert_eq!(&p[1..16], b"a-very-long-fil");
        assert_eq!(p[16], 0);
        assert_eq!(&p[17..], b"data");
    }
}
