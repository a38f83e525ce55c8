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
use crate::ops;
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
    /// Set on the first READY; a later READY is a re-identify.
    pub seen_ready: AtomicBool,
    /// Told once the first READY has been handled (commands synced or tried).
    pub sync_done: tokio::sync::watch::Sender<bool>,
    /// Commands are synced once per process, not on every re-identify.
    pub synced: AtomicBool,
    pub health: Arc<ops::Health>,
    pub limiter: Arc<ops::UserLimiter>,
    pub defer_after: std::time::Duration,
    /// Interaction responses go through a client whose rate limiter is off:
    /// Discord does not apply the global limit to them, and serenity's limiter
    /// would keep one bucket per interaction token forever.
    pub interaction_http: Arc<Http>,
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

/// Whether a command's answer is private, so a deferred response matches it.
fn defers_ephemeral(interaction: &Interaction) -> bool {
    match interaction {
        Interaction::Command(c) => matches!(c.data.name.as_str(), "consult" | "advisor"),
        _ => true,
    }
}

/// Keys a message body may carry when it edits a response or follows one up.
const EDIT_KEYS: &[&str] = &["content", "embeds", "allowed_mentions", "components", "attachments"];
const FOLLOWUP_KEYS: &[&str] = &[
    "content",
    "embeds",
    "allowed_mentions",
    "components",
    "attachments",
    "flags",
];

fn body_with(msg: &serenity::all::CreateInteractionResponseMessage, keys: &[&str]) -> serde_json::Value {
    let mut value = serde_json::to_value(msg).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.retain(|k, _| keys.contains(&k.as_str()));
    }
    value
}

impl Handler {
    /// Answers an interaction the limiter refused: one notice per cool-down,
    /// otherwise the cheapest valid answer.
    async fn refuse_rate_limited(&self, http: &Http, interaction: &Interaction, notify: bool) -> serenity::Result<()> {
        use serenity::all::{CreateAutocompleteResponse, CreateInteractionResponse as R};
        let Some((id, token)) = id_and_token(interaction) else {
            return Ok(());
        };
        let text = &self.app.content().knowledge.texts().rate_limited;
        let response = match interaction {
            Interaction::Autocomplete(_) => R::Autocomplete(CreateAutocompleteResponse::new()),
            // A silent acknowledgement: no visible change, no work.
            Interaction::Component(_) if !notify => R::Acknowledge,
            _ => R::Message(render::notice(text)),
        };
        response.execute(http, (id, &token)).await
    }

    /// Sends the response, or, when it was deferred, delivers it by editing
    /// the deferred response (or as a follow-up for a new message on a click).
    async fn deliver(
        &self,
        http: &Http,
        id: serenity::all::InteractionId,
        token: &str,
        response: serenity::all::CreateInteractionResponse,
        deferred: bool,
        is_component: bool,
    ) -> serenity::Result<()> {
        use serenity::all::CreateInteractionResponse as R;
        if !deferred {
            return response.execute(http, (id, token)).await;
        }
        match response {
            R::UpdateMessage(msg) => {
                http.edit_original_interaction_response(token, &body_with(&msg, EDIT_KEYS), vec![])
                    .await?;
            }
            R::Message(msg) if is_component => {
                http.create_followup_message(token, &body_with(&msg, FOLLOWUP_KEYS), vec![])
                    .await?;
            }
            R::Message(msg) => {
                http.edit_original_interaction_response(token, &body_with(&msg, EDIT_KEYS), vec![])
                    .await?;
            }
            // Already acknowledged: nothing more to send.
            _ => {}
        }
        Ok(())
    }
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
        if self.interaction_http.application_id().is_none() {
            self.interaction_http.set_application_id(ready.application.id);
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
        let http = self.interaction_http.as_ref();

        match self.limiter.check(user, ops::Budget::of_kind(kind)) {
            ops::Verdict::Allowed => {}
            verdict => {
                let notify = verdict == ops::Verdict::LimitedNotify;
                if let Err(e) = self.refuse_rate_limited(http, &interaction, notify).await {
                    tracing::warn!(error = %e, "answering a rate-limited interaction failed");
                }
                tracing::info!(outcome = "rate_limited", "refused: over the per-user limit");
                ops::record_interaction(kind, "rate_limited", started.elapsed());
                return;
            }
        }

        let is_component = matches!(interaction, Interaction::Component(_));
        let can_defer = !matches!(interaction, Interaction::Autocomplete(_));
        let ephemeral_defer = defers_ephemeral(&interaction);
        let app = self.app.clone();
        // The store flushes to disk: keep that off the async workers.
        let mut work = {
            let span = span.clone();
            tokio::task::spawn_blocking(move || span.in_scope(|| dispatch::handle(&app, &interaction)))
        };
        // The 3-second rule: if the answer is late, acknowledge now and deliver it later.
        let mut deferred = false;
        let joined = match tokio::time::timeout(self.defer_after, &mut work).await {
            Ok(joined) => joined,
            Err(_) if can_defer => {
                use serenity::all::{CreateInteractionResponse as R, CreateInteractionResponseMessage};
                let ack = if is_component {
                    R::Acknowledge
                } else {
                    R::Defer(CreateInteractionResponseMessage::new().ephemeral(ephemeral_defer))
                };
                match ack.execute(http, (id, &token)).await {
                    Ok(()) => {
                        deferred = true;
                        metrics::counter!(ops::names::DEFERRED).increment(1);
                        tracing::warn!(
                            after_ms = self.defer_after.as_millis() as u64,
                            "response is slow; deferred"
                        );
                    }
                    Err(e) => tracing::error!(error = %e, "deferring a slow response failed"),
                }
                work.await
            }
            Err(_) => work.await,
        };
        let handled = match joined {
            Ok(Some(h)) => h,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(error = %e, "interaction handler panicked");
                dispatch::Handled {
                    response: serenity::all::CreateInteractionResponse::Message(render::notice(
                        &self.app.content().knowledge.texts().internal_error,
                    )),
                    outcome: Outcome::InternalError,
                    after: None,
                }
            }
        };
        let outcome = handled.outcome;
        if outcome == Outcome::InternalError {
            metrics::counter!(ops::names::STORE_ERRORS).increment(1);
        }
        let delivered = self
            .deliver(http, id, &token, handled.response, deferred, is_component)
            .await;
        let elapsed = started.elapsed();
        let ms = elapsed.as_secs_f64() * 1000.0;
        ops::record_interaction(kind, outcome.as_str(), elapsed);
        match delivered {
            Ok(()) => tracing::info!(outcome = outcome.as_str(), duration_ms = ms, deferred, "handled"),
            Err(e) => {
                tracing::error!(outcome = outcome.as_str(), duration_ms = ms, error = %e, "delivering the response failed");
                return;
            }
        }
        if let Some(After::RefreshTeam { session, notice }) = handled.after {
            self.refresher.refresh(http, &self.app, &session, &token).await;
            if let Some(text) = notice {
                let body = body_with(&render::notice(&text), FOLLOWUP_KEYS);
                if let Err(e) = http.create_followup_message(&token, &body, vec![]).await {
                    tracing::warn!(error = %e, "sending a follow-up notice failed");
                }
            }
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
