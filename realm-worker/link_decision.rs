//! Whether the realm binary links the C library in (a static PIE), and
//! the archives it then links. Used as a module by `build.rs`, which acts
//! on it, and by the test `realm_ops::a_realm_carries_its_own_c_library_
//! and_maps_no_shared_one`, which checks the running realm against it, so
//! the two cannot drift apart.

use std::path::PathBuf;
use std::process::Command;

/// The libraries rustc links a Rust program on glibc against.
const C_LIBS: [&str; 6] = ["c", "m", "util", "rt", "pthread", "dl"];

/// Files a static PIE needs besides those archives: its start-up file and
/// the static unwinder and compiler runtime.
const STATIC_RUNTIME: [&str; 3] = ["rcrt1.o", "libgcc_eh.a", "libgcc.a"];

/// Whether the realm should be linked statically on this machine: glibc
/// 2.36 or later (as for packed relocations) and `REALM_WORKER_DYNAMIC`
/// unset. Whether it can be is [`static_c_archives`].
pub fn static_link_wanted() -> bool {
    host_glibc_at_least(2, 36) && std::env::var_os("REALM_WORKER_DYNAMIC").is_none()
}

/// Each C library's archive (`libc.a`, ...) by file name, if the linker
/// knows all of them and the static runtime too; `None` otherwise.
pub fn static_c_archives() -> Option<Vec<(String, PathBuf)>> {
    let archives = C_LIBS
        .iter()
        .map(|lib| {
            let name = format!("lib{lib}.a");
            let path = archive_path(&name)?;
            Some((name, path))
        })
        .collect::<Option<Vec<_>>>()?;
    for needed in STATIC_RUNTIME {
        archive_path(needed)?;
    }
    Some(archives)
}

/// Where rustc's linker, a C compiler driver (`cc` unless the build
/// configures another, which cargo passes on as `RUSTC_LINKER`), finds the
/// file `name`, if anywhere.
fn archive_path(name: &str) -> Option<PathBuf> {
    let linker = std::env::var("RUSTC_LINKER").unwrap_or_else(|_| "cc".to_string());
    let out = Command::new(linker)
        .arg(format!("-print-file-name={name}"))
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    // An unknown file is printed back as its bare name.
    (path.is_absolute() && path.is_file()).then_some(path)
}

/// Whether this machine's glibc is at least `major.minor`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn host_glibc_at_least(major: u32, minor: u32) -> bool {
    extern "C" {
        // glibc's own version string, e.g. "2.36".
        fn gnu_get_libc_version() -> *const std::ffi::c_char;
    }
    // SAFETY: returns a pointer to a static NUL-terminated string.
    let version = unsafe { std::ffi::CStr::from_ptr(gnu_get_libc_version()) };
    let mut parts = version
        .to_str()
        .unwrap_or("")
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let have = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    have >= (major, minor)
}

/// Not a glibc machine: nothing that needs glibc 2.36.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn host_glibc_at_least(_major: u32, _minor: u32) -> bool {
    false
}
