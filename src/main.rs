//! The `framework-advisor` binary: command-line parsing, logging set-up and
//! wiring. `anyhow` lives here only; the library returns typed errors.

/// mimalloc (the default `mimalloc` feature): measured faster than the system
/// allocator for this workload (BENCHMARKS.md, issue 11).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use framework_advisor::app::{cli_owner, App, SystemClock};
use framework_advisor::cli::chat::Chat;
use framework_advisor::cli::team::Roster;
use framework_advisor::config::{Config, LogFormat};
use framework_advisor::content::Content;
use framework_advisor::domain::labels::fill;
use framework_advisor::storage::SessionStore;

#[derive(Parser, Debug)]
#[command(
    name = "framework-advisor",
    version,
    about = "Helps teams choose between Django and Flask"
)]
struct Cli {
    /// Configuration file (TOML). A missing file means defaults.
    #[arg(long, global = true, default_value = "config.toml")]
    config: PathBuf,
    /// The sled directory (overrides `[storage] path`).
    #[arg(long, global = true)]
    data: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Talk to the advisor in this terminal: questions, lookups, consultations.
    Chat {
        /// Go straight into the consultation (resuming the active one).
        #[arg(long)]
        consult: bool,
        /// Whose session this is (default: the OS user).
        #[arg(long)]
        user: Option<String>,
        /// Simulate a team consultation: comma-separated voter names (2 to
        /// 25), the first is the facilitator. Resumes their active one.
        #[arg(long, value_name = "NAMES", conflicts_with = "user")]
        team: Option<String>,
        /// Write the chart of the consultation finished in this run (PNG).
        #[arg(long, value_name = "FILE.png")]
        chart: Option<PathBuf>,
        /// Write the decision record of the consultation finished in this run (Markdown).
        #[arg(long, value_name = "FILE.md")]
        record: Option<PathBuf>,
    },
    /// Validate the configuration and the content in `responses/`.
    Check,
    /// Print consultation statistics from the store.
    Stats,
    /// Run the Discord bot until SIGINT/SIGTERM.
    Run {
        /// Re-register the slash commands even if unchanged.
        #[arg(long)]
        register: bool,
    },
    /// Serve interactions over HTTP (`POST /interactions` on `[http] listen`)
    /// until SIGINT/SIGTERM; needs `[discord] public_key`.
    Serve {
        /// Re-register the slash commands even if unchanged.
        #[arg(long)]
        register: bool,
    },
    /// Register the slash commands now (over REST; no gateway connection).
    Register,
    /// Measure /ask on evaluation questions: total, right at top-1, off-topic
    /// refused, and every miss.
    EvalQuestions {
        /// A question set (TOML); repeat for several. Default: the tuning and
        /// held-out halves in tests/fixtures/.
        #[arg(long = "file", value_name = "PATH")]
        files: Vec<PathBuf>,
    },
    /// Check a running instance's /healthz (exit 0 when ready); for container health checks.
    Health {
        /// host:port of the metrics listener (default: `[metrics] listen`).
        #[arg(long)]
        addr: Option<String>,
    },
}

fn init_logging(config: &Config, default_filter: &str) {
    use tracing_subscriber::EnvFilter;
    // RUST_LOG wins; else the configured filter (or the command's default).
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| {
            EnvFilter::try_new(if config.log.filter == "info" {
                default_filter
            } else {
                &config.log.filter
            })
        })
        .unwrap_or_else(|_| EnvFilter::new("info"))
        // Whatever the filter, websocket frame dumps stay out: at trace level
        // tungstenite logs every frame's bytes, IDENTIFY (with the token) included.
        .add_directive("tungstenite=info".parse().expect("static directive"))
        .add_directive("tokio_tungstenite=info".parse().expect("static directive"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "local".to_string())
}

fn load(cli: &Cli) -> anyhow::Result<(Config, Arc<Content>)> {
    let mut config = Config::load(&cli.config)?;
    if let Some(d) = &cli.data {
        config.storage.path = d.clone();
    }
    let content = Content::load(&config.content.dir)?;
    Ok((config, Arc::new(content)))
}

fn open_store(config: &Config) -> anyhow::Result<Arc<dyn SessionStore>> {
    Ok(framework_advisor::storage::open(&config.storage)?)
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

fn bot_app(cli: &Cli) -> anyhow::Result<(Config, Arc<App>)> {
    let (config, content) = load(cli)?;
    init_logging(&config, "info");
    config.require_token()?;
    let store = open_store(&config)?;
    let app = App::new(content, store, Arc::new(SystemClock), config.session_ttl_secs())
        .with_team_settings(config.team_ttl_secs(), config.team.quorum);
    Ok((config, Arc::new(app)))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// Runs `bot` (a transport) with the `/metrics` and `/healthz` listener
/// beside it when `[metrics] listen` is set; stops the listener after the bot.
async fn with_metrics<'a, F, Fut>(config: &'a Config, app: Arc<App>, bot: F) -> anyhow::Result<()>
where
    F: FnOnce(&'a Config, Arc<App>, Arc<framework_advisor::ops::Health>) -> Fut,
    Fut: std::future::Future<Output = Result<(), framework_advisor::discord::DiscordError>>,
{
    let health = Arc::new(framework_advisor::ops::Health::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    if let Some(listen) = &config.metrics.listen {
        let handle = framework_advisor::ops::install_metrics();
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("metrics.listen: cannot listen on {listen}"))?;
        tracing::info!(%listen, "serving /metrics and /healthz");
        let mut rx = stop_rx.clone();
        let shutdown = async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        tokio::spawn(framework_advisor::ops::serve(
            listener,
            handle,
            health.clone(),
            app.clone(),
            shutdown,
        ));
    }
    let result = bot(config, app, health).await;
    let _ = stop_tx.send(true);
    result?;
    Ok(())
}

fn real_main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match &cli.command {
        Command::Check => {
            let mut config = Config::load(&cli.config)?;
            if let Some(d) = &cli.data {
                config.storage.path = d.clone();
            }
            let content = Content::load(&config.content.dir)?;
            // Old facts are a warning, not a failure: they may still be true.
            let today = chrono::Utc::now().date_naive();
            for w in content.stale_facts(today, config.content.max_fact_age_days) {
                eprintln!("warning: {}/{w}", config.content.dir.display());
            }
            if config.storage.backend == framework_advisor::config::StorageBackend::Postgres {
                // Read-only: `run`/`serve` migrate a database that is behind.
                let found = framework_advisor::storage::PgStore::probe(&config.storage.pg_options())?;
                println!(
                    "ok: database reachable, schema version {found} (this build: {})",
                    framework_advisor::storage::postgres::SCHEMA_VERSION
                );
            }
            println!(
                "ok: configuration valid; {} frameworks, {} topics, {} questions in {}",
                content.knowledge.frameworks.len(),
                content.knowledge.topics.len(),
                content.questionnaire.questions.len(),
                config.content.dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Stats => {
            // The store, and the content for the labels.
            let (config, content) = load(&cli)?;
            init_logging(&config, "warn");
            let store = open_store(&config)?;
            println!("{}", framework_advisor::cli::text::stats(&content, &store.stats()?));
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { register } => {
            let (config, app) = bot_app(&cli)?;
            runtime()?.block_on(with_metrics(&config, app, |config, app, health| async move {
                let options = framework_advisor::discord::RunOptions {
                    force_sync: *register,
                    ready: None,
                    health: Some(health),
                };
                framework_advisor::discord::run(config, app, shutdown_signal(), options).await
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { register } => {
            let (config, app) = bot_app(&cli)?;
            // Before anything starts: a missing key is a one-line error naming it.
            config.require_public_key()?;
            runtime()?.block_on(with_metrics(&config, app, |config, app, health| async move {
                let options = framework_advisor::discord::http::ServeOptions {
                    force_sync: *register,
                    ready: None,
                    health: Some(health),
                };
                framework_advisor::discord::http::serve(config, app, shutdown_signal(), options).await
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Health { addr } => {
            let config = Config::load(&cli.config)?;
            let addr = addr
                .clone()
                .or(config.metrics.listen.clone())
                .context("no address: pass --addr or set [metrics] listen")?;
            match framework_advisor::ops::probe(&addr, std::time::Duration::from_secs(3)) {
                Ok(()) => {
                    println!("ok: {addr} is ready");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("unhealthy: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::EvalQuestions { files } => {
            use framework_advisor::domain::search::SearchIndex;
            use framework_advisor::domain::search_eval::{evaluate, EvalReport, EvalSet};
            let config = Config::load(&cli.config)?;
            let content = Content::load(&config.content.dir)?;
            let index = SearchIndex::new(&content.knowledge);
            let files = if files.is_empty() {
                vec![
                    PathBuf::from("tests/fixtures/questions_tune.toml"),
                    PathBuf::from("tests/fixtures/questions_heldout.toml"),
                ]
            } else {
                files.clone()
            };
            let mut all = EvalReport::default();
            for path in &files {
                let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
                let set = EvalSet::parse(&text, &path.display().to_string(), &content.knowledge)
                    .map_err(anyhow::Error::msg)?;
                let report = evaluate(&index, &set);
                println!("== {} ==\n{report}", path.display());
                all.total += report.total;
                all.right += report.right;
                all.on_topic += report.on_topic;
                all.on_topic_right += report.on_topic_right;
                all.off_topic += report.off_topic;
                all.off_topic_refused += report.off_topic_refused;
            }
            if files.len() > 1 {
                println!("== all ==\n{all}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Register => {
            let (config, app) = bot_app(&cli)?;
            runtime()?.block_on(framework_advisor::discord::register(&config, &app))?;
            println!("ok: slash commands registered");
            Ok(ExitCode::SUCCESS)
        }
        Command::Chat {
            consult,
            user,
            team,
            chart,
            record,
        } => {
            // A bad roster is a usage error: one line, exit 2 (like clap's).
            let roster = match team.as_deref().map(Roster::parse).transpose() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: --team: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            let (config, content) = load(&cli)?;
            init_logging(&config, "warn");
            let store = open_store(&config)?;
            let app = App::new(content, store.clone(), Arc::new(SystemClock), config.session_ttl_secs())
                .with_team_settings(config.team_ttl_secs(), config.team.quorum);
            if let Err(e) = app.sweep() {
                tracing::warn!(error = %e, "sweeping expired sessions failed");
            }
            let owner = match &roster {
                Some(r) => cli_owner(r.facilitator()),
                None => cli_owner(&user.clone().unwrap_or_else(os_user)),
            };
            let stdin = std::io::stdin();
            let interactive = stdin.is_terminal();
            let mut input = stdin.lock();
            let mut chat = Chat::new(&app, owner, std::io::stdout().lock(), interactive);
            if let Some(roster) = &roster {
                chat.team(roster, &mut input).context("terminal I/O")?;
            } else if *consult {
                chat.consult(&mut input).context("terminal I/O")?;
            } else {
                chat.run(&mut input).context("terminal I/O")?;
            }
            let finished = chat.finished.take();
            drop(chat);
            let mut code = ExitCode::SUCCESS;
            if chart.is_some() || record.is_some() {
                let labels = app.content().knowledge.labels();
                match &finished {
                    Some(view) => {
                        framework_advisor::cli::files::write(app.content(), view, chart.as_deref(), record.as_deref())?;
                        let shown =
                            |p: &Option<PathBuf>| p.as_ref().map_or("-".to_string(), |p| p.display().to_string());
                        println!(
                            "{}",
                            fill(
                                &labels.files_written,
                                &[("chart", &shown(chart)), ("record", &shown(record))]
                            )
                        );
                    }
                    None => {
                        println!("{}", labels.files_not_written);
                        code = ExitCode::FAILURE;
                    }
                }
            }
            store.flush()?;
            Ok(code)
        }
    }
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            // One line per cause, no backtrace: the messages name the key/file.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
