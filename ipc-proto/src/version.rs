//! Build versions of the zone's binaries (`docs/upgrades.md` §1).
//!
//! A build is named `<package version>+<build id>`, e.g. `0.1.0+3fa2c19b0d`.
//! The build id is derived from the running executable's bytes when the
//! process starts: the CRC-32 of the whole file and its length (read through
//! `/proc/self/exe`, so it names the binary that is actually running even
//! if the file on disk was replaced since). Two binaries built from the same
//! sources by the same compiler share an id; any change to the file, even
//! bytes appended to it (which is how the tests make a "rebuilt" worker),
//! gives another one. It is an identity, not a signature.

use std::io::Read;
use std::sync::OnceLock;

/// The workspace's package version (both binaries share it).
pub const PACKAGE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// This process's build version, computed once (on first use).
pub fn build_version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(
        || match build_id_of(std::path::Path::new("/proc/self/exe")) {
            Ok(id) => format!("{PACKAGE_VERSION}+{id}"),
            Err(_) => format!("{PACKAGE_VERSION}+unknown"),
        },
    )
}

/// Starts working out this process's build version on a thread of its
/// own, so that the first [`build_version`] call (which waits for it) finds
/// it done or nearly: reading a large binary takes a while.
pub fn warm_up() {
    let _ = std::thread::Builder::new()
        .name("build-version".into())
        .spawn(|| {
            build_version();
        });
}

/// The build id of the executable at `path`: 8 hex digits of CRC-32 of its
/// bytes followed by its length in hex.
pub fn build_id_of(path: &std::path::Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok(format!("{:08x}{len:x}", hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_bytes_change_the_build_id() {
        let dir = std::env::temp_dir().join(format!("ipc-version-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("a");
        std::fs::write(&a, b"a binary").unwrap();
        let first = build_id_of(&a).unwrap();
        assert_eq!(first, build_id_of(&a).unwrap());
        std::fs::write(&a, b"a binary\0").unwrap();
        assert_ne!(first, build_id_of(&a).unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn this_process_has_a_build_version() {
        let v = build_version();
        assert!(v.starts_with(PACKAGE_VERSION), "{v}");
        assert!(!v.ends_with("unknown"), "{v}");
    }
}
