//! The serenity event handler: `ready` syncs the slash commands when their
//! definitions changed; `interaction_create` hands the interaction to
//! [`dispatch::handle`] on a blocking thread (the store flushes to disk) and
//! delivers the response. Every interaction is logged once with its id, kind,
//! user, duration and outcome.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serenity::all::{Builder, Context, EventHandler, GuildId, Http, Interaction, Ready};
use serenity::async_trait;
use tokio::sync::Semaphore;

use super::commands;
use super::dispatch::{self, After, Outcome};
use super::render;
use crate::app::App;
use crate::domain::questionnaire::Status;
use crate::error::AppError;
use crate::storage::SessionStore;

/// Upper bound on interactions handled at once; also how shutdown waits for
/// in-flight work (it acquires every permit).
pub const MAX_IN_FLIGHT: u32 = 1024;

/// Where commands are registered and whether to force it.
#[derive(Debug, Clone)]
pub struct SyncPolicy {
    pub guild_id: Option<u64>,
    pub force: bool,
}

/// One team session's message edits, serialised.
#[derive(Default)]
struct RefreshSlot {
    /// Held while rendering and sending an edit: edits never overtake each other.
    sending: tokio::sync::Mutex<()>,
    /// Set by every change after it is committed; cleared by the edit that
    /// reads the store after it. An edit finding it clear has nothing new.
    pending: AtomicBool,
    /// The freshest interaction token (tokens expire after 15 minutes).
    token: Mutex<String>,
}

/// Re-renders team messages after votes, coalescing bursts: however many
/// clicks arrive at once, the last edit sent reads the store after the last
/// commit, so the message ends up showing every vote.
#[derive(Default)]
pub struct TeamRefresher {
    // A std Mutex: held only to look up a slot, never across an await.
    slots: Mutex<HashMap<String, Arc<RefreshSlot>>>,
}

impl TeamRefresher {
    pub async fn refresh(&self, http: &Http, app: &Arc<App>, session: &str, token: &str) {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.entry(session.to_string()).or_default().clone()
        };
        *slot.token.lock().unwrap_or_else(|p| p.into_inner()) = token.to_string();
        slot.pending.store(true, Ordering::SeqCst);
        let _sending = slot.sending.lock().await;
        if !slot.pending.swap(false, Ordering::SeqCst) {
            return; // an edit that started after our commit already went out
        }
        let token = slot.token.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let view = {
            let app = app.clone();
            let session = session.to_string();
            tokio::task::spawn_blocking(move || app.current_view(&session)).await
        };
        let content = app.content();
        let (rendered, finished) = match view {
            Ok(Ok(view)) => (render::team(content, &view), view.session.status != Status::Active),
            Ok(Err(AppError::Expired)) => (render::team_ended(content, &content.knowledge.texts().expired), true),
            Ok(Err(e)) => {
                tracing::error!(error = %e, session, "reading a team session for its message failed");
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, session, "team refresh task failed");
                return;
            }
        };
        if let Err(e) = rendered.edit().execute(http, &token).await {
            tracing::error!(error = %e, session, "updating the team message failed");
        }
        if finished {
            self.slots.lock().unwrap_or_else(|p| p.into_inner()).remove(session);
        }
    }
}

pub struct Handler {
    pub app: Arc<App>,
    pub refresher: Arc<TeamRefresher>,
    pub sync: SyncPolicy,
    pub in_flight: Arc<Semaphore>,
    /// Told once the first READY has been handled (commands synced).
    pub ready_tx: tokio::sync::watch::Sender<bool>,
}

fn meta_key(guild: Option<u64>) -> String {
    match guild {
        Some(g) => format!("commands_hash:guild:{g}"),
        None => "commands_hash:global".into(),
    }
}

/// Registers the command definitions unless the stored hash says Discord
/// already has exactly these. Returns whether a registration was sent.
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
    match policy.guild_id {
        Some(g) => {
            GuildId::new(g).set_commands(http, defs).await?;
        }
        None => {
            serenity::all::Command::set_global_commands(http, defs).await?;
        }
    }
    if let Err(e) = store.meta_put(&scope, hash.as_bytes()) {
        // Not fatal: the next start registers again.
        tracing::warn!(error = %e, "could not remember the command hash");
    }
    tracing::info!(scope, "registered slash commands");
    Ok(true)
}

fn describe(interaction: &Interaction) -> (&'static str, u64, String) {
    match interaction {
        Interaction::Command(c) => ("command", c.user.id.get(), c.data.name.clone()),
        Interaction::Autocomplete(c) => ("autocomplete", c.user.id.get(), c.data.name.clone()),
        Interaction::Component(c) => ("component", c.user.id.get(), String::new()),
        Interaction::Modal(m) => ("modal", m.user.id.get(), String::new()),
        Interaction::Ping(_) => ("ping", 0, String::new()),
        _ => ("other", 0, String::new()),
    }
}

fn id_and_token(interaction: &Interaction) -> Option<(serenity::all::InteractionId, String)> {
    match interaction {
        Interaction::Command(c) | Interaction::Autocomplete(c) => Some((c.id, c.token.clone())),
        Interaction::Component(c) => Some((c.id, c.token.clone())),
        Interaction::Modal(m) => Some((m.id, m.token.clone())),
        _ => None,
    }
}

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        tracing::info!(user = %ready.user.name, application = %ready.application.id, "connected to the gateway");
        if ctx.http.application_id().is_none() {
            ctx.http.set_application_id(ready.application.id);
        }
        let app = self.app.clone();
        let store = app.store().clone();
        match sync_commands(&ctx.http, &app, store.as_ref(), &self.sync).await {
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "registering slash commands failed"),
        }
        self.ready_tx.send_replace(true);
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        let Ok(_permit) = self.in_flight.clone().acquire_owned().await else {
            return; // closed: shutting down
        };
        let started = Instant::now();
        let (kind, user, name) = describe(&interaction);
        let Some((id, token)) = id_and_token(&interaction) else {
            return;
        };
        let span = tracing::info_span!("interaction", interaction = %id, kind, user, command = %name);
        let _enter = span.enter();
        let app = self.app.clone();
        // The store flushes to disk: keep that off the async workers.
        let handled = {
            let span = span.clone();
            tokio::task::spawn_blocking(move || span.in_scope(|| dispatch::handle(&app, &interaction))).await
        };
        let handled = match handled {
            Ok(Some(h)) => h,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(error = %e, "interaction handler panicked");
                dispatch::Handled {
                    response: serenity::all::CreateInteractionResponse::Message(super::render::notice(
                        &self.app.content().knowledge.texts().internal_error,
                    )),
                    outcome: Outcome::InternalError,
                    after: None,
                }
            }
        };
        let outcome = handled.outcome;
        let delivered = handled.response.execute(&ctx.http, (id, &token)).await;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        match delivered {
            Ok(()) => tracing::info!(outcome = outcome.as_str(), duration_ms = ms, "handled"),
            Err(e) => {
                tracing::error!(outcome = outcome.as_str(), duration_ms = ms, error = %e, "delivering the response failed");
                return;
            }
        }
        if let Some(After::RefreshTeam { session }) = handled.after {
            self.refresher.refresh(&ctx.http, &self.app, &session, &token).await;
        }
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
