//! Runs the real binary (`framework-advisor run`) against a [`FakeDiscord`]:
//! a config file in a temporary directory, the child process, and waiting
//! for it to connect.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::bot::{responses_dir, WAIT};
use super::FakeDiscord;

/// Writes `config.toml` in `dir` (data in `dir/data`), pointing at the fake;
/// `extra` is appended verbatim (more TOML sections). Limits are lifted:
/// tests click faster than people.
pub fn write_config(fake: &FakeDiscord, dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("config.toml");
    let toml = format!(
        "[discord]\ntoken = {token:?}\napi_base_url = {url:?}\nguild_id = {guild}\n\n[content]\ndir = {content:?}\n\n\
         [storage]\npath = {data:?}\n\n[limits]\nper_user_per_minute = 1000000\nper_user_burst = 100000\nclicks_per_minute = 1000000\nclicks_burst = 100000\n\n{extra}",
        token = FakeDiscord::TOKEN,
        url = fake.base_url(),
        guild = FakeDiscord::GUILD_ID,
        content = responses_dir().display().to_string(),
        data = dir.join("data").display().to_string(),
    );
    std::fs::write(&path, toml).unwrap();
    path
}

/// Starts `framework-advisor --config <config> run` with stderr piped (or
/// discarded) and `RUST_LOG=<log>`.
pub fn spawn_bot(binary: &str, config: &Path, log: &str, capture_stderr: bool) -> Child {
    Command::new(binary)
        .args(["--config", &config.display().to_string(), "run"])
        .env_remove("DISCORD_TOKEN")
        .env("RUST_LOG", log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(if capture_stderr { Stdio::piped() } else { Stdio::null() })
        .spawn()
        .expect("the binary starts")
}

/// Waits until the fake has seen `count` IDENTIFYs in all and a session is ready.
pub async fn wait_identified(fake: &FakeDiscord, count: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while fake.identify_count().await < count {
        assert!(tokio::time::Instant::now() < deadline, "bot #{count} never identified");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    fake.wait_ready(WAIT).await.unwrap();
}

/// Resident memory of a process, in MiB (Linux).
pub fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
