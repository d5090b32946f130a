//! Staff file commands on the zone folder (`?cd`, `?pwd`, `?getfile`,
//! `?delfile`, `?renfile`, and the uploads `?putfile`, `?putmap` and
//! `?putzip`;
//! `docs/protocol/commands-and-capabilities.md` §4.7). Paths are relative
//! to the asker's working directory, which is relative to the zone
//! folder; `..`, absolute paths and anything that resolves (through
//! links) outside the zone folder are refused.
//!
//! An upload is asked of the client with S2C 0x19 and arrives as C2S 0x16
//! (`docs/protocol/game-protocol.md` §22): only an upload the supervisor
//! asked for is saved, through a temporary file renamed into place. Saving
//! and unpacking (`?putzip`) run on a blocking thread, never on the
//! zone's, and the result comes back as an [`UploadDone`].

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use ipc_proto::{FileOp, SendFileOp};
use ss_proto::game::s2c_type;
use ss_proto::transport::{Priority, Reliability};
use tracing::info;

use crate::state::SlotId;
use crate::zone::Zone;

/// Largest file `?getfile` sends.
pub const MAX_GET_LEN: usize = 16 << 20;

/// Bytes before the file's own in C2S 0x16: the type and a 16-byte name.
const UPLOAD_HEADER: usize = 17;

/// Most files `?putzip` unpacks from one archive.
const MAX_ZIP_ENTRIES: usize = 1000;

/// Most bytes `?putzip` unpacks from one archive, all files together.
const MAX_UNZIPPED: u64 = 64 << 20;

/// A file a player's client was asked for, waiting for his upload: what
/// becomes of it when it arrives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Upload {
    /// Stored in the zone folder (`?putfile`, `?putmap`, `?putzip`).
    Store(Stored),
    /// Not stored: sent on to the player who accepted it (`?sendfile`),
    /// if he is still there, as S2C 0x10 named `file_name`.
    Forward {
        /// The receiver.
        to: i16,
        /// His name (a pid reused meanwhile gets nothing).
        to_name: String,
        /// The name he saves it under.
        file_name: String,
    },
}

/// Where an upload is stored, and what follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// Relative to the zone folder (as shown to him): the file, or the
    /// directory an archive is unpacked into.
    pub rel: PathBuf,
    /// The same, full.
    pub full: PathBuf,
    /// What follows.
    pub then: AfterStore,
}

/// What follows storing an upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterStore {
    /// Nothing (`?putfile`).
    Keep,
    /// It becomes this realm's `General:Map`, if he is still there
    /// (`?putmap`).
    SetMap(SlotId),
    /// It is a zip archive, unpacked into the directory (`?putzip`).
    Unzip,
}

impl Upload {
    /// An upload stored at `rel` (`full`), then `then`.
    fn store(rel: PathBuf, full: PathBuf, then: AfterStore) -> Upload {
        Upload::Store(Stored { rel, full, then })
    }
}

/// A file one player offered another with `?sendfile`, until accepted or
/// withdrawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileOffer {
    /// The sender.
    pub from: i16,
    /// The receiver.
    pub to: i16,
    /// The file on the sender's disk.
    pub path: String,
}

/// An upload saved or unpacked (or not) off the zone's thread, for the
/// player who sent it.
#[derive(Debug)]
pub struct UploadDone {
    /// Who sent it.
    pub pid: i16,
    /// His name, so that a pid given to someone else meanwhile gets
    /// nothing.
    pub name: String,
    /// Where it was stored, and what follows.
    pub upload: Stored,
    /// The files written (none named for a single file), or why none
    /// were.
    pub result: Result<Vec<String>, String>,
}

/// File work that outlives one command: the channel saved and unpacked
/// uploads come back on, and the files players offered each other.
pub struct FileWork {
    tx: tokio::sync::mpsc::UnboundedSender<UploadDone>,
    rx: Option<tokio::sync::mpsc::UnboundedReceiver<UploadDone>>,
    offers: Vec<FileOffer>,
}

impl Default for FileWork {
    fn default() -> Self {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        FileWork {
            tx,
            rx: Some(rx),
            offers: Vec::new(),
        }
    }
}

impl FileWork {
    /// The receiving end, for the event loop (once).
    pub fn take_receiver(&mut self) -> Option<tokio::sync::mpsc::UnboundedReceiver<UploadDone>> {
        self.rx.take()
    }
}

/// The last part of a path, with either kind of slash (a client's path may
/// be a Windows one).
fn last_part(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// The last part of an archive entry's name (`unzip -j`, as ASSS unpacks):
/// none for a directory or a name that is no plain file name.
fn flat_name(entry: &str) -> Option<&str> {
    let name = last_part(entry);
    (!name.is_empty() && name != "." && name != ".." && !name.contains('\0')).then_some(name)
}

/// Writes `data` to `path` through a temporary file beside it, renamed
/// into place.
fn save(data: &[u8], path: &Path) -> Result<(), String> {
    let tmp = path.with_extension("upload-tmp");
    std::fs::write(&tmp, data)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            e.to_string()
        })
}

/// Unpacks the zip archive `data` into `dir` (an existing directory inside
/// the zone folder `root`), every file under the last part of its name.
/// Everything is read and checked first (at most [`MAX_ZIP_ENTRIES`] files
/// and [`MAX_UNZIPPED`] bytes, no name leading out of the folder through
/// a link), then written, each through a temporary file renamed into
/// place. Returns the names written.
pub fn unzip_into(data: &[u8], root: &Path, dir: &Path) -> Result<Vec<String>, String> {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(data))
        .map_err(|e| format!("not a zip archive ({e})"))?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(format!(
            "it has {} entries, more than {MAX_ZIP_ENTRIES}",
            archive.len()
        ));
    }
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut total = 0u64;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| format!("entry {i} is unreadable ({e})"))?;
        if entry.is_dir() {
            continue;
        }
        let full_name = entry
            .name()
            .map_err(|e| format!("entry {i} has an unreadable name ({e})"))?
            .into_owned();
        let Some(name) = flat_name(&full_name).map(str::to_string) else {
            continue;
        };
        let mut bytes = Vec::new();
        (&mut entry)
            .take(MAX_UNZIPPED - total + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{name} is unreadable ({e})"))?;
        total += bytes.len() as u64;
        if total > MAX_UNZIPPED {
            return Err(format!(
                "it unpacks to more than {} MiB",
                MAX_UNZIPPED >> 20
            ));
        }
        if !inside(root, &dir.join(&name)) {
            return Err(format!("{name} would lead out of the zone folder"));
        }
        files.retain(|(n, _)| *n != name);
        files.push((name, bytes));
    }
    let mut written = Vec::new();
    for (name, bytes) in files {
        let path = dir.join(&name);
        let tmp = dir.join(format!(".{name}.upload-tmp"));
        std::fs::write(&tmp, &bytes)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                format!(
                    "{name} could not be written ({e}); {} written before it",
                    written.len()
                )
            })?;
        written.push(name);
    }
    Ok(written)
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
                            let queued = self.send_file(pid, &base, &data);
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
                    last_part(&from).to_string()
                } else {
                    to
                };
                match resolve(&cwd, &to) {
                    Err(_) => "Invalid server path.".to_string(),
                    Ok((rel, _)) if rel.as_os_str().is_empty() => {
                        "Invalid server path.".to_string()
                    }
                    Ok((rel, full)) => {
                        self.request_upload(pid, &from, Upload::store(rel, full, AfterStore::Keep))
                    }
                }
            }
            FileOp::PutZip { from, to } => match resolve(&cwd, &to) {
                Err(_) => "Invalid server path.".to_string(),
                Ok((_, full)) if !full.is_dir() => {
                    "The specified path isn't a directory.".to_string()
                }
                Ok((rel, full)) => {
                    self.request_upload(pid, &from, Upload::store(rel, full, AfterStore::Unzip))
                }
            },
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
                            Ok(()) => self.request_upload(
                                pid,
                                &from,
                                Upload::store(rel, full, AfterStore::SetMap(slot)),
                            ),
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

    /// Queues `data` for `pid` as S2C 0x10 named `name`; false if he has
    /// too many downloads queued already.
    fn send_file(&mut self, pid: i16, name: &str, data: &[u8]) -> bool {
        let packet: Arc<[u8]> = Arc::from(file_packet(name, data));
        let queued = self.players.get_mut(pid).is_some_and(|p| {
            p.conn.sized_queue_len() < ss_proto::transport::MAX_SIZED_QUEUE && {
                p.conn.send_sized(packet);
                true
            }
        });
        self.mark_dirty(pid);
        queued
    }

    /// `?sendfile`, `?acceptfile`, `?cancelfile` (ASSS's `sendfile`): one
    /// offer per sender and per receiver at a time; the file goes from the
    /// sender's client through the supervisor to the receiver's only once
    /// he accepts. The answer lines for the asker.
    pub(crate) fn send_file_op(&mut self, pid: i16, op: SendFileOp) -> Vec<String> {
        let name_of = |z: &Zone, pid: i16| z.players.get(pid).map(|p| p.name.clone());
        let line = match op {
            SendFileOp::Offer { to, path } => {
                let path = path.trim().to_string();
                let offers = &self.file_work.offers;
                if self.chatnet.is_client(pid) {
                    "You must be in a game client to offer files.".to_string()
                } else if self.chatnet.is_client(to) || self.players.get(to).is_none() {
                    "You can only offer files to players in game clients.".to_string()
                } else if to == pid {
                    "You cannot send files to yourself.".to_string()
                } else if path.is_empty() {
                    "Which file?".to_string()
                } else if offers.iter().any(|o| o.from == pid) {
                    "You are currently sending a file. Use ?cancelfile to cancel the current file transfer.".to_string()
                } else if offers.iter().any(|o| o.to == to) {
                    "That player is currently receiving a file.".to_string()
                } else {
                    let from_name = name_of(self, pid).unwrap_or_default();
                    let to_name = name_of(self, to).unwrap_or_default();
                    let note = format!(
                        "{from_name} wants to send you the file \"{path}\". To accept it, type ?acceptfile."
                    );
                    self.call_message_to(to, 0, 0, &note);
                    info!(pid, to, file = %path, "file offered");
                    self.file_work.offers.push(FileOffer {
                        from: pid,
                        to,
                        path,
                    });
                    format!("Waiting for {to_name} to accept your file.")
                }
            }
            SendFileOp::Accept => {
                let offers = &mut self.file_work.offers;
                match offers.iter().position(|o| o.to == pid) {
                    None => "Nobody has offered any files to you.".to_string(),
                    Some(i) => {
                        let offer = offers.remove(i);
                        let to_name = name_of(self, pid).unwrap_or_default();
                        // Saved under the last part of the sender's path.
                        let file_name = last_part(&offer.path).to_string();
                        self.call_message_to(
                            offer.from,
                            0,
                            0,
                            &format!("{to_name} is accepting your file."),
                        );
                        let forward = Upload::Forward {
                            to: pid,
                            to_name,
                            file_name,
                        };
                        let asked = self.request_upload(offer.from, &offer.path, forward);
                        if !asked.is_empty() {
                            self.call_message_to(offer.from, 0, 0, &asked);
                        }
                        "File accepted. Transferring...".to_string()
                    }
                }
            }
            SendFileOp::Cancel => {
                let before = self.file_work.offers.len();
                self.file_work
                    .offers
                    .retain(|o| o.from != pid && o.to != pid);
                if self.file_work.offers.len() == before {
                    return Vec::new();
                }
                "Your file offers have been canceled.".to_string()
            }
        };
        vec![line]
    }

    /// A player left: his offers, made or received, go with him.
    pub(crate) fn file_offers_gone(&mut self, pid: i16) {
        self.file_work
            .offers
            .retain(|o| o.from != pid && o.to != pid);
    }

    /// Asks `pid`'s client for `from` (S2C 0x19) and remembers what
    /// becomes of it; a request he had waiting is replaced. The answer
    /// line (empty when asked: his client shows the transfer).
    fn request_upload(&mut self, pid: i16, from: &str, upload: Upload) -> String {
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
        p.upload = Some(upload);
        p.conn.send(
            &request_packet(from),
            Reliability::Reliable,
            Priority::Normal,
        );
        self.mark_dirty(pid);
        info!(pid, file = from, "file requested from staff");
        String::new()
    }

    /// Saves or unpacks an upload on a blocking thread; the result comes
    /// back through [`FileWork`] to [`Zone::upload_done`].
    fn store_upload(&mut self, pid: i16, data: Vec<u8>, upload: Stored) {
        let (Some(root), Some(p)) = (self.s.zone_dir.clone(), self.players.get(pid)) else {
            return;
        };
        let name = p.name.clone();
        let tx = self.file_work.tx.clone();
        info!(pid, to = %upload.rel.display(), len = data.len(), "upload from staff");
        tokio::task::spawn_blocking(move || {
            let result = if upload.then == AfterStore::Unzip {
                unzip_into(&data, &root, &upload.full)
            } else {
                save(&data, &upload.full).map(|()| Vec::new())
            };
            let _ = tx.send(UploadDone {
                pid,
                name,
                upload,
                result,
            });
        });
    }

    /// An upload was saved or unpacked (or not): its sender is told, and
    /// a map becomes his arena's if he is still there.
    pub(crate) fn upload_done(&mut self, done: UploadDone) {
        let shown = done.upload.rel.display().to_string();
        let unzip = done.upload.then == AfterStore::Unzip;
        let line = match (&done.result, unzip) {
            (Ok(files), true) => {
                let dir = if shown.is_empty() { "." } else { &shown };
                info!(pid = done.pid, dir, files = files.len(), "archive unpacked");
                format!("Unpacked {} files into {dir}.", files.len())
            }
            (Err(e), true) => {
                tracing::warn!(pid = done.pid, dir = %shown, "archive not unpacked: {e}");
                format!("Couldn't unpack the archive: {e}.")
            }
            (Ok(_), false) => {
                info!(pid = done.pid, file = %shown, "upload saved");
                format!("File received: {shown}")
            }
            (Err(e), false) => {
                tracing::warn!(pid = done.pid, file = %shown, "upload not saved: {e}");
                format!("Couldn't upload file to '{shown}': {e}")
            }
        };
        let pid = done.pid;
        if self.players.get(pid).is_none_or(|p| p.name != done.name) {
            return;
        }
        self.call_message_to(pid, 0, 0, &line);
        if let (AfterStore::SetMap(slot), Ok(_)) = (done.upload.then, &done.result) {
            let here = self.state.members.place(pid).and_then(|p| p.realm()) == Some(slot);
            if here {
                self.call_set_setting(slot, pid, false, "General", "Map", &shown);
            } else {
                self.call_message_to(pid, 0, 0, "Changed arenas! Aborting map upload!");
            }
        }
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
        match upload {
            Upload::Store(stored) => self.store_upload(pid, data.to_vec(), stored),
            Upload::Forward {
                to,
                to_name,
                file_name,
            } => {
                let there = self.players.get(to).is_some_and(|p| p.name == to_name);
                if there && self.send_file(to, &file_name, data) {
                    info!(pid, to, len = data.len(), "offered file sent on");
                    self.call_message_to(pid, 0, 0, "File sent.");
                } else {
                    info!(
                        pid,
                        to, "offered file not sent: the receiver left or is busy"
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zip archive of `files` (deflated), as a client would upload it.
    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        use std::io::Write;
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in files {
            if name.ends_with('/') {
                w.add_directory(*name, opts).unwrap();
            } else {
                w.start_file(*name, opts).unwrap();
                w.write_all(data).unwrap();
            }
        }
        w.finish().unwrap().into_inner()
    }

    fn scratch(name: &str) -> (PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!("files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let root = dir.join("zone");
        std::fs::create_dir_all(root.join("lvz")).unwrap();
        (dir, root)
    }

    #[test]
    fn archives_unpack_flat_into_the_directory() {
        let (dir, root) = scratch("unzip");
        let data = zip_of(&[
            ("graphics/", b""),
            ("graphics/ships.lvz", b"ships"),
            ("top.txt", b"top"),
            ("deep/er/top.txt", b"last one wins"),
            ("../escape.txt", b"flattened, so it stays"),
        ]);
        let mut names = unzip_into(&data, &root, &root.join("lvz")).unwrap();
        names.sort();
        assert_eq!(names, ["escape.txt", "ships.lvz", "top.txt"]);
        assert_eq!(std::fs::read(root.join("lvz/ships.lvz")).unwrap(), b"ships");
        assert_eq!(
            std::fs::read(root.join("lvz/top.txt")).unwrap(),
            b"last one wins"
        );
        assert!(!dir.join("escape.txt").exists() && !root.join("escape.txt").exists());
        // No temporary files are left behind.
        let left = std::fs::read_dir(root.join("lvz")).unwrap().count();
        assert_eq!(left, 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_archives_write_nothing() {
        let (dir, root) = scratch("badzip");
        let lvz = root.join("lvz");
        assert!(unzip_into(b"not a zip at all", &root, &lvz)
            .unwrap_err()
            .starts_with("not a zip archive"));
        // A link named like one of its files, leading out of the folder.
        std::fs::write(dir.join("secret"), "x").unwrap();
        std::os::unix::fs::symlink(dir.join("secret"), lvz.join("b.txt")).unwrap();
        let data = zip_of(&[("a.txt", b"a"), ("b.txt", b"b")]);
        let err = unzip_into(&data, &root, &lvz).unwrap_err();
        assert!(err.contains("b.txt"), "{err}");
        assert!(
            !lvz.join("a.txt").exists(),
            "nothing written before the check failed"
        );
        assert_eq!(std::fs::read(dir.join("secret")).unwrap(), b"x");
        // Too much once unpacked: refused before writing.
        let big = vec![0u8; (MAX_UNZIPPED / 2 + 1) as usize];
        let data = zip_of(&[("one", &big), ("two", &big)]);
        assert!(unzip_into(&data, &root, &lvz)
            .unwrap_err()
            .contains("more than 64 MiB"));
        assert!(!lvz.join("one").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn entry_names_flatten_to_plain_file_names() {
        assert_eq!(flat_name("a/b/c.lvz"), Some("c.lvz"));
        assert_eq!(flat_name("a\\b.txt"), Some("b.txt"));
        assert_eq!(flat_name("dir/"), None);
        assert_eq!(flat_name(".."), None);
        assert_eq!(flat_name("x/."), None);
    }

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
