//! The serenity adapter: connect over the gateway, sync the slash commands,
//! serve interactions until shutdown.
//!
//! - [`commands`]: definitions, decoding, the definitions hash.
//! - [`custom_id`]: the typed, versioned component id codec.
//! - [`dispatch`]: interaction -> response value (shared by every transport).
//! - [`render`]: replies and consultations -> embeds and components.
//! - [`gateway`]: `run`, the gateway adapter over [`crate::interactions`].
//! - [`http`]: `serve`, the HTTP interactions endpoint over [`crate::interactions`].

pub mod commands;
pub mod custom_id;
pub mod dispatch;
pub mod gateway;
pub mod http;
pub mod render;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serenity::all::{ClientBuilder, GatewayIntents};
use thiserror::Error;
use tokio::sync::Semaphore;

use crate::app::App;
use crate::config::Config;
use crate::interactions::{Pipeline, TeamRefresher, MAX_IN_FLIGHT};
use gateway::{Handler, SyncPolicy};

#[derive(Debug, Error)]
pub enum DiscordError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("discord: {0}")]
    Serenity(#[from] serenity::Error),
    #[error("session store: {0}")]
    Store(#[from] crate::storage::StoreError),
    #[error("the application id is unknown: set [discord] application_id")]
    NoApplicationId,
    #[error("http.listen: cannot listen on {addr}: {reason}")]
    Listen { addr: String, reason: String },
}

/// How often expired sessions are swept while running.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);
/// How long shutdown waits for in-flight interactions.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Options of one run.
pub struct RunOptions {
    /// Re-register the commands even if the hash is unchanged.
    pub force_sync: bool,
    /// Told `true` once connected and commands are synced (tests wait on it).
    pub ready: Option<tokio::sync::watch::Sender<bool>>,
    /// Shared with the `/healthz` listener.
    pub health: Option<Arc<crate::ops::Health>>,
}

/// Serves until `shutdown` resolves; then stops the shards, waits for
/// in-flight interactions and flushes the store.
pub async fn run(
    config: &Config,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: RunOptions,
) -> Result<(), DiscordError> {
    let token = config.require_token()?;
    let http = gateway::http_client(
        token.expose(),
        config.discord.api_base_url.as_deref(),
        config.discord.application_id,
    );
    let sync_done = options.ready.unwrap_or_else(|| tokio::sync::watch::channel(false).0);
    let health = options.health.unwrap_or_default();
    health.set_store(true);
    let pipeline = Arc::new(pipeline(config, app.clone(), token.expose()));
    let in_flight = pipeline.in_flight.clone();
    let limiter = pipeline.limiter.clone();
    let handler = Handler {
        app: app.clone(),
        pipeline,
        sync: SyncPolicy {
            guild_id: config.discord.guild_id,
            force: options.force_sync,
        },
        seen_ready: Default::default(),
        sync_done,
        synced: Default::default(),
        health: health.clone(),
    };
    let mut client = ClientBuilder::new_with_http(http, GatewayIntents::empty())
        .event_handler(handler)
        .await?;
    let shards = client.shard_manager.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: closing the gateway");
        shards.shutdown_all().await;
    });
    let sweeper = spawn_sweeper(app.clone(), limiter, client.http.clone());
    let result = client.start().await;
    sweeper.abort();
    drain(&in_flight).await;
    health.set_gateway(false);
    app.store().flush()?;
    tracing::info!("store flushed; bye");
    result.map_err(DiscordError::from)
}

/// The interaction pipeline as configured: per-user limits, the deferral
/// timer, and the limiter-free REST client for interaction tokens.
pub(crate) fn pipeline(config: &Config, app: Arc<App>, token: &str) -> Pipeline {
    // Interaction responses: never through serenity's limiter (see Pipeline::http).
    let interaction_http = Arc::new({
        let mut builder = serenity::all::HttpBuilder::new(token).ratelimiter_disabled(true);
        if let Some(base) = config.discord.api_base_url.as_deref() {
            builder = builder.proxy(base);
        }
        if let Some(id) = config.discord.application_id {
            builder = builder.application_id(id.into());
        }
        builder.build()
    });
    Pipeline {
        app,
        refresher: TeamRefresher::default(),
        limiter: Arc::new(crate::ops::UserLimiter::from_config(&config.limits)),
        defer_after: Duration::from_millis(config.discord.defer_after_ms),
        http: interaction_http,
        in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT as usize)),
    }
}

/// The hourly expiry sweep (and limiter housekeeping), until aborted.
pub(crate) fn spawn_sweeper(
    app: Arc<App>,
    limiter: Arc<crate::ops::UserLimiter>,
    http: Arc<serenity::all::Http>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        loop {
            tick.tick().await;
            let swept = {
                let app = app.clone();
                // One sweeper per period across the instances sharing the store.
                let lease = SWEEP_EVERY.as_secs() as i64 - 60;
                tokio::task::spawn_blocking(move || app.sweep_if_elected(lease)).await
            };
            limiter.housekeeping();
            match swept {
                Ok(Ok(None)) => tracing::debug!("another instance sweeps this period"),
                Ok(Ok(Some(expired))) => {
                    if !expired.is_empty() {
                        tracing::info!(swept = expired.len(), "expired sessions removed");
                    }
                    close_expired_team_messages(&http, &app, &expired).await;
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "sweeping expired sessions failed"),
                Err(e) => tracing::warn!(error = %e, "sweep task failed"),
            }
        }
    })
}

/// Waits for in-flight interactions (every permit back means every handler ended).
pub(crate) async fn drain(in_flight: &Semaphore) {
    match tokio::time::timeout(DRAIN_TIMEOUT, in_flight.acquire_many(MAX_IN_FLIGHT)).await {
        Ok(_) => tracing::info!("in-flight interactions finished"),
        Err(_) => tracing::warn!("gave up waiting for in-flight interactions"),
    }
    in_flight.close();
}

/// Edits the public messages of expired team sessions to say so (their
/// buttons would only get "expired" answers anyway).
async fn close_expired_team_messages(
    http: &serenity::all::Http,
    app: &App,
    expired: &[crate::domain::session::Session],
) {
    let content = app.content();
    for s in expired.iter().filter(|s| s.team.is_some()) {
        let Some((channel, message)) = s.message_ref.as_deref().and_then(|r| r.split_once(':')) else {
            continue;
        };
        let (Ok(channel), Ok(message)) = (channel.parse::<u64>(), message.parse::<u64>()) else {
            continue;
        };
        if channel == 0 || message == 0 {
            continue;
        }
        let edit = render::team_ended(content, &content.knowledge.texts().expired).edit_message();
        if let Err(e) = serenity::all::ChannelId::new(channel)
            .edit_message(http, serenity::all::MessageId::new(message), edit)
            .await
        {
            tracing::warn!(error = %e, session = %s.id, "could not mark an expired team message");
        }
    }
}

/// `framework-advisor register`: (re)registers the commands over REST only.
pub async fn register(config: &Config, app: &App) -> Result<(), DiscordError> {
    let token = config.require_token()?;
    let http = gateway::http_client(
        token.expose(),
        config.discord.api_base_url.as_deref(),
        config.discord.application_id,
    );
    if http.application_id().is_none() {
        let info = http.get_current_application_info().await?;
        http.set_application_id(info.id);
    }
    let policy = SyncPolicy {
        guild_id: config.discord.guild_id,
        force: true,
    };
    gateway::sync_commands(&http, app, app.store().as_ref(), &policy).await?;
    Ok(())
}
