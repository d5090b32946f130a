//! Local authentication from `passwd.conf` (ASSS `auth_file` rules,
//! `docs/protocol/config.md` §6): MD5 digests of name and password, locked names, and
//! whether unknown names may log in.

use conf::ConfigFile;
use md5::{Digest, Md5};
use ss_proto::game::LoginCode;

/// The zone's local password file.
#[derive(Debug, Default, Clone)]
pub struct LocalAuth {
    file: Option<ConfigFile>,
}

/// MD5 digest ASSS stores for a name and password: over 56 bytes, the
/// lowercased name NUL-padded to 24 bytes then the password (cut at the
/// first `*`) NUL-padded to 32, as lowercase hex.
pub fn password_digest(name: &str, password: &str) -> String {
    let mut block = [0u8; 56];
    let lower = name.to_ascii_lowercase();
    let n = lower.len().min(23);
    block[..n].copy_from_slice(&lower.as_bytes()[..n]);
    let password = password.split('*').next().unwrap_or("");
    let p = password.len().min(31);
    block[24..24 + p].copy_from_slice(&password.as_bytes()[..p]);
    let digest = Md5::digest(block);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl LocalAuth {
    /// Uses a parsed `passwd.conf` (or none: everyone may log in).
    pub fn new(file: Option<ConfigFile>) -> LocalAuth {
        LocalAuth { file }
    }

    /// Whether `passwd.conf` has an entry for `name` (of any kind).
    pub fn has_entry(&self, name: &str) -> bool {
        self.file
            .as_ref()
            .is_some_and(|f| f.get_str("Users", name).is_some())
    }

    /// `General:RequireAuthenticationToSetPassword` (default on): only a
    /// player who logged in with a verified password may use `?passwd`.
    pub fn require_auth_to_set_password(&self) -> bool {
        self.file
            .as_ref()
            .is_none_or(|f| f.get_bool("General", "RequireAuthenticationToSetPassword", true))
    }

    /// Decides a login: `Ok(authenticated)` lets it proceed (authenticated
    /// when the password matched a stored digest), `Err(code)` refuses it.
    pub fn check(&self, name: &str, password: &str) -> Result<bool, LoginCode> {
        let Some(file) = self.file.as_ref() else {
            return Ok(false);
        };
        match file.get_str("Users", name) {
            None => {
                if file.get_bool("General", "AllowUnknown", true) {
                    Ok(false)
                } else {
                    Err(LoginCode::NO_PERMISSION2)
                }
            }
            Some(v) if v.eq_ignore_ascii_case("lock") => Err(LoginCode::LOCKED_OUT),
            Some(v) if v.eq_ignore_ascii_case("any") => Ok(false),
            Some(v) if v.eq_ignore_ascii_case(&password_digest(name, password)) => Ok(true),
            Some(_) => Err(LoginCode::BAD_PASSWORD),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(text: &str) -> LocalAuth {
        LocalAuth::new(Some(ConfigFile::parse_str(text).unwrap()))
    }

    #[test]
    fn digest_is_over_lowercased_name_and_cut_password() {
        assert_eq!(
            password_digest("Bob", "pw"),
            password_digest("bob", "pw*zonepw")
        );
        assert_ne!(password_digest("bob", "pw"), password_digest("bob", "px"));
        assert_eq!(password_digest("bob", "pw").len(), 32);
    }

    #[test]
    fn users_section_decides() {
        let hash = password_digest("alice", "secret");
        let a = auth(&format!(
            "[General]\nAllowUnknown = 0\n[Users]\nalice = {hash}\nmallory = lock\nguest = any\n"
        ));
        assert_eq!(a.check("alice", "secret"), Ok(true));
        assert_eq!(a.check("Alice", "wrong"), Err(LoginCode::BAD_PASSWORD));
        assert_eq!(a.check("mallory", "x"), Err(LoginCode::LOCKED_OUT));
        assert_eq!(a.check("guest", "whatever"), Ok(false));
        assert_eq!(a.check("stranger", "x"), Err(LoginCode::NO_PERMISSION2));
        assert_eq!(auth("[Users]\n").check("stranger", "x"), Ok(false));
        assert_eq!(LocalAuth::new(None).check("anyone", ""), Ok(false));
    }
}
