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
}

impl Default for DiscordConfig {
    fn default() -> Self {
        DiscordConfig {
            token: Secret::default(),
            application_id: None,
            guild_id: None,
            api_base_url: None,
            defer_after_ms: 2000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContentConfig {
    pub dir: PathBuf,
}

impl Default for ContentConfig {
    fn default() -> Self {
        ContentConfig {
            dir: "responses".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// The sled directory.
    pub path: PathBuf,
    /// A consultation untouched for this long expires and is swept.
    pub session_ttl_hours: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            path: "data".into(),
            session_ttl_hours: 24 * 30,
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

    pub fn session_ttl_secs(&self) -> i64 {
        i64::try_from(self.storage.session_ttl_hours.saturating_mul(3600)).unwrap_or(i64::MAX)
    }

    pub fn team_ttl_secs(&self) -> i64 {
        i64::try_from(self.team.session_ttl_hours.saturating_mul(3600)).unwrap_or(i64::MAX)
    }
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
    fn token_is_required_only_when_asked() {
        let c = Config::default();
        assert!(c.require_token().unwrap_err().to_string().contains("DISCORD_TOKEN"));
    }
}
