//! The real bot in `serve` mode (the HTTP interactions endpoint) against a [`FakeDiscord`]:
//! in-process ([`ServeBot`], with a runtime of its own like [`super::bot::Bot`]) or as the
//! release/debug binary in its own process ([`spawn_serve`]). Starting one points the fake's
//! interactions at it ([`FakeDiscord::send_over_http`]), so the flows of `support::bot` and
//! `support::flows` run unchanged over HTTP.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use framework_advisor::app::{App, Clock, SystemClock};
use framework_advisor::config::Config;
use framework_advisor::content::Content;
use framework_advisor::discord::http::{serve, ServeOptions};
use framework_advisor::storage::SledStore;

use super::bot::{config_for, WAIT};
use super::http_sender::{public_key_hex, HttpSender};
use super::FakeDiscord;

/// [`config_for`] plus what `serve` needs: the test public key, a free loopback port.
pub fn serve_config(fake: &FakeDiscord, data: &Path) -> Config {
    let mut config = config_for(fake, data);
    config.discord.public_key = Some(public_key_hex());
    config.http.listen = "127.0.0.1:0".into();
    config
}

/// A bot serving HTTP interactions in this process.
pub struct ServeBot {
    shutdown: Option<oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<Result<(), framework_advisor::discord::DiscordError>>,
    runtime: Option<tokio::runtime::Runtime>,
    pub app: Arc<App>,
    pub addr: SocketAddr,
}

fn open_store(path: &Path) -> SledStore {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        match SledStore::open(path) {
            Ok(s) => return s,
            Err(_) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("store opens: {e}"),
        }
    }
}

impl ServeBot {
    /// Starts `serve` on `data`, waits for its listener, and sends the fake's interactions to it.
    pub async fn start(fake: &FakeDiscord, data: &Path) -> ServeBot {
        let config = serve_config(fake, data);
        let store = Arc::new(open_store(&config.storage.path));
        Self::start_with_store(fake, config, Arc::new(SystemClock), store).await
    }

    pub async fn start_with_store(
        fake: &FakeDiscord,
        config: Config,
        clock: Arc<dyn Clock>,
        store: Arc<dyn framework_advisor::storage::SessionStore>,
    ) -> ServeBot {
        let app = super::bot::app_for(&config, store, clock);
        let (tx, rx) = oneshot::channel::<()>();
        let (ready_tx, mut ready_rx) = watch::channel(None);
        let run_app = app.clone();
        let runtime = super::bot::bot_runtime();
        let handle = runtime.spawn(async move {
            let shutdown = async move {
                let _ = rx.await;
            };
            let options = ServeOptions {
                force_sync: false,
                ready: Some(ready_tx),
                health: None,
            };
            serve(&config, run_app, shutdown, options).await
        });
        let addr = tokio::time::timeout(WAIT, ready_rx.wait_for(|a| a.is_some()))
            .await
            .expect("serve listened in time")
            .expect("ready channel open")
            .expect("an address");
        fake.send_over_http(HttpSender::new(&addr.to_string()));
        ServeBot {
            shutdown: Some(tx),
            handle,
            runtime: Some(runtime),
            app,
            addr,
        }
    }

    /// A sender to this bot, for requests Discord would not send.
    pub fn sender(&self) -> HttpSender {
        HttpSender::new(&self.addr.to_string())
    }

    /// Graceful stop: must end cleanly.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let result = tokio::time::timeout(Duration::from_secs(15), &mut self.handle)
            .await
            .expect("serve stopped in time")
            .expect("serve task did not panic");
        result.expect("serve() returned Ok after shutdown");
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for ServeBot {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Starts `framework-advisor --config <config> serve` (a config from
/// [`super::process::write_config`]) with the test public key and a free loopback port (from the
/// environment), and returns the child with the address it listens on (read from its log).
/// Its stderr is drained on a thread of its own, so the child never blocks on a full pipe.
pub fn spawn_serve(binary: &str, config: &Path) -> (Child, SocketAddr) {
    spawn_serve_with_env(binary, config, &[])
}

/// [`spawn_serve`] with more environment (e.g. `FA_STORAGE__BACKEND`).
pub fn spawn_serve_with_env(binary: &str, config: &Path, env: &[(&str, &str)]) -> (Child, SocketAddr) {
    let (child, addr, _) = spawn_serve_watched(binary, config, env);
    (child, addr)
}

/// What a `serve` child logged at WARN and ERROR, counted by the thread that drains its stderr
/// (benches report it: an instance that errs under load is a finding, not noise to discard).
#[derive(Default, Debug)]
pub struct ServeLog {
    pub warnings: AtomicUsize,
    pub errors: AtomicUsize,
    /// The first few WARN/ERROR lines, verbatim.
    pub first: Mutex<Vec<String>>,
}

impl ServeLog {
    const KEPT: usize = 5;

    fn saw(&self, line: &str) {
        let counter = if line.contains("\"level\":\"ERROR\"") {
            &self.errors
        } else if line.contains("\"level\":\"WARN\"") {
            &self.warnings
        } else {
            return;
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first.lock().unwrap_or_else(|p| p.into_inner());
        if first.len() < Self::KEPT {
            first.push(line.to_string());
        }
    }
}

/// [`spawn_serve_with_env`] that also counts the child's WARN and ERROR log lines.
pub fn spawn_serve_watched(binary: &str, config: &Path, env: &[(&str, &str)]) -> (Child, SocketAddr, Arc<ServeLog>) {
    let mut child = Command::new(binary)
        .args(["--config", &config.display().to_string(), "serve"])
        .env_remove("DISCORD_TOKEN")
        .env("RUST_LOG", "warn,framework_advisor::discord::http=info")
        .env("FA_LOG__FORMAT", "json")
        .env("FA_DISCORD__PUBLIC_KEY", public_key_hex())
        .env("FA_HTTP__LISTEN", "127.0.0.1:0")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    let log = Arc::new(ServeLog::default());
    let seen = log.clone();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            seen.saw(&line);
            // JSON logs: `"addr":"127.0.0.1:PORT"` in the "serving HTTP interactions" line.
            if let Some(at) = line.find("\"addr\":\"") {
                let addr = line[at + 8..].split('"').next().unwrap_or_default().to_string();
                if let Some(tx) = tx.take() {
                    let _ = tx.send(addr);
                }
            }
        }
    });
    let addr = rx
        .recv_timeout(WAIT)
        .expect("serve logged its address in time")
        .parse()
        .expect("a socket address");
    (child, addr, log)
}
