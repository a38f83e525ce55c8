//! `run`: the gateway adapter. The serenity event handler's `ready` syncs the
//! slash commands when their definitions changed; `interaction_create` hands
//! the interaction to the transport-neutral [`crate::interactions::Pipeline`],
//! which answers by REST callback ([`RestCallback`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serenity::all::{Context, EventHandler, GuildId, Http, Interaction, Ready};
use serenity::async_trait;

use super::commands;
use crate::app::App;
use crate::interactions::{id_and_token, Pipeline, RestCallback};
use crate::ops;
use crate::storage::SessionStore;

pub use crate::interactions::MAX_IN_FLIGHT;

/// Where commands are registered and whether to force it.
#[derive(Debug, Clone)]
pub struct SyncPolicy {
    pub guild_id: Option<u64>,
    pub force: bool,
}

/// The gateway adapter: READY/RESUME bookkeeping and command sync; every
/// interaction goes to the shared [`Pipeline`], answered by REST callback.
pub struct Handler {
    pub app: Arc<App>,
    pub pipeline: Arc<Pipeline>,
    pub sync: SyncPolicy,
    /// Set on the first READY; a later READY is a re-identify.
    pub seen_ready: AtomicBool,
    /// Told once the first READY has been handled (commands synced or tried).
    pub sync_done: tokio::sync::watch::Sender<bool>,
    /// Commands are synced once per process, not on every re-identify.
    pub synced: AtomicBool,
    pub health: Arc<ops::Health>,
}

fn meta_key(guild: Option<u64>) -> String {
    match guild {
        Some(g) => format!("commands_hash:guild:{g}"),
        None => "commands_hash:global".into(),
    }
}

/// Registers the command definitions unless the stored hash says Discord
/// already has exactly these. Returns whether a registration was sent.
/// How long one instance may take to register the commands before another
/// may try (a REST call; Discord answers in well under this).
const COMMANDS_LEASE_SECS: i64 = 60;

async fn register_definitions(
    http: &Http,
    policy: &SyncPolicy,
    defs: Vec<serenity::all::CreateCommand>,
) -> Result<(), serenity::Error> {
    match policy.guild_id {
        Some(g) => {
            GuildId::new(g).set_commands(http, defs).await?;
        }
        None => {
            serenity::all::Command::set_global_commands(http, defs).await?;
        }
    }
    Ok(())
}

pub async fn sync_commands(
    http: &Http,
    app: &App,
    store: &dyn SessionStore,
    policy: &SyncPolicy,
) -> Result<bool, serenity::Error> {
    let defs = commands::definitions(&app.content().knowledge.messages.commands);
    let scope = meta_key(policy.guild_id);
    let hash = commands::definitions_hash(&defs, &scope);
    let stored = store.meta_get(&scope).ok().flatten();
    if !policy.force && stored.as_deref() == Some(hash.as_bytes()) {
        tracing::info!(scope, "command definitions unchanged; not registering");
        return Ok(false);
    }
    // Instances starting together register once: the others find the lease
    // taken and leave it to its holder (which stores the hash when done).
    // `register` (force) is an operator's explicit request: it always runs.
    match app.take_lease(crate::app::COMMANDS_LEASE, COMMANDS_LEASE_SECS) {
        Ok(true) => {}
        Ok(false) if policy.force => {}
        Ok(false) => {
            tracing::info!(scope, "another instance is registering the commands");
            return Ok(false);
        }
        // The store is the judge of elections; if it cannot answer, register
        // anyway: a second identical overwrite is harmless.
        Err(e) => tracing::warn!(error = %e, "could not take the command registration lease"),
    }
    let registered = register_definitions(http, policy, defs).await;
    if let Err(e) = app.release_lease(crate::app::COMMANDS_LEASE) {
        tracing::warn!(error = %e, "could not release the command registration lease");
    }
    registered?;
    if let Err(e) = store.meta_put(&scope, hash.as_bytes()) {
        // Not fatal: the next start registers again.
        tracing::warn!(error = %e, "could not remember the command hash");
    }
    tracing::info!(scope, "registered slash commands");
    Ok(true)
}

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        tracing::info!(user = %ready.user.name, application = %ready.application.id, "connected to the gateway");
        self.health.set_gateway(true);
        if self.seen_ready.swap(true, Ordering::SeqCst) {
            // READY again after the first: a new session (re-identify).
            metrics::counter!(ops::names::GATEWAY_RECONNECTS, "how" => "identify").increment(1);
        }
        if ctx.http.application_id().is_none() {
            ctx.http.set_application_id(ready.application.id);
        }
        if self.pipeline.http.application_id().is_none() {
            self.pipeline.http.set_application_id(ready.application.id);
        }
        if self.synced.swap(true, Ordering::SeqCst) {
            return;
        }
        let app = self.app.clone();
        let store = app.store().clone();
        if let Err(e) = sync_commands(&ctx.http, &app, store.as_ref(), &self.sync).await {
            // Serving goes on; the next start tries again (the hash was not stored).
            tracing::error!(error = %e, "registering slash commands failed");
        }
        self.sync_done.send_replace(true);
    }

    async fn resume(&self, _ctx: Context, _event: serenity::all::ResumedEvent) {
        tracing::info!("gateway session resumed");
        self.health.set_gateway(true);
        metrics::counter!(ops::names::GATEWAY_RECONNECTS, "how" => "resume").increment(1);
    }

    async fn shard_stage_update(&self, _ctx: Context, event: serenity::all::ShardStageUpdateEvent) {
        let connected = matches!(event.new, serenity::all::ConnectionStage::Connected);
        if !connected {
            tracing::info!(stage = ?event.new, "gateway not connected");
        }
        self.health.set_gateway(connected);
    }

    async fn interaction_create(&self, _ctx: Context, interaction: Interaction) {
        let Some((id, token)) = id_and_token(&interaction) else {
            return;
        };
        let responder = RestCallback {
            http: self.pipeline.http.clone(),
            id,
            token: token.to_string(),
        };
        self.pipeline.handle(interaction, responder).await;
    }
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handler")
            .field("sync", &self.sync)
            .finish_non_exhaustive()
    }
}

/// Builds the REST client: through `api_base_url` when set, with serenity's
/// limiter off (it ignores the proxy and would call discord.com directly).
pub fn http_client(token: &str, api_base_url: Option<&str>, application_id: Option<u64>) -> Http {
    let mut builder = serenity::all::HttpBuilder::new(token);
    if let Some(base) = api_base_url {
        builder = builder.proxy(base).ratelimiter_disabled(true);
    }
    if let Some(id) = application_id {
        builder = builder.application_id(id.into());
    }
    builder.build()
}
