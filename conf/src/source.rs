//! Where configuration files come from: a directory on disk or an in-memory
//! map, and the ASSS search path over them (docs/protocol/config.md §2).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use crate::error::ConfError;

/// The largest single file a [`DirSource`] will read (maps included).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Read access to a zone's files by zone-relative path (`conf/global.conf`,
/// `arenas/duel/arena.conf`, `maps/default.lvl`). Paths use `/` separators.
pub trait FileSource: Send + Sync + fmt::Debug {
    /// Reads a file. `Ok(None)` means "not a readable regular file here"
    /// (missing, a directory, or permission denied), which the search path
    /// treats as "try the next candidate".
    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>>;

    /// A short description for logs (`dir /srv/zone`, `embedded default zone`).
    fn describe(&self) -> String;
}

/// Files in a directory on disk: the zone's root directory.
#[derive(Debug, Clone)]
pub struct DirSource {
    root: PathBuf,
}

impl DirSource {
    /// A source rooted at `root` (not checked for existence).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Maps a zone-relative path onto the disk, refusing absolute paths and
    /// `..` so that nothing outside the root can be named.
    pub fn resolve(&self, path: &str) -> Option<PathBuf> {
        let rel = Path::new(path);
        let safe = !path.is_empty()
            && !path.contains('\0')
            && rel
                .components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        safe.then(|| self.root.join(rel))
    }
}

impl FileSource for DirSource {
    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        let Some(full) = self.resolve(path) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "path must be relative and stay inside the zone directory",
            ));
        };
        // Check the type before opening: opening a FIFO would block.
        let meta = match fs::metadata(&full) {
            Ok(m) => m,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound
                        | io::ErrorKind::PermissionDenied
                        | io::ErrorKind::NotADirectory
                ) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        if !meta.is_file() {
            return Ok(None);
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("file larger than {MAX_FILE_BYTES} bytes"),
            ));
        }
        let file = match fs::File::open(&full) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut buf = Vec::with_capacity(meta.len() as usize);
        file.take(MAX_FILE_BYTES + 1).read_to_end(&mut buf)?;
        if buf.len() as u64 > MAX_FILE_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("file larger than {MAX_FILE_BYTES} bytes"),
            ));
        }
        Ok(Some(buf))
    }

    fn describe(&self) -> String {
        format!("dir {}", self.root.display())
    }
}

/// Files held in memory, keyed by zone-relative path; used for the embedded
/// default zone and for tests.
#[derive(Debug, Clone, Default)]
pub struct EmbeddedSource {
    files: BTreeMap<String, Cow<'static, [u8]>>,
}

impl EmbeddedSource {
    /// An empty source.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a file.
    pub fn insert(&mut self, path: impl Into<String>, data: impl Into<Cow<'static, [u8]>>) {
        self.files.insert(path.into(), data.into());
    }

    /// Builder form of [`insert`](Self::insert).
    pub fn with(mut self, path: impl Into<String>, data: impl Into<Cow<'static, [u8]>>) -> Self {
        self.insert(path, data);
        self
    }

    /// The bytes of one file, if present.
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(|c| c.as_ref())
    }

    /// All files as (path, bytes), sorted by path.
    pub fn files(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.files.iter().map(|(p, d)| (p.as_str(), d.as_ref()))
    }
}

impl FileSource for EmbeddedSource {
    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        Ok(self.get(path).map(<[u8]>::to_vec))
    }

    fn describe(&self) -> String {
        format!("embedded ({} files)", self.files.len())
    }
}

impl<T: FileSource + ?Sized> FileSource for std::sync::Arc<T> {
    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        (**self).read(path)
    }

    fn describe(&self) -> String {
        (**self).describe()
    }
}

/// The candidates for config file `name` (ASSS `CFG_CONFIG_SEARCH_PATH`,
/// `arenas/%b/%n:conf/%n:%n:arenas/(default)/%n`). With no arena base name
/// (global files) the first element is skipped.
pub fn config_search_path(arena_base: Option<&str>, name: &str) -> Vec<String> {
    let mut v = Vec::with_capacity(4);
    if let Some(b) = arena_base {
        v.push(format!("arenas/{b}/{name}"));
    }
    v.push(format!("conf/{name}"));
    v.push(name.to_string());
    v.push(format!("arenas/(default)/{name}"));
    v
}

/// The candidates for map file `map` of an arena group (ASSS
/// `CFG_LVL_SEARCH_PATH`, docs/protocol/config.md §2.3). With no `General:Map`
/// pass `None`: then only `arenas/<base>/<base>.lvl` and `maps/<base>.lvl`.
pub fn map_search_path(arena_base: &str, map: Option<&str>) -> Vec<String> {
    let b = arena_base;
    match map {
        Some(m) => vec![
            format!("arenas/{b}/{m}"),
            format!("maps/{m}"),
            m.to_string(),
            format!("arenas/{b}/{b}.lvl"),
            format!("maps/{b}.lvl"),
            format!("arenas/(default)/{m}"),
        ],
        None => vec![format!("arenas/{b}/{b}.lvl"), format!("maps/{b}.lvl")],
    }
}

/// A file found on a search path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundFile {
    /// The zone-relative path of the candidate that matched.
    pub path: String,
    /// Its contents.
    pub data: Vec<u8>,
}

/// The first candidate that is a readable file.
///
/// An I/O error on one candidate does not stop the search (ASSS skips what
/// it cannot read); it is returned (as [`ConfError::Io`]) only if no later
/// candidate succeeds.
pub fn find_first(
    source: &dyn FileSource,
    candidates: &[String],
) -> Result<Option<FoundFile>, ConfError> {
    let mut first_err = None;
    for path in candidates {
        match source.read(path) {
            Ok(Some(data)) => {
                return Ok(Some(FoundFile {
                    path: path.clone(),
                    data,
                }))
            }
            Ok(None) => {}
            Err(source) => {
                first_err.get_or_insert(ConfError::Io {
                    path: path.clone(),
                    source,
                });
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_paths() {
        assert_eq!(
            config_search_path(Some("foo"), "arena.conf"),
            [
                "arenas/foo/arena.conf",
                "conf/arena.conf",
                "arena.conf",
                "arenas/(default)/arena.conf"
            ]
        );
        assert_eq!(
            config_search_path(None, "global.conf"),
            [
                "conf/global.conf",
                "global.conf",
                "arenas/(default)/global.conf"
            ]
        );
        assert_eq!(
            map_search_path("pb", Some("x.lvl"))[..2],
            ["arenas/pb/x.lvl", "maps/x.lvl"]
        );
        assert_eq!(
            map_search_path("pb", None),
            ["arenas/pb/pb.lvl", "maps/pb.lvl"]
        );
    }

    #[test]
    fn dir_source_refuses_escapes() {
        let d = DirSource::new("/nonexistent-zone");
        assert!(d.resolve("../etc/passwd").is_none());
        assert!(d.resolve("/etc/passwd").is_none());
        assert!(d.resolve("conf/../../x").is_none());
        assert!(d.resolve("").is_none());
        assert!(d.resolve("conf/global.conf").is_some());
        assert!(d.read("../x").is_err());
        assert!(matches!(d.read("conf/global.conf"), Ok(None)));
    }

    #[test]
    fn find_first_skips_missing() {
        let s = EmbeddedSource::new().with("b", b"2".as_slice());
        let c = vec!["a".to_string(), "b".to_string()];
        let f = find_first(&s, &c).ok().flatten().expect("found");
        assert_eq!((f.path.as_str(), f.data.as_slice()), ("b", b"2".as_slice()));
        assert!(matches!(find_first(&s, &["z".to_string()]), Ok(None)));
    }
}
