//! The transport-neutral interaction pipeline: per-user rate limit, dispatch,
//! the deferral timer, delivery, the team message refresh, and one log line
//! and one metric per interaction.
//!
//! A transport (the gateway's `EventHandler` in [`crate::discord::gateway`],
//! the HTTP endpoint in [`crate::discord::http`]) only hands an interaction to
//! [`Pipeline::handle`] with a [`Responder`]: how *its* first answer goes out
//! (a REST callback for the gateway, the HTTP response body for `serve`).
//! Everything after the first answer (a deferred result, follow-ups, team
//! message edits) goes over REST with the interaction token, through the
//! limiter-free client, whatever the transport.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serenity::all::{
    Builder, CreateAutocompleteResponse, CreateInteractionResponse, CreateInteractionResponseMessage, Http,
    Interaction, InteractionId,
};
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::app::App;
use crate::discord::dispatch::{self, After, Outcome};
use crate::discord::render;
use crate::domain::session::Status;
use crate::error::AppError;
use crate::ops;

/// Upper bound on interactions handled at once; also how shutdown waits for
/// in-flight work (it acquires every permit).
pub const MAX_IN_FLIGHT: u32 = 1024;

/// How many times one refresh re-renders a team message whose store moved on
/// while it was being edited (another instance's older edit may have landed
/// last). Each round needs a new commit in between, so this is never reached
/// in practice; it only bounds a pathological storm.
const MAX_REFRESH_ROUNDS: usize = 8;

/// How a transport sends the first answer to an interaction. Called at most
/// once per interaction.
pub trait Responder: Send {
    fn respond(self, response: CreateInteractionResponse) -> impl Future<Output = serenity::Result<()>> + Send;

    /// Whether the first answer can carry files (a multipart body). The
    /// HTTP endpoint's answer is JSON only, so a result with a chart is
    /// acknowledged there and delivered with its files over REST.
    fn carries_files(&self) -> bool {
        true
    }
}

/// The gateway's way: `POST /interactions/{id}/{token}/callback`.
pub struct RestCallback {
    pub http: Arc<Http>,
    pub id: InteractionId,
    pub token: String,
}

impl Responder for RestCallback {
    async fn respond(self, response: CreateInteractionResponse) -> serenity::Result<()> {
        response.execute(self.http.as_ref(), (self.id, &self.token)).await
    }
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
///
/// With several instances, each coalesces its own clicks; across instances
/// the render version stored with the session ([`App::claim_team_render`])
/// keeps an instance from sending an older tally over a newer one, and an
/// instance that finds the store moved on after its edit renders again, so
/// the message converges to the stored truth.
#[derive(Default)]
pub struct TeamRefresher {
    // A std Mutex: held only to look up a slot, never across an await.
    slots: Mutex<HashMap<String, Arc<RefreshSlot>>>,
}

/// Runs blocking store work off the async workers.
async fn blocking<T: Send + 'static>(app: &Arc<App>, f: impl FnOnce(&App) -> T + Send + 'static) -> Option<T> {
    let app = app.clone();
    match tokio::task::spawn_blocking(move || f(&app)).await {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::error!(error = %e, "a store task failed");
            None
        }
    }
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
        let finished = self.render_until_current(http, app, session, &token).await;
        if finished {
            self.slots.lock().unwrap_or_else(|p| p.into_inner()).remove(session);
        }
    }

    /// Edits the message until what it shows is what the store holds (or a
    /// newer render is another instance's job). Returns whether the session is over.
    async fn render_until_current(&self, http: &Http, app: &Arc<App>, session: &str, token: &str) -> bool {
        let content = app.content();
        for _ in 0..MAX_REFRESH_ROUNDS {
            let id = session.to_string();
            let Some(view) = blocking(app, move |app| app.current_view(&id)).await else {
                return false;
            };
            let (rendered, finished, changes) = match view {
                Ok(view) => {
                    let changes = view.session.team.as_ref().map_or(0, |t| t.changes);
                    (
                        render::team(content, &view),
                        view.session.status != Status::Active,
                        changes,
                    )
                }
                Err(AppError::Expired) => {
                    let ended = render::team_ended(content, &content.knowledge.texts().expired);
                    if let Err(e) = ended.edit().execute(http, token).await {
                        tracing::error!(error = %e, session, "updating the team message failed");
                    }
                    return true;
                }
                Err(e) => {
                    tracing::error!(error = %e, session, "reading a team session for its message failed");
                    return false;
                }
            };
            let id = session.to_string();
            match blocking(app, move |app| app.claim_team_render(&id, changes)).await {
                Some(Ok(true)) => {}
                Some(Ok(false)) => {
                    tracing::debug!(session, changes, "a newer tally is already on the message");
                    return finished;
                }
                Some(Err(e)) => {
                    tracing::error!(error = %e, session, "recording the team render version failed");
                    return false;
                }
                None => return false,
            }
            if let Err(e) = rendered.edit().execute(http, token).await {
                tracing::error!(error = %e, session, "updating the team message failed");
                return finished;
            }
            // Another instance may have sent an older render that landed after
            // ours; if the store moved on meanwhile, render again.
            let id = session.to_string();
            let now = blocking(app, move |app| {
                app.store()
                    .get(&id)
                    .ok()
                    .flatten()
                    .and_then(|s| s.team.map(|t| t.changes))
            })
            .await
            .flatten();
            if now.is_none_or(|now| now == changes) {
                return finished;
            }
        }
        false
    }
}

/// The interaction pipeline shared by every transport.
pub struct Pipeline {
    pub app: Arc<App>,
    pub refresher: TeamRefresher,
    pub limiter: Arc<ops::UserLimiter>,
    pub defer_after: Duration,
    /// Interaction responses, follow-ups and edits go through a client whose
    /// rate limiter is off: Discord does not apply the global limit to them,
    /// and serenity's limiter would keep one bucket per interaction token forever.
    pub http: Arc<Http>,
    /// Bounds the interactions handled at once; shutdown drains it.
    pub in_flight: Arc<Semaphore>,
}

fn describe(interaction: &Interaction) -> (&'static str, u64, &str) {
    match interaction {
        Interaction::Command(c) => ("command", c.user.id.get(), c.data.name.as_str()),
        Interaction::Autocomplete(c) => ("autocomplete", c.user.id.get(), c.data.name.as_str()),
        Interaction::Component(c) => ("component", c.user.id.get(), ""),
        Interaction::Modal(m) => ("modal", m.user.id.get(), ""),
        Interaction::Ping(_) => ("ping", 0, ""),
        _ => ("other", 0, ""),
    }
}

/// The interaction's id and token (`None` for pings and unknown kinds).
pub fn id_and_token(interaction: &Interaction) -> Option<(InteractionId, &str)> {
    match interaction {
        Interaction::Command(c) | Interaction::Autocomplete(c) => Some((c.id, c.token.as_str())),
        Interaction::Component(c) => Some((c.id, c.token.as_str())),
        Interaction::Modal(m) => Some((m.id, m.token.as_str())),
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

fn body_with(msg: &CreateInteractionResponseMessage, keys: &[&str]) -> serde_json::Value {
    let mut value = serde_json::to_value(msg).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.retain(|k, _| keys.contains(&k.as_str()));
    }
    value
}

impl Pipeline {
    /// Handles one interaction end to end; `responder` sends the first answer.
    pub async fn handle(&self, interaction: Interaction, responder: impl Responder) {
        let Ok(_permit) = self.in_flight.clone().acquire_owned().await else {
            return; // closed: shutting down
        };
        let Some((id, _)) = id_and_token(&interaction) else {
            return;
        };
        let (kind, user, name) = describe(&interaction);
        let span = tracing::info_span!("interaction", interaction = %id, kind, user, command = %name);
        self.handle_in_span(interaction, responder, kind, user, span.clone())
            .instrument(span)
            .await;
    }

    async fn handle_in_span(
        &self,
        interaction: Interaction,
        responder: impl Responder,
        kind: &'static str,
        user: u64,
        span: tracing::Span,
    ) {
        let started = Instant::now();
        let Some((_, token)) = id_and_token(&interaction) else {
            return;
        };
        let token = token.to_string();
        let http = self.http.as_ref();

        match self.limiter.check(user, ops::Budget::of_kind(kind)) {
            ops::Verdict::Allowed => {}
            verdict => {
                let notify = verdict == ops::Verdict::LimitedNotify;
                if let Err(e) = responder.respond(self.rate_limited(&interaction, notify)).await {
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
        let mut work = tokio::task::spawn_blocking(move || span.in_scope(|| dispatch::handle(&app, &interaction)));
        // The 3-second rule: if the answer is late, acknowledge now and deliver it later.
        let mut responder = Some(responder);
        let mut deferred = false;
        let joined = match tokio::time::timeout(self.defer_after, &mut work).await {
            Ok(joined) => joined,
            Err(_) if can_defer => {
                let ack = if is_component {
                    CreateInteractionResponse::Acknowledge
                } else {
                    CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new().ephemeral(ephemeral_defer))
                };
                let first = responder.take().expect("nothing answered yet");
                match first.respond(ack).await {
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
                    response: CreateInteractionResponse::Message(render::notice(
                        &self.app.content().knowledge.texts().internal_error,
                    )),
                    outcome: Outcome::InternalError,
                    after: None,
                    files: Vec::new(),
                }
            }
        };
        // The bot's own work, apart from delivering the answer (logged beside
        // the total, so a slow answer says which side it was slow on).
        let work_ms = started.elapsed().as_secs_f64() * 1000.0;
        let outcome = handled.outcome;
        if outcome == Outcome::InternalError {
            metrics::counter!(ops::names::STORE_ERRORS).increment(1);
        }
        let delivered = match responder {
            Some(first) if !handled.files.is_empty() && !first.carries_files() => {
                let ack = if is_component {
                    CreateInteractionResponse::Acknowledge
                } else {
                    CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new().ephemeral(ephemeral_defer))
                };
                match first.respond(ack).await {
                    Ok(()) => {
                        self.deliver_late(&token, handled.response, is_component, handled.files)
                            .await
                    }
                    Err(e) => Err(e),
                }
            }
            Some(first) => first.respond(handled.response).await,
            None if deferred => {
                self.deliver_late(&token, handled.response, is_component, handled.files)
                    .await
            }
            // The deferral failed: the token is unusable, nothing more can be sent.
            None => Err(serenity::Error::Other("the interaction could not be deferred")),
        };
        let elapsed = started.elapsed();
        let ms = elapsed.as_secs_f64() * 1000.0;
        ops::record_interaction(kind, outcome.as_str(), elapsed);
        match delivered {
            Ok(()) => tracing::info!(
                outcome = outcome.as_str(),
                duration_ms = ms,
                work_ms,
                deferred,
                "handled"
            ),
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

    /// The answer to an interaction the limiter refused: one notice per
    /// cool-down, otherwise the cheapest valid answer.
    fn rate_limited(&self, interaction: &Interaction, notify: bool) -> CreateInteractionResponse {
        let text = &self.app.content().knowledge.texts().rate_limited;
        match interaction {
            Interaction::Autocomplete(_) => CreateInteractionResponse::Autocomplete(CreateAutocompleteResponse::new()),
            // A silent acknowledgement: no visible change, no work.
            Interaction::Component(_) if !notify => CreateInteractionResponse::Acknowledge,
            _ => CreateInteractionResponse::Message(render::notice(text)),
        }
    }

    /// Delivers a result after a deferral: edits the deferred response (or,
    /// for a new message on a click, sends it as a follow-up).
    async fn deliver_late(
        &self,
        token: &str,
        response: CreateInteractionResponse,
        is_component: bool,
        files: Vec<serenity::all::CreateAttachment>,
    ) -> serenity::Result<()> {
        let http = self.http.as_ref();
        // The body lists the new files (`attachments`); their bytes go
        // alongside, as Discord expects of a multipart message.
        match response {
            CreateInteractionResponse::UpdateMessage(msg) => {
                http.edit_original_interaction_response(token, &body_with(&msg, EDIT_KEYS), files)
                    .await?;
            }
            CreateInteractionResponse::Message(msg) if is_component => {
                http.create_followup_message(token, &body_with(&msg, FOLLOWUP_KEYS), files)
                    .await?;
            }
            CreateInteractionResponse::Message(msg) => {
                http.edit_original_interaction_response(token, &body_with(&msg, EDIT_KEYS), files)
                    .await?;
            }
            // Already acknowledged: nothing more to send.
            _ => {}
        }
        Ok(())
    }
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("defer_after", &self.defer_after)
            .finish_non_exhaustive()
    }
}
