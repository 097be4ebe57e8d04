//! API keys and roles.
//!
//! Each key has exactly one role. Keys are compared through their BLAKE3 hash
//! so the table holds no key text and a lookup does not depend on how much of
//! a guessed key matches. Keys are never logged.

use crate::error::ApiError;
use actix_web::HttpRequest;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Role {
    Game,
    Designer,
    Auditor,
    Admin,
}

impl Role {
    pub(crate) const ALL: [Role; 4] = [Role::Admin, Role::Game, Role::Designer, Role::Auditor];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Role::Game => "game",
            Role::Designer => "designer",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Role> {
        match s.trim() {
            "game" => Some(Role::Game),
            "designer" => Some(Role::Designer),
            "auditor" => Some(Role::Auditor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a request wants to do; each maps to the roles allowed to do it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Send game events.
    Events,
    /// Claim products.
    Claim,
    /// Subscribe to the dispatch feed or leaderboard pushes.
    Subscribe,
    /// Read hunts, players, leaderboards.
    Read,
    /// Define hunts and add stock.
    Design,
    /// Export the claim audit trail.
    Audit,
    /// Consistency check, snapshots.
    Admin,
}

impl Action {
    /// Every action, with its name in `GET /v1/whoami`'s `may`.
    pub(crate) const NAMED: [(Action, &'static str); 7] = [
        (Action::Events, "events"),
        (Action::Claim, "claim"),
        (Action::Subscribe, "subscribe"),
        (Action::Read, "read"),
        (Action::Design, "design"),
        (Action::Audit, "audit"),
        (Action::Admin, "admin"),
    ];

    /// The names of the actions `role` may do.
    pub(crate) fn names_for(role: Role) -> Vec<String> {
        Self::NAMED
            .iter()
            .filter(|(a, _)| a.allows(role))
            .map(|(_, n)| (*n).to_owned())
            .collect()
    }

    pub(crate) fn allows(self, role: Role) -> bool {
        use Role::*;
        match self {
            Action::Events | Action::Claim | Action::Subscribe => matches!(role, Game | Admin),
            Action::Read => true,
            Action::Design => matches!(role, Designer | Admin),
            Action::Audit => matches!(role, Auditor | Admin),
            Action::Admin => matches!(role, Admin),
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Action::Events => "send events",
            Action::Claim => "claim products",
            Action::Subscribe => "subscribe",
            Action::Read => "read",
            Action::Design => "define hunts or add stock",
            Action::Audit => "export the audit trail",
            Action::Admin => "use admin endpoints",
        }
    }

    pub(crate) fn check(self, role: Role) -> Result<(), ApiError> {
        if self.allows(role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(role.name(), self.describe()))
        }
    }
}

/// Why API keys could not be read, parsed or generated. Messages never
/// contain a key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A malformed key list or key table (short key, unknown role, ...).
    #[error("invalid key list: {0}")]
    Invalid(String),
    /// A file holding keys that others may read (or write), refused as ssh
    /// refuses such a private key.
    #[error(
        "{} holds API keys but its mode is {mode:04o}: group or others may read or change it; \
         make it private with `chmod 600 {}` and start again",
        path.display(),
        path.display()
    )]
    NotPrivate {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Reading or writing a key file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, e.g. `read DIR/keys.toml`.
        context: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The key table.
#[derive(Clone, Default)]
pub(crate) struct Keys {
    by_hash: HashMap<[u8; 32], Role>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keys({} keys)", self.by_hash.len())
    }
}

impl Keys {
    pub(crate) fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub(crate) fn add(&mut self, role: Role, key: &str) -> Result<(), KeyError> {
        let key = key.trim();
        if key.len() < 8 {
            return Err(KeyError::Invalid(format!(
                "a key of the {role} role is shorter than 8 characters"
            )));
        }
        if key.chars().any(|c| c.is_whitespace() || c == ',' || c.is_control()) {
            return Err(KeyError::Invalid(format!(
                "a key of the {role} role contains whitespace or a comma"
            )));
        }
        let h = *blake3::hash(key.as_bytes()).as_bytes();
        match self.by_hash.insert(h, role) {
            Some(other) if other != role => Err(KeyError::Invalid(format!(
                "one key is given for two roles ({other} and {role}); each key has one role"
            ))),
            _ => Ok(()),
        }
    }

    /// Parses `role:KEY,role:KEY,...` (the `TROVE_KEYS` format).
    pub(crate) fn parse_list(list: &str) -> Result<Keys, KeyError> {
        let mut keys = Keys::default();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (role, key) = item
                .split_once(':')
                .ok_or_else(|| KeyError::Invalid("expected role:KEY pairs separated by commas".into()))?;
            // The role is not echoed: a `KEY:role` mix-up would print the key.
            let role = Role::parse(role).ok_or_else(|| {
                KeyError::Invalid("unknown role before a ':' (expected admin, game, designer or auditor)".into())
            })?;
            keys.add(role, key)?;
        }
        Ok(keys)
    }

    /// From a `[keys]` TOML table: `role = "KEY"` or `role = ["KEY", ...]`.
    pub(crate) fn from_toml(table: &toml::Table) -> Result<Keys, KeyError> {
        let mut keys = Keys::default();
        for (role_name, v) in table {
            // The name is not echoed: a `"KEY" = "admin"` mix-up would print the key.
            let role = Role::parse(role_name).ok_or_else(|| {
                KeyError::Invalid("an unknown role name in [keys] (expected admin, game, designer or auditor)".into())
            })?;
            match v {
                toml::Value::String(k) => keys.add(role, k)?,
                toml::Value::Array(a) => {
                    for k in a {
                        let k = k
                            .as_str()
                            .ok_or_else(|| KeyError::Invalid(format!("keys.{role_name} must hold strings")))?;
                        keys.add(role, k)?;
                    }
                }
                _ => {
                    return Err(KeyError::Invalid(format!(
                        "keys.{role_name} must be a string or a list of strings"
                    )))
                }
            }
        }
        Ok(keys)
    }

    pub(crate) fn role_of(&self, key: &str) -> Option<Role> {
        self.by_hash.get(blake3::hash(key.as_bytes()).as_bytes()).copied()
    }

    /// The role of the request's key: `Authorization: Bearer KEY`, or, where
    /// `allow_query` (WebSocket upgrades from browsers), `?token=KEY`.
    pub(crate) fn authenticate(&self, req: &HttpRequest, allow_query: bool) -> Result<Role, ApiError> {
        let mut key: Option<String> = None;
        if let Some(h) = req.headers().get(actix_web::http::header::AUTHORIZATION) {
            let h = h.to_str().map_err(|_| ApiError::unauthorized())?;
            let mut parts = h.splitn(2, ' ');
            let scheme = parts.next().unwrap_or("");
            let rest = parts.next().unwrap_or("").trim();
            if !scheme.eq_ignore_ascii_case("bearer") || rest.is_empty() {
                return Err(ApiError::unauthorized());
            }
            key = Some(rest.to_owned());
        } else if allow_query {
            key = actix_web::web::Query::<trove_protocol::WsParams>::from_query(req.query_string())
                .ok()
                .and_then(|q| q.into_inner().token);
        }
        let key = key.ok_or_else(ApiError::unauthorized)?;
        self.role_of(&key).ok_or_else(ApiError::unauthorized)
    }
}

/// The file in the data folder that generated keys are written to.
pub(crate) fn generated_keys_path(data: &Path) -> PathBuf {
    data.join("keys.toml")
}

/// Loads the generated key file of `data`, or creates one with a fresh key
/// per role, readable only by its owner. Returns the keys, the path, and
/// whether the file was just created.
pub(crate) fn load_or_generate(data: &Path) -> Result<(Keys, PathBuf, bool), KeyError> {
    let path = generated_keys_path(data);
    let io = |context: String| move |source| KeyError::Io { context, source };
    if path.exists() {
        check_private(&path)?;
        let text = std::fs::read_to_string(&path).map_err(io(format!("read {}", path.display())))?;
        let doc: toml::Table = toml::from_str(&text)
            .map_err(|e| KeyError::Invalid(format!("{}: {}", path.display(), crate::redact::toml_error(&text, &e))))?;
        let table = doc
            .get("keys")
            .and_then(|k| k.as_table())
            .ok_or_else(|| KeyError::Invalid(format!("{}: no [keys] table", path.display())))?;
        let keys = Keys::from_toml(table)?;
        if keys.is_empty() {
            return Err(KeyError::Invalid(format!("{} holds no keys", path.display())));
        }
        return Ok((keys, path, false));
    }
    trove_persistence::snapshot::create_private_dir(data).map_err(io(format!("create {}", data.display())))?;
    let mut keys = Keys::default();
    let mut text = String::from(
        "# Generated by `trove serve` because no keys were configured.\n\
         # One key per role. Keep this file private (mode 0600).\n[keys]\n",
    );
    for role in Role::ALL {
        let key = new_key();
        keys.add(role, &key)?;
        text.push_str(&format!("{} = \"{}\"\n", role.name(), key));
    }
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = data.join("keys.toml.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(format!("create {}", tmp.display())))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(io(format!("write {}", tmp.display())))?;
    std::fs::rename(&tmp, &path).map_err(io(format!("rename to {}", path.display())))?;
    Ok((keys, path, true))
}

/// Refuses a file holding keys that group or others may read or write
/// (any of the mode bits 0o077), as ssh refuses such a private key.
pub(crate) fn check_private(path: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|source| KeyError::Io {
        context: format!("read {}", path.display()),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(KeyError::NotPrivate {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// A fresh random key: `trv_` and 32 hex digits (128 bits from the OS).
pub(crate) fn new_key() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    let mut s = String::from("trv_");
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_key_lists() {
        let k = Keys::parse_list("admin:adminkey1, game:gamekey01,game:gamekey02").unwrap();
        assert_eq!(k.role_of("adminkey1"), Some(Role::Admin));
        assert_eq!(k.role_of("gamekey02"), Some(Role::Game));
        assert_eq!(k.role_of("nope-nope"), None);
        assert!(Keys::parse_list("boss:abcdefgh").is_err());
        assert!(Keys::parse_list("admin:samekey1,game:samekey1").is_err());
    }
}
