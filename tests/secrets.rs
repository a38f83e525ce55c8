//! The bot token never reaches the output: the real binary, logging at `trace` in text and in
//! JSON, through a consultation, a team vote, failed REST calls and a SIGTERM; a token the
//! gateway rejects (close 4004); `register`; `check`; and every kind of bad configuration.
//!
//! The token is distinctive (`tok-SECRET-12345.abc`), so any piece of it is found: the whole,
//! the part after `Bot `, every 8-character window, and its hex and base64 encodings (what a
//! frame or header dump at trace level would show).

mod support;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use support::bot::{answer_for, click, command, responses_dir, WAIT};
use support::flows::{consult, team_start};
use support::{FakeDiscord, FakeUser};

const TOKEN: &str = "tok-SECRET-12345.abc";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_framework-advisor"));
    // Nothing from the environment of the test run leaks in (or hides a leak).
    for (k, _) in std::env::vars() {
        if k.starts_with("FA_") || k == "DISCORD_TOKEN" || k == "RUST_LOG" {
            c.env_remove(k);
        }
    }
    c.stdin(Stdio::null());
    c
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Every textual form of the token (or a piece of it) that must not appear in `text`: the
/// whole, after `Bot `, every 8-character window, base64.
fn assert_no_token(text: &str, what: &str) {
    let mut needles: Vec<String> = vec![TOKEN.to_string(), format!("Bot {TOKEN}")];
    let chars: Vec<char> = TOKEN.chars().collect();
    needles.extend(chars.windows(8).map(|w| w.iter().collect::<String>()));
    for form in [TOKEN.to_string(), format!("Bot {TOKEN}")] {
        // base64 at each alignment, without the edge characters that depend on neighbours.
        for pad in 0..3 {
            let mut bytes = vec![b' '; pad];
            bytes.extend_from_slice(form.as_bytes());
            let b64 = base64(&bytes);
            needles.push(b64[4..b64.len() - 4].to_string());
        }
    }
    assert_absent(text, &needles, what);
}

/// The token's bytes as a dump shows them: hex (a frame's `Display`) and a decimal list (a
/// `Vec<u8>`'s `Debug`).
fn assert_no_token_bytes(text: &str, what: &str) {
    let secret = &TOKEN.as_bytes()[4..16]; // "SECRET-12345"
    let needles = vec![
        hex(secret),
        secret.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(", "),
    ];
    assert_absent(text, &needles, what);
}

fn assert_absent(text: &str, needles: &[String], what: &str) {
    let lower = text.to_lowercase();
    for n in needles {
        assert!(
            !lower.contains(&n.to_lowercase()),
            "{what}: the output contains {n:?} (a form of the token):\n{}",
            context(text, n)
        );
    }
}

fn context(text: &str, needle: &str) -> String {
    let lower = text.to_lowercase();
    let at = lower.find(&needle.to_lowercase()).unwrap_or(0);
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    text[start..end].chars().take(2000).collect()
}

/// A config for the fake with the distinctive token; `log_format` "text" or "json".
fn write_config(fake: &FakeDiscord, dir: &Path, log_format: &str) -> PathBuf {
    let path = dir.join("config.toml");
    let toml = format!(
        "[discord]\ntoken = {TOKEN:?}\napi_base_url = {url:?}\nguild_id = {guild}\n\n[content]\ndir = {content:?}\n\n\
         [storage]\npath = {data:?}\n\n[log]\nformat = {log_format:?}\n",
        url = fake.base_url(),
        guild = FakeDiscord::GUILD_ID,
        content = responses_dir().display().to_string(),
        data = dir.join("data").display().to_string(),
    );
    std::fs::write(&path, toml).unwrap();
    path
}

/// A running `framework-advisor run`, stdout and stderr going to files (trace output is
/// large: a pipe nobody reads would block the bot).
struct Running {
    child: std::process::Child,
    stderr: PathBuf,
    stdout: PathBuf,
}

impl Running {
    fn start(config: &Path, dir: &Path, rust_log: &str) -> Running {
        let stderr = dir.join("stderr.log");
        let stdout = dir.join("stdout.log");
        let child = bin()
            .args(["--config", &config.display().to_string(), "run"])
            .env("RUST_LOG", rust_log)
            .stdout(File::create(&stdout).unwrap())
            .stderr(File::create(&stderr).unwrap())
            .spawn()
            .expect("the binary starts");
        Running { child, stderr, stdout }
    }

    fn output(&self) -> String {
        let mut out = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        out.push_str(&std::fs::read_to_string(&self.stdout).unwrap_or_default());
        out
    }

    /// SIGTERM, then waits (bounded) for the exit.
    async fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        let exit = self.wait(Duration::from_secs(15)).await;
        (exit, self.output())
    }

    async fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the bot did not exit in {limit:?}; output:\n{}", tail(&self.output()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

async fn wait_identified(fake: &FakeDiscord, count: usize, bot: &Running) {
    let deadline = Instant::now() + WAIT;
    while fake.identify_count().await < count {
        assert!(
            Instant::now() < deadline,
            "the bot never identified; output:\n{}",
            tail(&bot.output())
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    fake.wait_ready(WAIT).await.unwrap();
}

/// The token really went out (so the test saw it used, not merely configured).
async fn assert_token_used(fake: &FakeDiscord) {
    let identify = fake
        .gateway_frames()
        .await
        .into_iter()
        .find(|f| f["op"] == json!(2))
        .expect("an IDENTIFY");
    assert_eq!(
        identify["d"]["token"].as_str(),
        Some(format!("Bot {TOKEN}").as_str()),
        "IDENTIFY carries the token"
    );
    let authorized = fake
        .requests()
        .await
        .iter()
        .any(|r| r.header("authorization") == Some(&format!("Bot {TOKEN}")));
    assert!(authorized, "REST calls carry the token");
}

/// A short session of everything the bot logs about: a consultation, a team vote (and its
/// message refresh), an /ask, a failed callback and a failed refresh (error logs carry
/// serenity's error text), then SIGTERM.
async fn run_traced(log_format: &str) -> String {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&fake, dir.path(), log_format);
    // Registration refused as an invalid token would be: an error path with a response body.
    fake.fail_next("/commands", 401, None, 1).await;
    let bot = Running::start(&config, dir.path(), "trace");
    wait_identified(&fake, 1, &bot).await;
    // Users still have the commands an earlier deploy registered.
    support::bot::registered_by_an_earlier_deploy(&fake).await;

    let user = FakeUser::new(1_000_000_000_000_000_701, "carol");
    let (iid, body) = command(&fake, &user, "consult", consult("start")).await;
    assert_eq!(body["type"], json!(4), "{body}");
    let msg = fake.latest_message_for(iid).await.unwrap().id;
    for i in 0..2 {
        let m = fake.message(msg).await.unwrap();
        let (id, values) = answer_for(&m, i).unwrap();
        let (_, body) = click(&fake, &user, msg, &id, values).await;
        assert_eq!(body["type"], json!(7));
    }
    // A failed callback: the bot logs serenity's error.
    fake.fail_next("/callback", 500, None, 1).await;
    let m = fake.message(msg).await.unwrap();
    let (id, values) = answer_for(&m, 0).unwrap();
    let lost = fake.send_component(&user, msg, &id, values).await;
    let lost_path = format!("/interactions/{lost}/");
    fake.wait_requests(|r| r.is("POST", &lost_path) && r.status == 500, WAIT)
        .await
        .unwrap();

    let (_, body) = command(
        &fake,
        &user,
        "ask",
        json!([{ "type": 3, "name": "question", "value": "how do I do database migrations" }]),
    )
    .await;
    assert_eq!(body["type"], json!(4));

    let facilitator = FakeUser::new(1_000_000_000_000_000_702, "dave");
    let (iid, _) = command(&fake, &facilitator, "consult", team_start()).await;
    let team_msg = fake.latest_message_for(iid).await.unwrap();
    fake.fail_next("/messages/@original", 500, None, 1).await;
    let (id, values) = answer_for(&team_msg, 0).unwrap();
    let (_, body) = click(&fake, &user, team_msg.id, &id, values).await;
    assert_eq!(body["type"], json!(6));
    fake.wait_requests(|r| r.is("PATCH", "/messages/@original") && r.status == 500, WAIT)
        .await
        .unwrap();
    assert_token_used(&fake).await;

    let (exit, output) = bot.terminate().await;
    assert!(exit.success(), "exit {exit:?}:\n{}", tail(&output));
    output
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_in_text_never_show_the_token() {
    let output = run_traced("text").await;
    // Trace logging really was on, and the interesting lines are there.
    assert!(output.contains("TRACE"), "trace-level lines are logged");
    assert!(
        output.len() > 50_000,
        "a trace log of a session is large: {} bytes",
        output.len()
    );
    for expected in [
        "registering slash commands failed",
        "delivering the response failed",
        "handled",
    ] {
        assert!(output.contains(expected), "the log has {expected:?}");
    }
    assert_no_token(&output, "run, text log at trace");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_in_json_never_show_the_token() {
    let output = run_traced("json").await;
    let mut levels = std::collections::BTreeSet::new();
    for line in output.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        if let Some(l) = v["level"].as_str() {
            levels.insert(l.to_string());
        }
    }
    assert!(levels.contains("TRACE") && levels.contains("ERROR"), "{levels:?}");
    assert!(output.contains("delivering the response failed"));
    assert_no_token(&output, "run, JSON log at trace");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_fails_without_showing_it() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&fake, dir.path(), "text");
    let mut bot = Running::start(&config, dir.path(), "trace");
    wait_identified(&fake, 1, &bot).await;
    // What Discord does with a bad token: close 4004 (authentication failed), which is fatal.
    fake.close_gateway(4004).await;
    let exit = bot.wait(Duration::from_secs(20)).await;
    let output = bot.output();
    assert!(!exit.success(), "a rejected token is a failed run:\n{}", tail(&output));
    assert!(
        output.lines().any(|l| l.starts_with("error:")),
        "one error line for the operator:\n{}",
        tail(&output)
    );
    assert_no_token(&output, "run with a rejected token");

    // `register` refused (401) and accepted: neither prints the token.
    fake.fail_next("/commands", 401, None, 1).await;
    let mut register = bin();
    register
        .args(["--config", &config.display().to_string(), "register"])
        .env("RUST_LOG", "trace");
    let out = output_within(register, dir.path(), Duration::from_secs(20));
    let text = both(&out);
    assert!(!out.status.success(), "register fails on 401:\n{}", tail(&text));
    assert_no_token(&text, "register refused");
    let mut register = bin();
    register
        .args(["--config", &config.display().to_string(), "register"])
        .env("RUST_LOG", "trace");
    let out = output_within(register, dir.path(), Duration::from_secs(20));
    let text = both(&out);
    assert!(out.status.success(), "register:\n{}", tail(&text));
    assert_no_token(&text, "register");
    assert_eq!(
        fake.command_overwrites()
            .await
            .last()
            .and_then(|r| r.header("authorization").map(String::from)),
        Some(format!("Bot {TOKEN}")),
        "register used the token"
    );
}

/// Runs `cmd` to completion, killing it after `limit` (a config that wrongly passed would
/// make `run` try to reach Discord and never return).
fn output_within(mut cmd: Command, dir: &Path, limit: Duration) -> Output {
    let (out, err) = (dir.join("cmd.stdout"), dir.join("cmd.stderr"));
    let mut child = cmd
        .stdout(File::create(&out).unwrap())
        .stderr(File::create(&err).unwrap())
        .spawn()
        .expect("the binary starts");
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{cmd:?} did not finish in {limit:?}: {}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: std::fs::read(&out).unwrap_or_default(),
        stderr: std::fs::read(&err).unwrap_or_default(),
    }
}

fn both(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// (what is wrong, the config file, extra environment).
type BadConfig = (&'static str, String, Vec<(&'static str, &'static str)>);

#[test]
fn check_and_bad_configs_never_show_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let content = responses_dir().display().to_string();
    let data = dir.path().join("data").display().to_string();
    let base = format!("[content]\ndir = {content:?}\n\n[storage]\npath = {data:?}\n");
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let run = |config: &Path, args: &[&str], env: &[(&str, &str)]| {
        let mut c = bin();
        c.arg("--config").arg(config).args(args).env("RUST_LOG", "trace");
        for (k, v) in env {
            c.env(k, v);
        }
        output_within(c, dir.path(), Duration::from_secs(20))
    };

    // A good config: `check` succeeds.
    let good = write("good.toml", &format!("[discord]\ntoken = {TOKEN:?}\n\n{base}"));
    let out = run(&good, &["check"], &[]);
    assert!(out.status.success(), "{}", both(&out));
    assert_no_token(&both(&out), "check");
    let out = run(&good, &["check"], &[("DISCORD_TOKEN", TOKEN)]);
    assert!(out.status.success(), "{}", both(&out));
    assert_no_token(&both(&out), "check with DISCORD_TOKEN");

    // Bad configs, with the token in the file or in the environment: the error names the
    // problem in one line and shows no token, whatever the command.
    let bad: Vec<BadConfig> = vec![
        (
            "another key has the wrong type",
            format!("[discord]\ntoken = {TOKEN:?}\napplication_id = \"not-a-number\"\n\n{base}"),
            vec![],
        ),
        (
            "the token line is malformed TOML",
            format!("[discord]\ntoken = \"{TOKEN}\n\n{base}"),
            vec![],
        ),
        (
            "the token key is misspelt",
            format!("[discord]\ntokn = {TOKEN:?}\n\n{base}"),
            vec![],
        ),
        (
            "the token is not a string",
            format!("[discord]\ntoken = [{TOKEN:?}]\n\n{base}"),
            vec![],
        ),
        (
            "the token is a table",
            format!("[discord.token]\nvalue = {TOKEN:?}\n\n{base}"),
            vec![],
        ),
        (
            "a value fails validation",
            format!("[discord]\ntoken = {TOKEN:?}\n\n{base}session_ttl_hours = 0\n"),
            vec![],
        ),
        (
            "the api base url is invalid",
            format!("[discord]\ntoken = {TOKEN:?}\napi_base_url = \"ftp://x/\"\n\n{base}"),
            vec![],
        ),
        (
            "token from DISCORD_TOKEN, bad file",
            format!("[discord]\nguild_id = \"x\"\n\n{base}"),
            vec![("DISCORD_TOKEN", TOKEN)],
        ),
        (
            "token from FA_DISCORD__TOKEN, bad environment",
            base.clone(),
            vec![("FA_DISCORD__TOKEN", TOKEN), ("FA_STORAGE__SESSION_TTL_HOURS", "soon")],
        ),
        (
            "an unknown section",
            format!("[discord]\ntoken = {TOKEN:?}\n\n[dicsord]\ntoken = {TOKEN:?}\n\n{base}"),
            vec![],
        ),
    ];
    for (what, text, env) in &bad {
        let config = write("bad.toml", text);
        for args in [&["check"][..], &["run"], &["register"], &["stats"]] {
            let out = run(&config, args, env);
            let shown = both(&out);
            assert!(!out.status.success(), "{what} ({args:?}) must fail:\n{shown}");
            assert!(
                shown.lines().any(|l| l.starts_with("error:")),
                "{what} ({args:?}): an error line:\n{shown}"
            );
            assert_no_token(&shown, &format!("{what} ({args:?})"));
        }
    }
}

/// At trace level the websocket library's frame dumps (`tungstenite`, through the `log`
/// bridge) print every gateway frame's payload, IDENTIFY and RESUME included, as hex and as a
/// decimal byte list: the token, encoded, in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_never_dump_the_token_bytes() {
    for format in ["text", "json"] {
        let output = run_traced(format).await;
        assert_no_token_bytes(&output, &format!("run, {format} log at trace"));
    }
}
