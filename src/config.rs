//! Typed configuration: defaults < TOML file < environment.
//!
//! Every key can be set from the environment as `FA_<SECTION>__<KEY>` (for
//! example `FA_STORAGE__PATH=/var/lib/fa`); `DISCORD_TOKEN` is honoured as the
//! conventional name of the token. A missing file means defaults. Errors are
//! one line naming the key.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A secret that never shows in logs or `Debug` output.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "<empty>" } else { "<redacted>" })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordConfig {
    pub token: Secret,
    /// Learned from READY when absent.
    pub application_id: Option<u64>,
    /// Register commands to this guild only (instant; for development).
    pub guild_id: Option<u64>,
    /// Another endpoint for every REST call (a rate-limit proxy, or the tests'
    /// fake Discord). Serenity's own rate limiter is turned off when set.
    pub api_base_url: Option<String>,
    /// When a response is not ready after this long (a slow disk, a stalled
    /// flush), acknowledge with a deferred response and deliver the result by
    /// editing it, so Discord never shows "This interaction failed" (its window is 3 s).
    pub defer_after_ms: u64,
    /// The application's Ed25519 public key (hex, from the developer portal's
    /// General Information page). Required by `serve`: interactions arriving
    /// over HTTP are verified with it.
    pub public_key: Option<String>,
}

impl Default for DiscordConfig {
    fn default() -> Self {
        DiscordConfig {
            token: Secret::default(),
            application_id: None,
            guild_id: None,
            api_base_url: None,
            defer_after_ms: 2000,
            public_key: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContentConfig {
    pub dir: PathBuf,
    /// `check` warns about dated facts whose as_of is older than this.
    pub max_fact_age_days: u32,
}

impl Default for ContentConfig {
    fn default() -> Self {
        ContentConfig {
            dir: "responses".into(),
            max_fact_age_days: 365,
        }
    }
}

/// Where consultations are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// Embedded, one process (the directory `path`).
    #[default]
    Sled,
    /// A PostgreSQL database at `url`, shared by several instances.
    Postgres,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// The sled directory.
    pub path: PathBuf,
    /// A consultation untouched for this long expires and is swept.
    pub session_ttl_hours: u64,
    pub backend: StorageBackend,
    /// PostgreSQL connection URL (also `DATABASE_URL`); holds a password,
    /// so it is a [`Secret`].
    pub url: Secret,
    /// PostgreSQL connections per instance.
    pub pool_size: usize,
    /// PostgreSQL: a statement running longer fails (the user gets the usual apology).
    pub statement_timeout_ms: u64,
    /// sled: `power` (an fdatasync of the journal per change) or `process`.
    pub durability: crate::storage::Durability,
    /// sled's page cache in MiB (bounds the process's memory).
    pub cache_capacity_mib: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            path: "data".into(),
            session_ttl_hours: 24 * 30,
            backend: StorageBackend::default(),
            url: Secret::default(),
            pool_size: 16,
            statement_timeout_ms: 5000,
            durability: crate::storage::Durability::default(),
            cache_capacity_mib: 16,
        }
    }
}

impl StorageConfig {
    pub fn sled_options(&self) -> crate::storage::SledOptions {
        crate::storage::SledOptions {
            cache_capacity: self.cache_capacity_mib.saturating_mul(1024 * 1024),
            durability: self.durability,
        }
    }

    pub fn pg_options(&self) -> crate::storage::PgOptions {
        crate::storage::PgOptions {
            pool_size: self.pool_size,
            statement_timeout_ms: self.statement_timeout_ms,
            ..crate::storage::PgOptions::new(self.url.expose())
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TeamConfig {
    /// A team consultation untouched for this long expires; its message says so.
    pub session_ttl_hours: u64,
    /// A question closes by itself once this many members voted (0: only the
    /// facilitator's Next moves on).
    pub quorum: u32,
}

impl Default for TeamConfig {
    fn default() -> Self {
        TeamConfig {
            session_ttl_hours: 24,
            quorum: 0,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// `host:port` for `/metrics` and `/healthz`; off when absent.
    pub listen: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Commands and free text (slash commands, autocomplete) one user may send per minute, sustained.
    pub per_user_per_minute: u32,
    /// How many commands at once before the per-minute rate applies.
    pub per_user_burst: u32,
    /// Clicks (buttons, selects) one user may make per minute, sustained. A budget of its
    /// own: clicking through a consultation is many quick clicks and must never be refused.
    pub clicks_per_minute: u32,
    /// How many clicks at once before the per-minute rate applies.
    pub clicks_burst: u32,
}

impl Default for LimitsConfig {
    /// Sized in `config.example.toml` (the arithmetic is there).
    fn default() -> Self {
        LimitsConfig {
            per_user_per_minute: 60,
            per_user_burst: 25,
            clicks_per_minute: 120,
            clicks_burst: 64,
        }
    }
}

/// `serve`: the HTTP interactions endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// `host:port` serving `POST /interactions`.
    pub listen: String,
    /// A signed request whose `X-Signature-Timestamp` is further than this
    /// from now (in the past or the future) is refused: a captured request
    /// cannot be replayed later.
    pub replay_window_secs: u64,
    /// Larger request bodies are refused (413) before being read in full.
    pub max_body_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: "127.0.0.1:8080".into(),
            replay_window_secs: 300,
            max_body_bytes: 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `tracing` env-filter syntax; `RUST_LOG` wins when set.
    pub filter: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            filter: "info".into(),
            format: LogFormat::Text,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub discord: DiscordConfig,
    pub content: ContentConfig,
    pub storage: StorageConfig,
    pub team: TeamConfig,
    pub limits: LimitsConfig,
    pub metrics: MetricsConfig,
    pub log: LogConfig,
    pub http: HttpConfig,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    /// Parse or type error; figment's message names the key and the source.
    #[error("configuration: {0}")]
    Invalid(String),
    #[error("configuration key {key}: {problem}")]
    Key { key: &'static str, problem: String },
}

impl Config {
    /// Loads defaults, then `path` if it exists, then the environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::figment(path)
            .extract()
            .map_err(|e| {
                // One line: figment's Display can span several for nested errors.
                ConfigError::Invalid(e.to_string().lines().next().unwrap_or_default().to_string())
            })
            .and_then(|c: Config| c.validate().map(|()| c))
    }

    fn figment(path: &Path) -> Figment {
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(path))
            .merge(Env::prefixed("FA_").split("__"))
            .merge(Env::raw().only(&["DISCORD_TOKEN"]).map(|_| "discord.token".into()))
            .merge(Env::raw().only(&["DATABASE_URL"]).map(|_| "storage.url".into()))
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.storage.session_ttl_hours == 0 {
            return Err(ConfigError::Key {
                key: "storage.session_ttl_hours",
                problem: "must be at least 1".into(),
            });
        }
        if self.team.session_ttl_hours == 0 {
            return Err(ConfigError::Key {
                key: "team.session_ttl_hours",
                problem: "must be at least 1".into(),
            });
        }
        if self.storage.path.as_os_str().is_empty() {
            return Err(ConfigError::Key {
                key: "storage.path",
                problem: "is empty".into(),
            });
        }
        if self.storage.backend == StorageBackend::Postgres && self.storage.url.is_empty() {
            return Err(ConfigError::Key {
                key: "storage.url",
                problem: "is not set; backend = \"postgres\" needs it (or DATABASE_URL)".into(),
            });
        }
        if self.storage.pool_size == 0 || self.storage.statement_timeout_ms == 0 {
            return Err(ConfigError::Key {
                key: "storage.pool_size",
                problem: "pool_size and statement_timeout_ms must be at least 1".into(),
            });
        }
        if self.storage.cache_capacity_mib == 0 {
            return Err(ConfigError::Key {
                key: "storage.cache_capacity_mib",
                problem: "must be at least 1".into(),
            });
        }
        if self.limits.per_user_per_minute == 0 || self.limits.per_user_burst == 0 {
            return Err(ConfigError::Key {
                key: "limits.per_user_per_minute",
                problem: "limits must be at least 1 (per_user_per_minute and per_user_burst)".into(),
            });
        }
        if self.limits.clicks_per_minute == 0 || self.limits.clicks_burst == 0 {
            return Err(ConfigError::Key {
                key: "limits.clicks_per_minute",
                problem: "limits must be at least 1 (clicks_per_minute and clicks_burst)".into(),
            });
        }
        if !(100..=2900).contains(&self.discord.defer_after_ms) {
            return Err(ConfigError::Key {
                key: "discord.defer_after_ms",
                problem: "must be between 100 and 2900 (Discord's window is 3000 ms)".into(),
            });
        }
        if let Some(listen) = &self.metrics.listen {
            if listen.parse::<std::net::SocketAddr>().is_err() {
                return Err(ConfigError::Key {
                    key: "metrics.listen",
                    problem: format!("{listen:?} is not host:port (e.g. 127.0.0.1:9100)"),
                });
            }
        }
        if self.http.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::Key {
                key: "http.listen",
                problem: format!("{:?} is not host:port (e.g. 0.0.0.0:8080)", self.http.listen),
            });
        }
        if self.http.replay_window_secs == 0 {
            return Err(ConfigError::Key {
                key: "http.replay_window_secs",
                problem: "must be at least 1".into(),
            });
        }
        if self.http.max_body_bytes < 1024 {
            return Err(ConfigError::Key {
                key: "http.max_body_bytes",
                problem: "must be at least 1024 (an interaction is a few KiB)".into(),
            });
        }
        if let Some(key) = &self.discord.public_key {
            parse_public_key(key)?;
        }
        if let Some(url) = &self.discord.api_base_url {
            let ok = (url.starts_with("http://") || url.starts_with("https://"))
                && !url.ends_with('/')
                && !url.contains('?');
            if !ok {
                return Err(ConfigError::Key {
                    key: "discord.api_base_url",
                    problem: format!("{url:?} must be an http(s) URL without a trailing slash or query"),
                });
            }
        }
        Ok(())
    }

    /// The token, or a key error saying how to provide one.
    pub fn require_token(&self) -> Result<&Secret, ConfigError> {
        if self.discord.token.is_empty() {
            return Err(ConfigError::Key {
                key: "discord.token",
                problem: "is not set (set it in the config file or in DISCORD_TOKEN)".into(),
            });
        }
        Ok(&self.discord.token)
    }

    /// The public key `serve` verifies requests with, or a key error saying where to find it.
    pub fn require_public_key(&self) -> Result<[u8; 32], ConfigError> {
        match &self.discord.public_key {
            Some(key) => parse_public_key(key),
            None => Err(ConfigError::Key {
                key: "discord.public_key",
                problem: "is not set; `serve` needs it (the developer portal's General Information page, \
                          or FA_DISCORD__PUBLIC_KEY)"
                    .into(),
            }),
        }
    }

    pub fn session_ttl_secs(&self) -> i64 {
        i64::try_from(self.storage.session_ttl_hours.saturating_mul(3600)).unwrap_or(i64::MAX)
    }

    pub fn team_ttl_secs(&self) -> i64 {
        i64::try_from(self.team.session_ttl_hours.saturating_mul(3600)).unwrap_or(i64::MAX)
    }
}

/// 64 hex digits -> the 32 key bytes.
fn parse_public_key(key: &str) -> Result<[u8; 32], ConfigError> {
    let bad = || ConfigError::Key {
        key: "discord.public_key",
        problem: "must be 64 hex digits (the portal's \"Public Key\")".into(),
    };
    let key = key.trim();
    if key.len() != 64 || !key.is_ascii() {
        return Err(bad());
    }
    let mut bytes = [0u8; 32];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&key[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(bytes)
}

#[cfg(test)]
// figment's Jail returns its own large error type; that is the test API.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_means_defaults() {
        figment::Jail::expect_with(|_| {
            assert_eq!(Config::load(Path::new("nope.toml")).unwrap(), Config::default());
            Ok(())
        });
    }

    #[test]
    fn file_then_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", "[storage]\npath = \"from-file\"\nsession_ttl_hours = 5\n")?;
            jail.set_env("FA_STORAGE__PATH", "from-env");
            jail.set_env("DISCORD_TOKEN", "tok");
            let c = Config::load(Path::new("c.toml")).unwrap();
            assert_eq!(c.storage.path, PathBuf::from("from-env"));
            assert_eq!(c.storage.session_ttl_hours, 5);
            assert_eq!(c.discord.token.expose(), "tok");
            assert_eq!(format!("{:?}", c.discord.token), "<redacted>");
            Ok(())
        });
    }

    #[test]
    fn errors_name_the_key_on_one_line() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "[storage]\nsession_ttl_hours = \"soon\"\n")?;
            let e = Config::load(Path::new("bad.toml")).unwrap_err().to_string();
            assert!(e.contains("session_ttl_hours"), "{e}");
            assert!(!e.contains('\n'));
            jail.create_file("unknown.toml", "[storage]\npaht = \"x\"\n")?;
            let e = Config::load(Path::new("unknown.toml")).unwrap_err().to_string();
            assert!(e.contains("paht"), "{e}");
            jail.create_file("zero.toml", "[storage]\nsession_ttl_hours = 0\n")?;
            let e = Config::load(Path::new("zero.toml")).unwrap_err().to_string();
            assert!(e.contains("storage.session_ttl_hours"), "{e}");
            jail.create_file("url.toml", "[discord]\napi_base_url = \"ftp://x\"\n")?;
            let e = Config::load(Path::new("url.toml")).unwrap_err().to_string();
            assert!(e.contains("discord.api_base_url"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn public_key_is_required_by_serve_and_must_be_hex() {
        let mut c = Config::default();
        let e = c.require_public_key().unwrap_err().to_string();
        assert!(e.contains("discord.public_key") && !e.contains('\n'), "{e}");
        c.discord.public_key = Some("zz".repeat(32));
        assert!(c.validate().unwrap_err().to_string().contains("discord.public_key"));
        c.discord.public_key = Some("0a".repeat(32));
        assert_eq!(c.require_public_key().unwrap(), [0x0a; 32]);
        c.http.listen = "nope".into();
        assert!(c.validate().unwrap_err().to_string().contains("http.listen"));
    }

    #[test]
    fn postgres_url_from_database_url_is_redacted() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("pg.toml", "[storage]\nbackend = \"postgres\"\n")?;
            let e = Config::load(Path::new("pg.toml")).unwrap_err().to_string();
            assert!(e.contains("storage.url"), "{e}");
            jail.set_env("DATABASE_URL", "postgres://fa:hunter2@db/fa");
            let c = Config::load(Path::new("pg.toml")).unwrap();
            assert_eq!(c.storage.backend, StorageBackend::Postgres);
            assert_eq!(c.storage.url.expose(), "postgres://fa:hunter2@db/fa");
            assert!(!format!("{c:?}").contains("hunter2"));
            assert!(!format!("{:?}", c.storage.pg_options()).contains("hunter2"));
            jail.create_file("d.toml", "[storage]\ndurability = \"process\"\n")?;
            let c = Config::load(Path::new("d.toml")).unwrap();
            assert_eq!(c.storage.durability, crate::storage::Durability::Process);
            Ok(())
        });
    }

    #[test]
    fn token_is_required_only_when_asked() {
        let c = Config::default();
        assert!(c.require_token().unwrap_err().to_string().contains("DISCORD_TOKEN"));
    }
}
