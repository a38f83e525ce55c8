//! Runs the real bot (the library's `discord::run`, with the real serenity
//! client) against a [`FakeDiscord`], in-process, and helpers to drive a
//! consultation by clicking what the bot rendered.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{oneshot, watch};

use framework_advisor::app::{App, Clock, SystemClock};
use framework_advisor::config::{Config, Secret};
use framework_advisor::content::Content;
use framework_advisor::discord::{run, RunOptions};
use framework_advisor::storage::SledStore;

use super::{FakeDiscord, FakeMessage, FakeUser};

pub const WAIT: Duration = Duration::from_secs(10);

pub fn responses_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("responses")
}

/// The configuration a test bot runs with: the fake as API base, one guild.
pub fn config_for(fake: &FakeDiscord, data: &Path) -> Config {
    let mut config = Config::default();
    config.discord.token = Secret::new(FakeDiscord::TOKEN);
    config.discord.api_base_url = Some(fake.base_url());
    config.discord.guild_id = Some(FakeDiscord::GUILD_ID);
    config.storage.path = data.to_path_buf();
    config.content.dir = responses_dir();
    // Tests click much faster than people; the limiter has its own test.
    config.limits.per_user_per_minute = 100_000;
    config.limits.per_user_burst = 10_000;
    config.limits.clicks_per_minute = 100_000;
    config.limits.clicks_burst = 10_000;
    config
}

/// A running bot. It has a runtime of its own, so `kill` can drop every task
/// it spawned at once (serenity's shard runners included), like a process dying.
pub struct Bot {
    shutdown: Option<oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<Result<(), framework_advisor::discord::DiscordError>>,
    runtime: Option<tokio::runtime::Runtime>,
    pub app: Arc<App>,
}

/// Opens the store, waiting for a previous bot's tasks to let go of the lock.
fn open_store(path: &Path) -> SledStore {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        match SledStore::open(path) {
            Ok(s) => return s,
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("store opens: {e}"),
        }
    }
}

/// Whether bots started here store in PostgreSQL: `FA_TEST_BACKEND=postgres`
/// runs the end-to-end suites against a throwaway PostgreSQL cluster (see
/// `scripts/test`) instead of sled.
pub fn postgres_backend() -> bool {
    std::env::var("FA_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// One database per data directory, so a restarted bot finds what it stored.
fn database_for(data: &Path) -> String {
    static DATABASES: std::sync::Mutex<Vec<(PathBuf, String)>> = std::sync::Mutex::new(Vec::new());
    let mut dbs = DATABASES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, url)) = dbs.iter().find(|(p, _)| p == data) {
        return url.clone();
    }
    let url = super::pg::PgCluster::shared().database();
    dbs.push((data.to_path_buf(), url.clone()));
    url
}

impl Bot {
    /// Starts the bot on `data` and waits until it is connected and has synced commands.
    pub async fn start(fake: &FakeDiscord, data: &Path) -> Bot {
        Self::start_with(fake, config_for(fake, data), Arc::new(SystemClock)).await
    }

    pub async fn start_with(fake: &FakeDiscord, mut config: Config, clock: Arc<dyn Clock>) -> Bot {
        let store: Arc<dyn framework_advisor::storage::SessionStore> = if postgres_backend() {
            config.storage.backend = framework_advisor::config::StorageBackend::Postgres;
            config.storage.url = Secret::new(database_for(&config.storage.path));
            framework_advisor::storage::open(&config.storage).expect("the test database opens")
        } else {
            Arc::new(open_store(&config.storage.path))
        };
        Self::start_with_store(fake, config, clock, store).await
    }

    /// With a store of the test's choosing (e.g. one that is slow on purpose).
    pub async fn start_with_store(
        fake: &FakeDiscord,
        config: Config,
        clock: Arc<dyn Clock>,
        store: Arc<dyn framework_advisor::storage::SessionStore>,
    ) -> Bot {
        let app = app_for(&config, store, clock);
        let (tx, rx) = oneshot::channel::<()>();
        let (ready_tx, mut ready_rx) = watch::channel(false);
        let run_app = app.clone();
        let runtime = bot_runtime();
        let handle = runtime.spawn(async move {
            let shutdown = async move {
                let _ = rx.await;
            };
            run(
                &config,
                run_app,
                shutdown,
                RunOptions {
                    force_sync: false,
                    ready: Some(ready_tx),
                    health: None,
                },
            )
            .await
        });
        tokio::time::timeout(WAIT, ready_rx.wait_for(|r| *r))
            .await
            .expect("bot became ready in time")
            .expect("ready channel open");
        fake.wait_ready(WAIT).await.expect("fake saw READY");
        Bot {
            shutdown: Some(tx),
            handle,
            runtime: Some(runtime),
            app,
        }
    }

    /// Graceful stop (as on SIGTERM): must end cleanly.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let result = tokio::time::timeout(Duration::from_secs(15), &mut self.handle)
            .await
            .expect("bot stopped in time")
            .expect("bot task did not panic");
        result.expect("run() returned Ok after shutdown");
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }

    /// Abrupt stop: every task of the bot is dropped where it stands (no
    /// graceful shutdown, no final flush by `run`).
    pub async fn kill(mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Sends a slash command, built from what the bot registered (panics, naming the command and
/// option, if Discord could never send it), and returns (interaction id, callback body).
pub async fn command(fake: &FakeDiscord, user: &FakeUser, name: &str, options: Value) -> (u64, Value) {
    let id = fake.send_command(user, name, options).await;
    let body = fake.wait_callback(id, WAIT).await.expect("callback arrived");
    (id, body)
}

/// Sends an autocomplete request (mark the option being typed `"focused": true`; it must be
/// registered with autocomplete) and returns (interaction id, callback body).
pub async fn autocomplete(fake: &FakeDiscord, user: &FakeUser, name: &str, options: Value) -> (u64, Value) {
    let id = fake.send_autocomplete(user, name, options).await;
    let body = fake.wait_callback(id, WAIT).await.expect("callback arrived");
    (id, body)
}

/// Clicks `custom_id` on `snapshot`, a version of a message taken earlier that the user may
/// still have on screen (see [`FakeDiscord::send_component_on_snapshot`]).
pub async fn click_snapshot(
    fake: &FakeDiscord,
    user: &FakeUser,
    snapshot: &FakeMessage,
    custom_id: &str,
    values: Option<Vec<String>>,
) -> (u64, Value) {
    let id = fake.send_component_on_snapshot(user, snapshot, custom_id, values).await;
    let body = fake.wait_callback(id, WAIT).await.expect("callback arrived");
    (id, body)
}

/// Clicks `custom_id` on message `message_id` as it is now (it must be on it, as Discord
/// requires); returns (interaction id, callback body).
pub async fn click(
    fake: &FakeDiscord,
    user: &FakeUser,
    message_id: u64,
    custom_id: &str,
    values: Option<Vec<String>>,
) -> (u64, Value) {
    let id = fake.send_component(user, message_id, custom_id, values).await;
    let body = fake.wait_callback(id, WAIT).await.expect("callback arrived");
    (id, body)
}

/// The answer to click on a question message: the first option button, or
/// the select with its first `min_values` options. `choice` rotates which option.
pub fn answer_for(message: &FakeMessage, choice: usize) -> Option<(String, Option<Vec<String>>)> {
    let rows = message.components.as_array()?;
    for row in rows {
        for c in row["components"].as_array().into_iter().flatten() {
            let Some(id) = c["custom_id"].as_str() else { continue };
            if c["type"] == json!(3) {
                let options: Vec<String> = c["options"]
                    .as_array()?
                    .iter()
                    .filter_map(|o| o["value"].as_str().map(String::from))
                    .collect();
                let min = c["min_values"].as_u64().unwrap_or(1).max(1) as usize;
                let picked: Vec<String> = (0..min)
                    .map(|i| options[(choice + i) % options.len()].clone())
                    .collect();
                return Some((id.to_string(), Some(picked)));
            }
        }
        let buttons: Vec<&str> = row["components"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["custom_id"].as_str())
            .filter(|id| id.contains(":a:"))
            .collect();
        if !buttons.is_empty() {
            return Some((buttons[choice % buttons.len()].to_string(), None));
        }
    }
    None
}

/// The custom_id of a control button (":b", ":r", ":x", ":share") on a message.
pub fn control(message: &FakeMessage, suffix: &str) -> String {
    message
        .custom_ids()
        .into_iter()
        .find(|id| id.ends_with(suffix))
        .unwrap_or_else(|| panic!("no {suffix} control on {:?}", message.custom_ids()))
}

pub fn embed_title(message: &FakeMessage) -> String {
    message.embeds[0]["title"].as_str().unwrap_or_default().to_string()
}

pub fn is_recommendation(message: &FakeMessage) -> bool {
    let t = embed_title(message);
    t.starts_with("Recommendation") || t.starts_with("A close call")
}

/// "Step N of M" from a question message.
pub fn step_of(message: &FakeMessage) -> Option<(usize, usize)> {
    let d = message.embeds[0]["description"].as_str()?;
    let at = d.find("Step ")?;
    let rest = &d[at + 5..];
    let mut it = rest.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty());
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// Registers this build's command definitions globally, as an earlier deploy would have left
/// them: what users can type while the bot under test failed to register its own.
pub async fn registered_by_an_earlier_deploy(fake: &FakeDiscord) {
    let content = framework_advisor::content::Content::load(&responses_dir()).expect("responses/ loads");
    let defs = framework_advisor::discord::commands::definitions(&content.knowledge.messages.commands);
    fake.register_commands(None, serde_json::to_value(&defs).expect("definitions serialise"))
        .await;
}

/// The bot's `App` as `main` builds it from `config`, over the test's store and clock.
pub fn app_for(
    config: &Config,
    store: Arc<dyn framework_advisor::storage::SessionStore>,
    clock: Arc<dyn Clock>,
) -> Arc<App> {
    let content = Arc::new(Content::load(&config.content.dir).expect("responses/ is valid"));
    Arc::new(
        App::new(content, store, clock, config.session_ttl_secs())
            .with_team_settings(config.team_ttl_secs(), config.team.quorum),
    )
}

/// A runtime of the bot's own, so stopping or killing it is independent of the test's.
pub fn bot_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("bot runtime")
}
