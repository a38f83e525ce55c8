//! `serve`: the HTTP interactions endpoint, a thin adapter over
//! [`crate::interactions`].
//!
//! Discord POSTs every interaction to `POST /interactions` (the developer
//! portal's "Interactions Endpoint URL"), signed with the application's
//! Ed25519 key. This adapter verifies the signature and the timestamp, answers
//! PING with PONG, and hands everything else to the same [`Pipeline`] the
//! gateway uses; the pipeline's first answer becomes the HTTP response body.
//! Deferred results, follow-ups and team message edits go over REST with the
//! interaction token, as with the gateway. Nothing here panics on what a
//! client sends: garbage gets a 4xx.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt;
use serenity::all::{CreateInteractionResponse, Interaction};
use tokio::sync::oneshot;

use super::gateway::{self, SyncPolicy};
use super::DiscordError;
use crate::app::App;
use crate::config::{Config, ConfigError};
use crate::interactions::{Pipeline, Responder};

/// The path Discord POSTs interactions to.
pub const INTERACTIONS_PATH: &str = "/interactions";

/// Options of one `serve`.
#[derive(Default)]
pub struct ServeOptions {
    /// Re-register the commands even if the hash is unchanged.
    pub force_sync: bool,
    /// Told the bound address once commands are synced and the listener is
    /// up (tests bind port 0 and wait on it).
    pub ready: Option<tokio::sync::watch::Sender<Option<SocketAddr>>>,
    /// Shared with the `/healthz` listener.
    pub health: Option<Arc<crate::ops::Health>>,
}

/// Checks Discord's request signatures: Ed25519 over timestamp + body.
#[derive(Clone)]
struct Verifier {
    key: ed25519_dalek::VerifyingKey,
}

impl Verifier {
    fn try_new(key: [u8; 32]) -> Result<Self, ed25519_dalek::SignatureError> {
        Ok(Verifier {
            key: ed25519_dalek::VerifyingKey::from_bytes(&key)?,
        })
    }

    /// `signature` is the hex `X-Signature-Ed25519` header.
    fn verify(&self, signature: &str, timestamp: &str, body: &[u8]) -> Result<(), ()> {
        let signature = signature.trim();
        if signature.len() != 128 || !signature.is_ascii() {
            return Err(());
        }
        let mut bytes = [0u8; 64];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&signature[2 * i..2 * i + 2], 16).map_err(|_| ())?;
        }
        let signature = ed25519_dalek::Signature::from_bytes(&bytes);
        let mut message = Vec::with_capacity(timestamp.len() + body.len());
        message.extend_from_slice(timestamp.as_bytes());
        message.extend_from_slice(body);
        // Strict: refuses the malleable and small-order encodings plain `verify` lets through.
        self.key.verify_strict(&message, &signature).map_err(|_| ())
    }
}

/// What the endpoint needs per request.
struct Endpoint {
    verifier: Verifier,
    pipeline: Arc<Pipeline>,
    replay_window_secs: i64,
}

/// The pipeline's first answer, handed back to the waiting HTTP request.
struct HttpResponse {
    tx: oneshot::Sender<Vec<u8>>,
}

impl Responder for HttpResponse {
    async fn respond(self, response: CreateInteractionResponse) -> serenity::Result<()> {
        let body = serde_json::to_vec(&response)?;
        self.tx
            .send(body)
            .map_err(|_| serenity::Error::Other("the HTTP request was gone before its answer"))
    }

    fn carries_files(&self) -> bool {
        false
    }
}

/// Why a request was refused (the status and a short plain-text reason).
fn refuse(status: StatusCode, reason: &'static str) -> Response {
    tracing::info!(status = status.as_u16(), reason, "refused an HTTP interaction request");
    (status, reason).into_response()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Checks the signature headers against the body; `Err` says why (answered 401).
fn verify(endpoint: &Endpoint, headers: &HeaderMap, body: &[u8]) -> Result<(), &'static str> {
    let (Some(signature), Some(timestamp)) = (
        headers.get("x-signature-ed25519").and_then(|v| v.to_str().ok()),
        headers.get("x-signature-timestamp").and_then(|v| v.to_str().ok()),
    ) else {
        return Err("missing signature headers");
    };
    let Ok(at) = timestamp.trim().parse::<i64>() else {
        return Err("bad signature timestamp");
    };
    // Checked before the signature too: a replayed request is refused even
    // though its signature is genuine.
    if (unix_now().saturating_sub(at)).abs() > endpoint.replay_window_secs {
        return Err("stale or future signature timestamp");
    }
    if endpoint.verifier.verify(signature, timestamp, body).is_err() {
        return Err("bad signature");
    }
    Ok(())
}

async fn interactions(State(endpoint): State<Arc<Endpoint>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(reason) = verify(&endpoint, &headers, &body) {
        return refuse(StatusCode::UNAUTHORIZED, reason);
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("application/json"));
    if !json {
        return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, "expected application/json");
    }
    let interaction = match serde_json::from_slice::<Interaction>(&body) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(error = %e, "an HTTP interaction did not parse");
            return refuse(StatusCode::BAD_REQUEST, "not an interaction this bot understands");
        }
    };
    if let Interaction::Ping(_) = interaction {
        return json_response(b"{\"type\":1}".to_vec());
    }
    let (tx, rx) = oneshot::channel();
    let pipeline = endpoint.pipeline.clone();
    // Its own task: after the first answer the pipeline may go on (a deferred
    // result, a team message edit) while this request has already returned.
    tokio::spawn(async move { pipeline.handle(interaction, HttpResponse { tx }).await });
    match rx.await {
        Ok(body) => json_response(body),
        // The pipeline ended without answering: a kind it does not handle.
        Err(_) => refuse(StatusCode::BAD_REQUEST, "unsupported interaction"),
    }
}

fn json_response(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The router of the endpoint (`POST /interactions`), for [`serve`] and tests.
fn router(endpoint: Arc<Endpoint>, max_body_bytes: usize) -> axum::Router {
    axum::Router::new()
        .route(INTERACTIONS_PATH, post(interactions))
        // Beyond the limit the body is not read: 413.
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(endpoint)
}

/// Serves `POST /interactions` on `[http] listen` until `shutdown` resolves;
/// then waits for in-flight interactions and flushes the store.
pub async fn serve(
    config: &Config,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: ServeOptions,
) -> Result<(), DiscordError> {
    let token = config.require_token()?;
    let key = config.require_public_key()?;
    let verifier = Verifier::try_new(key).map_err(|e| ConfigError::Key {
        key: "discord.public_key",
        problem: e.to_string(),
    })?;
    let http = gateway::http_client(
        token.expose(),
        config.discord.api_base_url.as_deref(),
        config.discord.application_id,
    );
    // No READY over HTTP: the application id comes from the config or from REST.
    let application_id = match http.application_id() {
        Some(id) => id,
        None => {
            let id = http.get_current_application_info().await?.id;
            http.set_application_id(id);
            id
        }
    };
    let pipeline = Arc::new(super::pipeline(config, app.clone(), token.expose()));
    if pipeline.http.application_id().is_none() {
        pipeline.http.set_application_id(application_id);
    }
    let policy = SyncPolicy {
        guild_id: config.discord.guild_id,
        force: options.force_sync,
    };
    if let Err(e) = gateway::sync_commands(&http, &app, app.store().as_ref(), &policy).await {
        // Serving goes on, as with `run`; the next start tries again.
        tracing::error!(error = %e, "registering slash commands failed");
    }
    let listen = &config.http.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| DiscordError::Listen {
            addr: listen.clone(),
            reason: e.to_string(),
        })?;
    let addr = listener.local_addr().map_err(|e| DiscordError::Listen {
        addr: listen.clone(),
        reason: e.to_string(),
    })?;
    // Small answers: without TCP_NODELAY, Nagle and delayed ACKs add ~40 ms.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let health = options.health.unwrap_or_default();
    health.set_store(true);
    health.set_gateway(true); // the transport is up: the listener is bound
    tracing::info!(%addr, path = INTERACTIONS_PATH, "serving HTTP interactions");
    if let Some(ready) = options.ready {
        ready.send_replace(Some(addr));
    }
    let in_flight = pipeline.in_flight.clone();
    let sweeper = super::spawn_sweeper(app.clone(), pipeline.limiter.clone(), Arc::new(http));
    let endpoint = Arc::new(Endpoint {
        verifier,
        pipeline,
        replay_window_secs: i64::try_from(config.http.replay_window_secs).unwrap_or(i64::MAX),
    });
    let served = axum::serve(listener, router(endpoint, config.http.max_body_bytes))
        .with_graceful_shutdown(shutdown)
        .await;
    tracing::info!("shutting down: the listener is closed");
    sweeper.abort();
    super::drain(&in_flight).await;
    health.set_gateway(false);
    app.store().flush()?;
    tracing::info!("store flushed; bye");
    served.map_err(|e| DiscordError::Listen {
        addr: addr.to_string(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Signer;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn only_a_signature_over_this_timestamp_and_body_verifies() {
        let signing = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let verifier = Verifier::try_new(signing.verifying_key().to_bytes()).unwrap();
        let sig = hex(&signing.sign(b"1700000000{\"type\":1}").to_bytes());
        assert!(verifier.verify(&sig, "1700000000", b"{\"type\":1}").is_ok());
        assert!(
            verifier.verify(&sig, "1700000001", b"{\"type\":1}").is_err(),
            "other timestamp"
        );
        assert!(
            verifier.verify(&sig, "1700000000", b"{\"type\":2}").is_err(),
            "other body"
        );
        assert!(verifier.verify("", "1700000000", b"{}").is_err());
        assert!(verifier.verify(&"zz".repeat(64), "1700000000", b"{}").is_err());
        assert!(
            verifier.verify(&"é".repeat(64), "1700000000", b"{}").is_err(),
            "not ASCII"
        );
        let other = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
        let forged = hex(&other.sign(b"1700000000{\"type\":1}").to_bytes());
        assert!(
            verifier.verify(&forged, "1700000000", b"{\"type\":1}").is_err(),
            "another key"
        );
    }
}
