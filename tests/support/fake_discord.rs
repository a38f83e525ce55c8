//! A fake Discord on 127.0.0.1 for end-to-end tests: REST + gateway websocket in one axum server.
//!
//! The real serenity client is pointed at it (`HttpBuilder::proxy(fake.base_url())` with the
//! rate limiter disabled, see [`FakeDiscord::http`]); `GET /api/v10/gateway` hands out the
//! websocket address, so nothing ever leaves loopback.
//!
//! What it does, and why:
//! - **Gateway**: HELLO, IDENTIFY → READY, heartbeat ACKs, RESUME → RESUMED, and sequence numbers
//!   on every dispatch. Faults (close codes, TCP drops, op 7, op 9) exercise reconnection.
//! - **Interactions**: [`FakeDiscord::send_command`] and friends build `INTERACTION_CREATE`
//!   payloads only from what the bot registered and rendered ([`super::interaction_builder`]):
//!   an option, choice, value or custom_id no Discord client could produce fails the test. They
//!   also check that serenity can parse the payload before sending: serenity silently drops an
//!   event it cannot parse, which would otherwise look like a bot that never answers. There is
//!   no way to send a hand-written interaction.
//! - **Messages**: callbacks, follow-ups and edits create and update stored messages the way
//!   Discord does, so a later click carries the message the bot really produced.
//! - **Refuses surprises**: unknown routes answer 404 and are recorded as unexpected; every body
//!   the bot sends is validated ([`super::spec`]); anything Discord would reject is rejected the
//!   way Discord does (400/404 with its error codes) and recorded. [`FakeDiscord::assert_clean`]
//!   turns the record into a test failure.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Notify};

use super::interaction_builder::{self as build, interaction_json};
use super::spec;

/// Heartbeat interval announced in HELLO. Long enough that a test of a few seconds sees no
/// heartbeat traffic unless it asks for it, like Discord's own ~41 s.
const HEARTBEAT_INTERVAL_MS: u64 = 41_250;
/// Discord invalidates an interaction token if the first response takes longer than this.
const RESPONSE_WINDOW: Duration = Duration::from_secs(3);
/// How long `send_*` wait for a live gateway session before giving up.
const SEND_WAIT: Duration = Duration::from_secs(10);
/// Message flag set on a deferred response's "is thinking…" placeholder.
const LOADING: u64 = 1 << 7;
/// Message type of a reply to a slash command.
const CHAT_INPUT_COMMAND: u64 = 20;

/// A guild member who uses the bot in the tests.
#[derive(Clone, Debug)]
pub struct FakeUser {
    pub id: u64,
    pub name: String,
    /// Permission bits the member has in [`FakeDiscord::CHANNEL_ID`] (sent as `member.permissions`).
    pub permissions: u64,
}

impl FakeUser {
    /// The Manage Guild permission bit.
    pub const MANAGE_GUILD: u64 = 1 << 5;
    /// An ordinary member: view channel, send messages, embed links, add reactions, read message
    /// history, use application commands.
    pub const MEMBER: u64 = (1 << 10) | (1 << 11) | (1 << 14) | (1 << 6) | (1 << 16) | (1 << 31);

    pub fn new(id: u64, name: &str) -> FakeUser {
        FakeUser {
            id,
            name: name.to_string(),
            permissions: Self::MEMBER,
        }
    }

    /// The same member with Manage Guild.
    pub fn admin(mut self) -> FakeUser {
        self.permissions |= Self::MANAGE_GUILD;
        self
    }
}

/// A message as the fake stores it (what Discord would return for it).
#[derive(Clone, Debug)]
pub struct FakeMessage {
    pub id: u64,
    pub channel_id: u64,
    pub content: String,
    pub embeds: Value,
    pub components: Value,
    pub flags: u64,
    pub ephemeral: bool,
    /// The full Message JSON, as sent in a component interaction's `message`.
    pub json: Value,
}

impl FakeMessage {
    fn from_json(json: &Value) -> FakeMessage {
        let flags = json["flags"].as_u64().unwrap_or(0);
        FakeMessage {
            id: id_of(&json["id"]),
            channel_id: id_of(&json["channel_id"]),
            content: json["content"].as_str().unwrap_or_default().to_string(),
            embeds: json["embeds"].clone(),
            components: json["components"].clone(),
            flags,
            ephemeral: flags & spec::EPHEMERAL != 0,
            json: json.clone(),
        }
    }

    /// Every custom_id on the message, in order (rows, then components).
    pub fn custom_ids(&self) -> Vec<String> {
        fn walk(v: &Value, out: &mut Vec<String>) {
            if let Some(id) = v.get("custom_id").and_then(Value::as_str) {
                out.push(id.to_string());
            }
            if let Some(children) = v.get("components").and_then(Value::as_array) {
                children.iter().for_each(|c| walk(c, out));
            }
        }
        let mut out = Vec::new();
        if let Some(rows) = self.components.as_array() {
            rows.iter().for_each(|r| walk(r, &mut out));
        }
        out
    }
}

/// One REST request the bot made, with what the fake answered.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path without the query, e.g. `/api/v10/interactions/1/tok/callback`.
    pub path: String,
    pub query: Option<String>,
    /// Lower-cased header names; includes `authorization`.
    pub headers: BTreeMap<String, String>,
    /// The JSON body (`Null` when empty; a JSON string holding the raw text when not JSON).
    /// For a multipart body, its `payload_json` part.
    pub body: Value,
    /// The file parts of a multipart body.
    pub uploads: Vec<super::multipart::Upload>,
    /// The status the fake answered.
    pub status: u16,
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// `method` matches (case-insensitive) and the path contains `path_part`.
    pub fn is(&self, method: &str, path_part: &str) -> bool {
        self.method.eq_ignore_ascii_case(method) && self.path.contains(path_part)
    }
}

impl std::fmt::Display for Recorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let body = self.body.to_string();
        let body: String = body.chars().take(300).collect();
        write!(f, "{} {} -> {} {}", self.method, self.path, self.status, body)
    }
}

/// The fake Discord. Cheap to clone (an `Arc`); the server runs until the test's runtime ends.
#[derive(Clone)]
pub struct FakeDiscord {
    inner: Arc<Inner>,
}

struct Inner {
    addr: SocketAddr,
    // A std Mutex, not tokio's: it is never held across an `.await` (the websocket tasks send
    // through channels), and the test-facing getters stay simple.
    state: Mutex<FakeState>,
    /// Woken on every state change (request recorded, READY sent, callback received...).
    changed: Notify,
}

#[derive(Default)]
struct FakeState {
    next_id: u64,
    requests: Vec<Recorded>,
    unexpected: Vec<Recorded>,
    violations: Vec<String>,
    messages: BTreeMap<u64, Value>,
    /// Every version of every message (creation, then each edit), oldest first: what a user may
    /// still have on screen and click (an old snapshot) even after the bot moved on.
    history: HashMap<u64, Vec<Value>>,
    interactions: HashMap<u64, InteractionRec>,
    tokens: HashMap<String, u64>,
    /// Registered commands: `None` = global, `Some(guild)` = guild commands.
    commands: BTreeMap<Option<u64>, Vec<Value>>,
    /// Command ids by (scope, name), stable across overwrites as on Discord.
    command_ids: HashMap<(Option<u64>, String), u64>,
    faults: Vec<Fault>,
    gateway: GatewayState,
    /// Set by [`FakeDiscord::send_over_http`]: interactions go to these HTTP endpoints (bot
    /// instances), in turn.
    http: Vec<super::http_sender::HttpSender>,
    /// How many interactions were POSTed (picks the next instance).
    http_sent: usize,
    /// Interactions POSTed to the bot whose HTTP response is not processed yet.
    awaiting_http: std::collections::HashSet<u64>,
    /// The body of every interaction POSTed to the bot, in order.
    http_payloads: Vec<Vec<u8>>,
    /// Set by [`FakeDiscord::set_validation`]`(false)`: benches measure the bot, not the fake's
    /// schema checks (callback bodies and stored messages are then taken as they come).
    unvalidated: bool,
    /// Attachment bytes by (message id, filename).
    files: HashMap<(u64, String), Vec<u8>>,
}

#[derive(Default)]
struct GatewayState {
    conn: Option<Conn>,
    next_conn: u64,
    /// The current connection finished IDENTIFY/RESUME and may receive dispatches.
    ready: bool,
    session: Option<String>,
    sessions: u64,
    seq: u64,
    identify: usize,
    resume: usize,
    received: Vec<Value>,
}

struct Conn {
    id: u64,
    tx: mpsc::UnboundedSender<GatewayCmd>,
}

enum GatewayCmd {
    Send(String),
    Close(u16),
    Drop,
}

struct Fault {
    path_contains: String,
    status: u16,
    retry_after: Option<f64>,
    remaining: usize,
}

struct InteractionRec {
    token: String,
    /// 2 command, 3 component, 4 autocomplete.
    kind: u64,
    /// Command name or custom_id, for messages.
    label: String,
    user: FakeUser,
    /// The message a component was attached to.
    source_message: Option<u64>,
    sent_at: Instant,
    /// The accepted callback body.
    callback: Option<Value>,
    /// Every callback attempt: (status answered, body).
    attempts: Vec<(u16, Value)>,
    original: Option<u64>,
    latest: Option<u64>,
    /// Messages this interaction's token may edit: the original and its follow-ups.
    own: Vec<u64>,
}

/// An answer to a REST request.
struct Reply {
    status: u16,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
    /// The request was for a route the fake does not know.
    unexpected: bool,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
            unexpected: false,
        }
    }
    fn no_content() -> Reply {
        Reply {
            status: 204,
            body: None,
            headers: Vec::new(),
            unexpected: false,
        }
    }
    /// Discord's error shape: `{"message": ..., "code": ...}`.
    fn error(status: u16, code: u64, message: &str) -> Reply {
        Reply::json(status, json!({ "message": message, "code": code }))
    }
    fn invalid_form_body(problems: &[String]) -> Reply {
        Reply::json(
            400,
            json!({ "message": "Invalid Form Body", "code": 50035, "errors": { "_fake": problems } }),
        )
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = match self.body {
            Some(body) => (status, axum::Json(body)).into_response(),
            None => status.into_response(),
        };
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(HeaderName::from_static(name), v);
            }
        }
        response
    }
}

/// Which REST route a request is for (after `/api/v10`).
enum Route {
    Gateway,
    GatewayBot,
    UserMe,
    ApplicationMe,
    Callback {
        id: u64,
        token: String,
    },
    Followup {
        app: u64,
        token: String,
    },
    WebhookMessage {
        app: u64,
        token: String,
        message: Option<u64>,
    },
    Commands {
        app: u64,
        guild: Option<u64>,
    },
    /// The bot editing a message with its own token (not an interaction's).
    ChannelMessage {
        channel: u64,
        message: u64,
    },
    Unknown,
}

fn parse_route(path: &str) -> Route {
    let Some(rest) = path.strip_prefix("/api/v10/") else {
        return Route::Unknown;
    };
    let seg: Vec<&str> = rest.split('/').collect();
    let num = |s: &str| s.parse::<u64>().ok();
    match seg.as_slice() {
        ["gateway"] => Route::Gateway,
        ["gateway", "bot"] => Route::GatewayBot,
        ["users", "@me"] => Route::UserMe,
        ["oauth2", "applications", "@me"] => Route::ApplicationMe,
        ["interactions", id, token, "callback"] => match num(id) {
            Some(id) => Route::Callback {
                id,
                token: token.to_string(),
            },
            None => Route::Unknown,
        },
        ["webhooks", app, token] => match num(app) {
            Some(app) => Route::Followup {
                app,
                token: token.to_string(),
            },
            None => Route::Unknown,
        },
        ["webhooks", app, token, "messages", msg] => {
            let message = if *msg == "@original" {
                None
            } else {
                match num(msg) {
                    Some(m) => Some(m),
                    None => return Route::Unknown,
                }
            };
            match num(app) {
                Some(app) => Route::WebhookMessage {
                    app,
                    token: token.to_string(),
                    message,
                },
                None => Route::Unknown,
            }
        }
        ["channels", channel, "messages", message] => match (num(channel), num(message)) {
            (Some(channel), Some(message)) => Route::ChannelMessage { channel, message },
            _ => Route::Unknown,
        },
        ["applications", app, "commands"] => match num(app) {
            Some(app) => Route::Commands { app, guild: None },
            None => Route::Unknown,
        },
        ["applications", app, "guilds", guild, "commands"] => match (num(app), num(guild)) {
            (Some(app), Some(guild)) => Route::Commands {
                app,
                guild: Some(guild),
            },
            _ => Route::Unknown,
        },
        _ => Route::Unknown,
    }
}

impl FakeDiscord {
    /// The application id (READY's `application.id`; serenity uses it for commands and webhooks).
    pub const APP_ID: u64 = 1_100_000_000_000_000_001;
    /// The one guild the bot is in.
    pub const GUILD_ID: u64 = 1_100_000_000_000_000_002;
    /// The channel every interaction happens in.
    pub const CHANNEL_ID: u64 = 1_100_000_000_000_000_003;
    /// The bot's user id. Deliberately different from [`Self::APP_ID`], so mixing them up fails.
    pub const BOT_USER_ID: u64 = 1_100_000_000_000_000_004;
    /// A token for tests to hand to serenity; the fake accepts any `Bot ...` token.
    pub const TOKEN: &'static str = "test-token";

    /// Binds 127.0.0.1:0 and serves REST and the gateway until the runtime ends. Also compiles
    /// the spec validators (once per test binary) so the first callback is not delayed by it.
    pub async fn start() -> FakeDiscord {
        tokio::task::spawn_blocking(spec::compile_time)
            .await
            .expect("compiling the spec validators panicked");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let inner = Arc::new(Inner {
            addr,
            state: Mutex::new(FakeState {
                next_id: 1_300_000_000_000_000_000,
                ..FakeState::default()
            }),
            changed: Notify::new(),
        });
        let app = Router::new()
            .route("/gateway", get(gateway_upgrade))
            .fallback(rest)
            .with_state(inner.clone());
        // TCP_NODELAY: without it Nagle + delayed ACKs add ~40 ms to every small response.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeDiscord { inner }
    }

    /// `http://127.0.0.1:PORT`, for serenity's `HttpBuilder::proxy`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// `ws://127.0.0.1:PORT/gateway` (what `GET /gateway` returns).
    pub fn gateway_url(&self) -> String {
        self.inner.gateway_url()
    }

    /// A serenity `Http` pointed at the fake, with the application id set. The rate limiter must be disabled: serenity's
    /// limiter ignores the proxy and would send requests to discord.com (serenity #1739).
    pub fn http(&self) -> serenity::http::Http {
        serenity::http::HttpBuilder::new(Self::TOKEN)
            .proxy(self.base_url())
            .ratelimiter_disabled(true)
            .application_id(Self::APP_ID.into())
            .build()
    }

    fn state(&self) -> MutexGuard<'_, FakeState> {
        self.inner.lock()
    }

    /// Waits until `check` returns `Some`, re-checking on every state change, up to `timeout`.
    async fn wait_for<T>(&self, timeout: Duration, mut check: impl FnMut(&FakeState) -> Option<T>) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Register interest before checking, so a change between the check and the wait
            // is not missed.
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(v) = check(&self.state()) {
                return Some(v);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return check(&self.state());
            }
        }
    }

    // ----------------------------------------------------------------------------- gateway

    /// Waits until a client IDENTIFYed (or RESUMEd) on the current connection and got READY
    /// (or RESUMED).
    pub async fn wait_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        match self.wait_for(timeout, |s| s.gateway.ready.then_some(())).await {
            Some(()) => Ok(()),
            None => {
                let st = self.state();
                anyhow::bail!(
                    "no gateway session ready within {timeout:?} (identify {}, resume {}, connected {}, REST requests {})",
                    st.gateway.identify,
                    st.gateway.resume,
                    st.gateway.conn.is_some(),
                    st.requests.len()
                )
            }
        }
    }

    pub async fn identify_count(&self) -> usize {
        self.state().gateway.identify
    }

    pub async fn resume_count(&self) -> usize {
        self.state().gateway.resume
    }

    /// Every frame the client sent on the gateway (IDENTIFY, RESUME, heartbeats...), in order.
    pub async fn gateway_frames(&self) -> Vec<Value> {
        self.state().gateway.received.clone()
    }

    /// Closes the websocket with `code`. For codes after which Discord does not allow a resume
    /// (4007, 4009 and the fatal ones) the session is forgotten, so a RESUME gets op 9.
    pub async fn close_gateway(&self, code: u16) {
        let mut st = self.state();
        st.gateway.ready = false;
        if matches!(code, 4004 | 4007 | 4009 | 4010..=4014) {
            st.gateway.session = None;
        }
        if let Some(conn) = st.gateway.conn.take() {
            let _ = conn.tx.send(GatewayCmd::Close(code));
        }
    }

    /// Drops the TCP connection without a close frame.
    pub async fn drop_gateway(&self) {
        let mut st = self.state();
        st.gateway.ready = false;
        if let Some(conn) = st.gateway.conn.take() {
            let _ = conn.tx.send(GatewayCmd::Drop);
        }
    }

    /// Sends op 7 RECONNECT (the client should reconnect and resume).
    pub async fn send_reconnect(&self) {
        self.send_op(json!({ "op": 7, "d": null }), false);
    }

    /// Sends op 9 INVALID SESSION; `resumable: false` also forgets the session.
    pub async fn send_invalid_session(&self, resumable: bool) {
        self.send_op(json!({ "op": 9, "d": resumable }), !resumable);
    }

    fn send_op(&self, frame: Value, forget_session: bool) {
        let mut st = self.state();
        st.gateway.ready = false;
        if forget_session {
            st.gateway.session = None;
        }
        if let Some(conn) = &st.gateway.conn {
            let _ = conn.tx.send(GatewayCmd::Send(frame.to_string()));
        }
    }

    /// Sends a dispatch (op 0) with the next sequence number. Waits for a live session first:
    /// the fake replays nothing on RESUME, so an event sent while the client reconnects would
    /// be lost and the test would wait for an answer that cannot come.
    async fn dispatch(&self, event: &str, d: Value) {
        loop {
            if let Err(e) = self.wait_ready(SEND_WAIT).await {
                panic!("cannot dispatch {event}: {e}");
            }
            let mut st = self.state();
            let g = &mut st.gateway;
            if let (true, Some(conn)) = (g.ready, &g.conn) {
                let frame = json!({ "op": 0, "s": g.seq + 1, "t": event, "d": d });
                if conn.tx.send(GatewayCmd::Send(frame.to_string())).is_ok() {
                    g.seq += 1;
                    return;
                }
            }
            // The connection went away between the wait and the send: wait again.
            g.ready = false;
        }
    }

    // ------------------------------------------------------------------------ interactions

    /// Sends a slash command (interaction type 2) by `user`, built from the registered
    /// definitions (see [`build::command_data`]): `options` in Discord's wire shape (`Null`
    /// means none). Panics, naming the command and option, if Discord could never send it.
    /// Returns the interaction id.
    pub async fn send_command(&self, user: &FakeUser, name: &str, options: Value) -> u64 {
        self.try_send_command(user, name, options)
            .await
            .unwrap_or_else(|e| panic!("Discord would never send this command: {e}"))
    }

    /// [`Self::send_command`], returning the refusal instead of panicking (for the self-test).
    pub async fn try_send_command(&self, user: &FakeUser, name: &str, options: Value) -> Result<u64, String> {
        self.send_application_command(build::APPLICATION_COMMAND, user, name, options)
            .await
    }

    /// Sends an autocomplete request (interaction type 4) while `user` types in the option
    /// marked `"focused": true`, which must be registered with autocomplete. Panics otherwise.
    pub async fn send_autocomplete(&self, user: &FakeUser, name: &str, options: Value) -> u64 {
        self.try_send_autocomplete(user, name, options)
            .await
            .unwrap_or_else(|e| panic!("Discord would never send this autocomplete: {e}"))
    }

    /// [`Self::send_autocomplete`], returning the refusal instead of panicking.
    pub async fn try_send_autocomplete(&self, user: &FakeUser, name: &str, options: Value) -> Result<u64, String> {
        self.send_application_command(build::AUTOCOMPLETE, user, name, options)
            .await
    }

    /// Every registered command a member of [`Self::GUILD_ID`] can use: the guild's, then the
    /// global ones.
    pub async fn registered_for_guild(&self) -> Vec<Value> {
        self.state().registered_for_guild()
    }

    async fn send_application_command(
        &self,
        kind: u64,
        user: &FakeUser,
        name: &str,
        options: Value,
    ) -> Result<u64, String> {
        // A user can only type a command once the bot registered it: a test that starts a
        // bot and types at once waits for the registration, as the user would.
        self.wait_for(SEND_WAIT, |s| (!s.registered_for_guild().is_empty()).then_some(()))
            .await;
        let (id, payload) = {
            let mut st = self.state();
            let registered = st.registered_for_guild();
            let data = if kind == build::AUTOCOMPLETE {
                build::autocomplete_data(&registered, user, name, &options)?
            } else {
                build::command_data(&registered, user, name, &options)?
            };
            let (id, token) = st.new_interaction(kind, user, name, None);
            (id, interaction_json(id, &token, kind, user, data, None))
        };
        self.send_interaction(id, payload).await;
        Ok(id)
    }

    /// Sends `user`'s click on `custom_id` of stored message `message_id` as it is now
    /// (interaction type 3): a button when `values` is `None`, a string select with those values
    /// otherwise. Checked as Discord does (see [`build::component_data`]): the custom_id is on
    /// the message, the button enabled, the values offered, the message visible to `user`.
    /// Panics otherwise. The payload carries the message as the bot last left it.
    pub async fn send_component(
        &self,
        user: &FakeUser,
        message_id: u64,
        custom_id: &str,
        values: Option<Vec<String>>,
    ) -> u64 {
        self.try_send_component(user, message_id, custom_id, values)
            .await
            .unwrap_or_else(|e| panic!("Discord would never send this click: {e}"))
    }

    /// [`Self::send_component`], returning the refusal instead of panicking.
    pub async fn try_send_component(
        &self,
        user: &FakeUser,
        message_id: u64,
        custom_id: &str,
        values: Option<Vec<String>>,
    ) -> Result<u64, String> {
        let current =
            self.state().messages.get(&message_id).cloned().ok_or_else(|| {
                format!("message {message_id}: the fake has no such message (deleted, or never sent)")
            })?;
        self.send_component_on(user, &current, custom_id, values).await
    }

    /// A click on `snapshot`, a version of a message the user may still have on screen (taken
    /// earlier with [`Self::message`]): a double click, or a click on a rendering the bot has
    /// since replaced. The snapshot must be one the fake really held for that message; the
    /// payload carries the message as the bot last left it, as Discord's would.
    pub async fn send_component_on_snapshot(
        &self,
        user: &FakeUser,
        snapshot: &FakeMessage,
        custom_id: &str,
        values: Option<Vec<String>>,
    ) -> u64 {
        self.send_component_on(user, &snapshot.json, custom_id, values)
            .await
            .unwrap_or_else(|e| panic!("Discord would never send this click: {e}"))
    }

    async fn send_component_on(
        &self,
        user: &FakeUser,
        seen: &Value,
        custom_id: &str,
        values: Option<Vec<String>>,
    ) -> Result<u64, String> {
        let message_id = id_of(&seen["id"]);
        let (id, payload) = {
            let mut st = self.state();
            let known = st
                .history
                .get(&message_id)
                .is_some_and(|versions| versions.contains(seen));
            if !known {
                return Err(format!(
                    "message {message_id}: the bot never sent or edited it into this state"
                ));
            }
            let Some(current) = st.messages.get(&message_id).cloned() else {
                return Err(format!("message {message_id}: deleted, nothing left to click"));
            };
            let data = build::component_data(seen, user, custom_id, values.as_deref())?;
            let (id, token) = st.new_interaction(build::MESSAGE_COMPONENT, user, custom_id, Some(message_id));
            (
                id,
                interaction_json(id, &token, build::MESSAGE_COMPONENT, user, data, Some(current)),
            )
        };
        self.send_interaction(id, payload).await;
        Ok(id)
    }

    async fn send_interaction(&self, id: u64, payload: Value) {
        // serenity drops INTERACTION_CREATE events it cannot parse without a trace; parse it
        // here with serenity's own model so such a payload fails loudly instead.
        let validate = !self.state().unvalidated;
        if let Err(e) = if validate {
            serde_json::from_value::<serenity::model::application::Interaction>(payload.clone()).map(drop)
        } else {
            Ok(())
        } {
            panic!("INTERACTION_CREATE {id} would be dropped by serenity: {e}\n{payload:#}");
        }
        let http = {
            let mut st = self.state();
            let n = st.http_sent;
            st.http_sent += 1;
            (!st.http.is_empty()).then(|| st.http[n % st.http.len()].clone())
        };
        if let Some(sender) = http {
            self.post_interaction(&sender, id, &payload).await;
            return;
        }
        self.dispatch("INTERACTION_CREATE", payload).await;
        // Discord's 3-second window starts when the event is sent, not when it was built
        // (`dispatch` may have waited for the client to reconnect).
        if let Some(rec) = self.state().interactions.get_mut(&id) {
            rec.sent_at = Instant::now();
        }
    }

    // -------------------------------------------------------------- HTTP interactions

    /// From now on, interactions are POSTed (signed with the test key) to the bot's HTTP
    /// endpoint instead of being dispatched on the gateway; the HTTP response is the callback.
    pub fn send_over_http(&self, sender: super::http_sender::HttpSender) {
        self.state().http = vec![sender];
    }

    /// Like [`Self::send_over_http`] for several bot instances: each interaction goes to the
    /// next one in turn (as a load balancer would spread them).
    pub fn send_over_http_to_each(&self, senders: Vec<super::http_sender::HttpSender>) {
        self.state().http = senders;
    }

    /// `false`: stop validating what the bot sends against Discord's spec (benches turn it off
    /// inside their timed loop only, so they measure the bot rather than the validator).
    pub fn set_validation(&self, on: bool) {
        self.state().unvalidated = !on;
    }

    /// Every interaction body POSTed to the bot so far, in order.
    pub async fn http_payloads(&self) -> Vec<Vec<u8>> {
        self.state().http_payloads.clone()
    }

    /// POSTs one interaction and processes the HTTP response as Discord processes a callback:
    /// the same checks, the same effect on messages, recorded as a callback request.
    async fn post_interaction(&self, sender: &super::http_sender::HttpSender, id: u64, payload: &Value) {
        let body = serde_json::to_vec(payload).expect("a JSON payload");
        let token = {
            let mut st = self.state();
            st.awaiting_http.insert(id);
            st.http_payloads.push(body.clone());
            let rec = st.interactions.get_mut(&id).expect("a new interaction");
            // Discord's 3-second window starts now.
            rec.sent_at = Instant::now();
            rec.token.clone()
        };
        let answer = sender.post_signed(&body).await;
        {
            let mut st = self.state();
            st.awaiting_http.remove(&id);
            let json_body: Value = serde_json::from_slice(&answer.body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&answer.body).into_owned()));
            let is_json = answer
                .content_type
                .as_deref()
                .is_some_and(|c| c.starts_with("application/json"));
            if answer.status == 200 && is_json {
                let mut rec = Recorded {
                    method: "POST".into(),
                    path: format!("/api/v10/interactions/{id}/{token}/callback"),
                    query: None,
                    headers: BTreeMap::from([("content-type".to_string(), "application/json".to_string())]),
                    body: json_body,
                    uploads: Vec::new(),
                    status: 0,
                    at: Instant::now(),
                };
                let reply = st.callback(id, &token, &rec);
                rec.status = reply.status;
                st.requests.push(rec);
            } else {
                st.violation(format!(
                    "HTTP interaction {id}: the bot answered {} ({:?}) {}",
                    answer.status,
                    answer.content_type,
                    shorten(&json_body.to_string())
                ));
                if let Some(i) = st.interactions.get_mut(&id) {
                    i.attempts.push((answer.status, json_body));
                }
            }
        }
        self.inner.changed.notify_waiters();
    }

    /// The JSON body of the callback the bot POSTed (and the fake accepted) for the interaction.
    /// Errs when none arrived in time, with what did arrive.
    pub async fn wait_callback(&self, interaction_id: u64, timeout: Duration) -> anyhow::Result<Value> {
        let found = self
            .wait_for(timeout, |s| {
                s.interactions.get(&interaction_id).and_then(|i| i.callback.clone())
            })
            .await;
        if let Some(body) = found {
            return Ok(body);
        }
        let st = self.state();
        let Some(rec) = st.interactions.get(&interaction_id) else {
            anyhow::bail!("interaction {interaction_id} was never sent by this fake");
        };
        let attempts: Vec<String> = rec
            .attempts
            .iter()
            .map(|(status, body)| format!("  answered {status} to {body}"))
            .collect();
        let violations: Vec<&String> = st
            .violations
            .iter()
            .filter(|v| v.contains(&interaction_id.to_string()))
            .collect();
        anyhow::bail!(
            "no accepted callback for interaction {interaction_id} ({}) within {timeout:?}. \
             Attempts:\n{}\nViolations: {violations:#?}\n(serenity silently drops events it cannot \
             parse; a handler error or panic also looks like this)",
            rec.label,
            if attempts.is_empty() {
                "  none".to_string()
            } else {
                attempts.join("\n")
            },
        )
    }

    // ---------------------------------------------------------------------------- records

    /// Waits for the first recorded REST request (past or future) matching `pred`.
    pub async fn wait_requests(&self, pred: impl Fn(&Recorded) -> bool, timeout: Duration) -> anyhow::Result<Recorded> {
        match self
            .wait_for(timeout, |s| s.requests.iter().find(|r| pred(r)).cloned())
            .await
        {
            Some(r) => Ok(r),
            None => {
                let seen: Vec<String> = self.state().requests.iter().map(|r| r.to_string()).collect();
                anyhow::bail!("no matching request within {timeout:?}; seen:\n{}", seen.join("\n"))
            }
        }
    }

    /// Every REST request so far, in order.
    pub async fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    /// The current state of a stored message.
    pub async fn message(&self, message_id: u64) -> Option<FakeMessage> {
        self.state().messages.get(&message_id).map(FakeMessage::from_json)
    }

    /// All stored messages, oldest first.
    /// The bytes of the attachment `filename` on message `message_id`.
    pub async fn attachment(&self, message_id: u64, filename: &str) -> Option<Vec<u8>> {
        self.state().files.get(&(message_id, filename.to_string())).cloned()
    }

    pub async fn messages(&self) -> Vec<FakeMessage> {
        self.state().messages.values().map(FakeMessage::from_json).collect()
    }

    /// The message most recently created or changed by the interaction: the callback's message
    /// (type 4 creates one, type 7 updates the clicked one, type 5 creates a placeholder, type 6
    /// designates the clicked one), then any `@original` edit or follow-up.
    pub async fn latest_message_for(&self, interaction_id: u64) -> Option<FakeMessage> {
        let st = self.state();
        let id = st.interactions.get(&interaction_id)?.latest?;
        st.messages.get(&id).map(FakeMessage::from_json)
    }

    /// The interaction's original response message (what `@original` refers to).
    pub async fn original_message_for(&self, interaction_id: u64) -> Option<FakeMessage> {
        let st = self.state();
        let id = st.interactions.get(&interaction_id)?.original?;
        st.messages.get(&id).map(FakeMessage::from_json)
    }

    /// Bulk command overwrites: `PUT /applications/{app}/commands` and the guild variant.
    pub async fn command_overwrites(&self) -> Vec<Recorded> {
        self.state()
            .requests
            .iter()
            .filter(|r| r.method == "PUT" && r.path.ends_with("/commands"))
            .cloned()
            .collect()
    }

    /// The commands currently registered (`None` = global, `Some(guild)` = that guild), as the
    /// fake echoed them back (with ids).
    pub async fn registered_commands(&self, guild: Option<u64>) -> Vec<Value> {
        self.state().commands.get(&guild).cloned().unwrap_or_default()
    }

    /// Registers `definitions` in `scope` (`None` = global) as an earlier deploy of the bot
    /// (or another tool with its token) would have: validated like the bot's own overwrite,
    /// then offered to users alongside the bot's. For tests of commands this build no longer knows.
    pub async fn register_commands(&self, scope: Option<u64>, definitions: Value) {
        let problems = spec::validate_command_overwrite(&definitions);
        assert!(
            problems.is_empty(),
            "Discord would refuse these definitions: {problems:#?}"
        );
        let mut st = self.state();
        let stored: Vec<Value> = definitions
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                let id = st.next_id();
                let version = st.next_id();
                command_json(c, id, version, scope)
            })
            .collect();
        st.commands.entry(scope).or_default().extend(stored);
    }

    // ------------------------------------------------------------------------------ faults

    /// The next `times` REST requests whose path contains `path_contains` are answered with
    /// `status`. A 429 with `retry_after` gets Discord's rate-limit body and headers.
    /// The gateway-URL routes are never failed: serenity would fall back to Discord's real
    /// gateway address, and tests must not leave loopback.
    pub async fn fail_next(&self, path_contains: &str, status: u16, retry_after: Option<f64>, times: usize) {
        assert!(
            !"/api/v10/gateway/bot".contains(path_contains),
            "fail_next({path_contains:?}) would match GET /gateway; serenity then connects to \
             discord.com. Use a more specific path."
        );
        self.state().faults.push(Fault {
            path_contains: path_contains.to_string(),
            status,
            retry_after,
            remaining: times,
        });
    }

    /// Requests to routes the fake does not know (answered 404).
    pub async fn unexpected(&self) -> Vec<Recorded> {
        self.state().unexpected.clone()
    }

    /// Every recorded problem: payload validation failures and protocol misuse.
    pub async fn violations(&self) -> Vec<String> {
        self.state().violations.clone()
    }

    /// Panics listing unexpected requests and violations, if there are any.
    pub async fn assert_clean(&self) {
        let st = self.state();
        if st.unexpected.is_empty() && st.violations.is_empty() {
            return;
        }
        let mut report = String::from("the fake Discord saw problems:\n");
        for r in &st.unexpected {
            report.push_str(&format!("  unexpected request: {r}\n"));
        }
        for v in &st.violations {
            report.push_str(&format!("  violation: {v}\n"));
        }
        drop(st);
        panic!("{report}");
    }
}

// ------------------------------------------------------------------------------------ state

impl Inner {
    fn lock(&self) -> MutexGuard<'_, FakeState> {
        // A panicking test thread must not hide the record from the others.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn gateway_url(&self) -> String {
        format!("ws://{}/gateway", self.addr)
    }

    /// Waits (up to Discord's response window) while the interaction of webhook `token` is
    /// still awaiting its HTTP response: Discord takes that response as the callback, and the
    /// token's webhook routes work only after it.
    async fn wait_http_answered(&self, token: &str) {
        let deadline = tokio::time::Instant::now() + RESPONSE_WINDOW;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let st = self.lock();
                let awaiting = st.tokens.get(token).is_some_and(|id| st.awaiting_http.contains(id));
                if !awaiting {
                    return;
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }
}

impl FakeState {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Guild commands, then global ones: what a guild member's client offers.
    fn registered_for_guild(&self) -> Vec<Value> {
        [Some(FakeDiscord::GUILD_ID), None]
            .iter()
            .filter_map(|scope| self.commands.get(scope))
            .flatten()
            .cloned()
            .collect()
    }

    fn new_interaction(
        &mut self,
        kind: u64,
        user: &FakeUser,
        label: &str,
        source_message: Option<u64>,
    ) -> (u64, String) {
        let id = self.next_id();
        let token = format!("fake-token-{id}");
        self.tokens.insert(token.clone(), id);
        self.interactions.insert(
            id,
            InteractionRec {
                token: token.clone(),
                kind,
                label: label.to_string(),
                user: user.clone(),
                source_message,
                sent_at: Instant::now(),
                callback: None,
                attempts: Vec::new(),
                original: None,
                latest: None,
                own: Vec::new(),
            },
        );
        (id, token)
    }

    fn violation(&mut self, what: String) {
        self.violations.push(what);
    }

    fn handle(&mut self, inner: &Inner, method: &Method, route: Route, rec: &Recorded) -> Reply {
        let what = format!("{} {}", rec.method, rec.path);
        // Bot routes need the bot token; interaction callbacks and webhooks use their own token.
        let needs_auth = !matches!(
            route,
            Route::Callback { .. } | Route::Followup { .. } | Route::WebhookMessage { .. } | Route::Unknown
        );
        if needs_auth && !rec.header("authorization").is_some_and(|a| a.starts_with("Bot ")) {
            self.violation(format!("{what}: no `Authorization: Bot ...` header"));
            return Reply::error(401, 0, "401: Unauthorized");
        }
        match (method.as_str(), route) {
            ("GET", Route::Gateway) => Reply::json(200, json!({ "url": inner.gateway_url() })),
            ("GET", Route::GatewayBot) => Reply::json(
                200,
                json!({
                    "url": inner.gateway_url(),
                    "shards": 1,
                    "session_start_limit": {
                        "total": 1000, "remaining": 999, "reset_after": 86_400_000, "max_concurrency": 1
                    }
                }),
            ),
            ("GET", Route::UserMe) => Reply::json(200, bot_user_json()),
            ("GET", Route::ApplicationMe) => Reply::json(200, application_json()),
            ("POST", Route::Callback { id, token }) => self.callback(id, &token, rec),
            ("POST", Route::Followup { app, token }) => self.followup(app, &token, rec),
            (m @ ("GET" | "PATCH" | "DELETE"), Route::WebhookMessage { app, token, message }) => {
                self.webhook_message(m, app, &token, message, rec)
            }
            (m @ ("GET" | "PUT"), Route::Commands { app, guild }) => self.commands(m, app, guild, rec),
            ("PATCH", Route::ChannelMessage { channel, message }) => self.channel_message_edit(channel, message, rec),
            _ => Reply {
                unexpected: true,
                ..Reply::error(404, 0, "404: Not Found")
            },
        }
    }

    fn callback(&mut self, id: u64, token: &str, rec: &Recorded) -> Reply {
        let body = &rec.body;
        let what = format!("callback for interaction {id}");
        let Some(i) = self.interactions.get(&id) else {
            self.violation(format!("{what}: no such interaction"));
            return Reply::error(404, 10062, "Unknown interaction");
        };
        let label = i.label.clone();
        let source = i.source_message;
        let what = format!("callback type {} for interaction {id} ({label})", body["type"]);
        let reply = if i.token != token {
            self.violation(format!("{what}: wrong interaction token in the URL"));
            Reply::error(401, 50027, "Invalid Webhook Token")
        } else if i.callback.is_some() {
            self.violation(format!("{what}: the interaction was already acknowledged"));
            Reply::error(400, 40060, "Interaction has already been acknowledged.")
        } else if i.sent_at.elapsed() > RESPONSE_WINDOW {
            self.violation(format!(
                "{what}: answered after {:?}; Discord's window is {RESPONSE_WINDOW:?}",
                i.sent_at.elapsed()
            ));
            Reply::error(404, 10062, "Unknown interaction")
        } else if self.unvalidated {
            self.apply_callback(id, &what, body)
        } else {
            let rejected = spec::callback_discord_errors(body);
            for p in spec::callback_policy_errors(body) {
                self.violation(format!("{what}: {p}"));
            }
            let ty = body["type"].as_u64().unwrap_or(0);
            // An UPDATE_MESSAGE keeps the clicked message's files unless the body says otherwise.
            let target = if ty == 7 { source } else { None };
            let file_problems = self.file_problems(&body["data"], &rec.uploads, target);
            if !rejected.is_empty() || !file_problems.is_empty() {
                for p in rejected.iter().chain(&file_problems) {
                    self.violation(format!("{what}: {p}"));
                }
                Reply::invalid_form_body(&[rejected, file_problems].concat())
            } else {
                let reply = self.apply_callback(id, &what, body);
                if reply.status == 204 && matches!(ty, 4 | 7) {
                    if let Some(msg) = self.interactions[&id].original {
                        self.attach(msg, &body["data"], &rec.uploads);
                    }
                }
                reply
            }
        };
        let i = self.interactions.get_mut(&id).expect("checked above");
        i.attempts.push((reply.status, body.clone()));
        if reply.status == 204 {
            i.callback = Some(body.clone());
        }
        reply
    }

    /// The effect of an accepted callback on the stored messages.
    fn apply_callback(&mut self, id: u64, what: &str, body: &Value) -> Reply {
        let i = &self.interactions[&id];
        let (kind, source) = (i.kind, i.source_message);
        let data = &body["data"];
        let ty = body["type"].as_u64().unwrap_or(0);
        let wrong = |expected: &str| format!("{what}: type {ty} is only valid for {expected} interactions");
        match ty {
            4 => {
                let msg = self.create_message(id, data, false);
                self.set_original(id, msg);
            }
            5 => {
                let msg = self.create_message(id, data, true);
                self.set_original(id, msg);
            }
            6 | 7 => {
                let Some(src) = source else {
                    self.violation(wrong("component"));
                    return Reply::error(400, 50035, "Invalid Form Body");
                };
                if ty == 7 {
                    self.edit_message(src, data);
                }
                self.set_original(id, src);
            }
            8 if kind != 4 => {
                self.violation(wrong("autocomplete"));
                return Reply::error(400, 50035, "Invalid Form Body");
            }
            9 if kind == 4 => {
                self.violation(format!("{what}: an autocomplete request cannot open a modal"));
                return Reply::error(400, 50035, "Invalid Form Body");
            }
            1 => {
                self.violation(format!(
                    "{what}: PONG answers HTTP pings only, not gateway interactions"
                ));
                return Reply::error(400, 50035, "Invalid Form Body");
            }
            _ => {}
        }
        Reply::no_content()
    }

    fn set_original(&mut self, interaction: u64, msg: u64) {
        let i = self.interactions.get_mut(&interaction).expect("known interaction");
        i.original = Some(msg);
        i.latest = Some(msg);
        if !i.own.contains(&msg) {
            i.own.push(msg);
        }
    }

    /// Finds the interaction a webhook token belongs to; records why not otherwise.
    fn webhook_interaction(&mut self, app: u64, token: &str, what: &str) -> Result<u64, Reply> {
        if app != FakeDiscord::APP_ID {
            self.violation(format!(
                "{what}: webhook for application {app}, expected {}",
                FakeDiscord::APP_ID
            ));
            return Err(Reply::error(404, 10015, "Unknown Webhook"));
        }
        let Some(&id) = self.tokens.get(token) else {
            self.violation(format!("{what}: unknown interaction token"));
            return Err(Reply::error(401, 50027, "Invalid Webhook Token"));
        };
        if self.interactions[&id].callback.is_none() {
            self.violation(format!(
                "{what}: interaction {id} was not acknowledged yet (respond or defer first)"
            ));
            return Err(Reply::error(404, 10015, "Unknown Webhook"));
        }
        Ok(id)
    }

    fn followup(&mut self, app: u64, token: &str, rec: &Recorded) -> Reply {
        let what = format!("follow-up {} {}", rec.method, rec.path);
        let id = match self.webhook_interaction(app, token, &what) {
            Ok(id) => id,
            Err(r) => return r,
        };
        let what = format!("follow-up for interaction {id} ({})", self.interactions[&id].label);
        if let Some(r) = self.reject_webhook_body(&what, &rec.body, spec::followup_discord_errors) {
            return r;
        }
        if let Some(r) = self.reject_files(&what, &rec.body, &rec.uploads, None) {
            return r;
        }
        // Discord: a follow-up right after a deferred response edits the "thinking" placeholder
        // instead of creating a message (and keeps the defer's ephemeral flag).
        let original = self.interactions[&id].original;
        let msg = match original {
            Some(o) if self.is_loading(o) => {
                self.edit_message(o, &rec.body);
                o
            }
            _ => self.create_message(id, &rec.body, false),
        };
        self.attach(msg, &rec.body, &rec.uploads);
        let i = self.interactions.get_mut(&id).expect("known interaction");
        i.latest = Some(msg);
        if !i.own.contains(&msg) {
            i.own.push(msg);
        }
        Reply::json(200, self.messages[&msg].clone())
    }

    fn webhook_message(&mut self, method: &str, app: u64, token: &str, message: Option<u64>, rec: &Recorded) -> Reply {
        let what = format!("{} {}", rec.method, rec.path);
        let id = match self.webhook_interaction(app, token, &what) {
            Ok(id) => id,
            Err(r) => return r,
        };
        let i = &self.interactions[&id];
        let target = match message {
            None => i.original,
            Some(m) if i.own.contains(&m) => Some(m),
            Some(_) => None,
        };
        let what = format!("{what} (interaction {id}, {})", i.label);
        let Some(msg) = target.filter(|m| self.messages.contains_key(m)) else {
            self.violation(format!("{what}: no such message for this interaction"));
            return Reply::error(404, 10008, "Unknown Message");
        };
        match method {
            "GET" => Reply::json(200, self.messages[&msg].clone()),
            "DELETE" => {
                self.messages.remove(&msg);
                Reply::no_content()
            }
            _ => {
                if let Some(r) = self.reject_webhook_body(&what, &rec.body, spec::message_edit_discord_errors) {
                    return r;
                }
                if let Some(r) = self.reject_files(&what, &rec.body, &rec.uploads, Some(msg)) {
                    return r;
                }
                self.edit_message(msg, &rec.body);
                self.attach(msg, &rec.body, &rec.uploads);
                self.interactions.get_mut(&id).expect("known").latest = Some(msg);
                Reply::json(200, self.messages[&msg].clone())
            }
        }
    }

    /// `PATCH /channels/{c}/messages/{m}`: the bot edits a message it posted.
    fn channel_message_edit(&mut self, channel: u64, message: u64, rec: &Recorded) -> Reply {
        let what = format!("{} {}", rec.method, rec.path);
        let known = self
            .messages
            .get(&message)
            .is_some_and(|m| id_of(&m["channel_id"]) == channel);
        if !known {
            self.violation(format!("{what}: no such message in that channel"));
            return Reply::error(404, 10008, "Unknown Message");
        }
        if self.messages[&message]["flags"].as_u64().unwrap_or(0) & spec::EPHEMERAL != 0 {
            self.violation(format!(
                "{what}: ephemeral messages cannot be edited with the bot token"
            ));
            return Reply::error(404, 10008, "Unknown Message");
        }
        if let Some(r) = self.reject_webhook_body(&what, &rec.body, spec::channel_message_edit_discord_errors) {
            return r;
        }
        if let Some(r) = self.reject_files(&what, &rec.body, &rec.uploads, Some(message)) {
            return r;
        }
        self.edit_message(message, &rec.body);
        self.attach(message, &rec.body, &rec.uploads);
        Reply::json(200, self.messages[&message].clone())
    }

    /// Filenames of the attachments a stored message has.
    fn attachment_names(&self, msg: Option<u64>) -> Vec<String> {
        msg.and_then(|m| self.messages.get(&m))
            .and_then(|m| m["attachments"].as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|a| a["filename"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// See [`super::multipart::problems`]; `target`: the message being edited.
    fn file_problems(&self, body: &Value, uploads: &[super::multipart::Upload], target: Option<u64>) -> Vec<String> {
        super::multipart::problems(body, uploads, &self.attachment_names(target))
    }

    fn reject_files(
        &mut self,
        what: &str,
        body: &Value,
        uploads: &[super::multipart::Upload],
        target: Option<u64>,
    ) -> Option<Reply> {
        let problems = self.file_problems(body, uploads, target);
        if problems.is_empty() {
            return None;
        }
        for p in &problems {
            self.violation(format!("{what}: {p}"));
        }
        Some(Reply::invalid_form_body(&problems))
    }

    /// Stores the files of an accepted message body on the message, as Discord
    /// does: `attachments` objects with CDN URLs, and each embed's
    /// `attachment://name` rewritten to its file's URL. A body listing
    /// `attachments` replaces the list (existing ones kept by id).
    fn attach(&mut self, msg_id: u64, body: &Value, uploads: &[super::multipart::Upload]) {
        if body.get("attachments").is_none() && uploads.is_empty() {
            return;
        }
        let Some(existing) = self.messages.get(&msg_id).map(|m| m["attachments"].clone()) else {
            return;
        };
        let listed: Vec<Value> = body["attachments"].as_array().cloned().unwrap_or_default();
        let mut kept: Vec<Value> = existing
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|old| body.get("attachments").is_none() || listed.iter().any(|l| l["id"] == old["id"]))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for up in uploads {
            let index = up.field.trim_start_matches("files[").trim_end_matches(']').to_string();
            let filename = listed
                .iter()
                .find(|a| a["id"].to_string().trim_matches('"') == index)
                .and_then(|a| a["filename"].as_str().map(str::to_string))
                .or_else(|| up.filename.clone())
                .unwrap_or_else(|| "file".into());
            let id = self.next_id();
            let url = format!(
                "https://cdn.discordapp.com/attachments/{}/{id}/{filename}",
                FakeDiscord::CHANNEL_ID
            );
            let mut a = json!({
                "id": id.to_string(),
                "filename": filename,
                "size": up.data.len(),
                "url": url,
                "proxy_url": url.replace("cdn.discordapp.com", "media.discordapp.net"),
                "content_type": up.content_type.clone().unwrap_or_else(|| "application/octet-stream".into()),
            });
            if let Ok(reader) = png::Decoder::new(std::io::Cursor::new(&up.data)).read_info() {
                a["width"] = json!(reader.info().width);
                a["height"] = json!(reader.info().height);
            }
            self.files.insert((msg_id, filename.clone()), up.data.clone());
            kept.push(a);
        }
        let msg = self.messages.get_mut(&msg_id).expect("checked above");
        if let Some(embeds) = msg["embeds"].as_array_mut() {
            for e in embeds {
                let Some(name) = e["image"]["url"].as_str().and_then(|u| u.strip_prefix("attachment://")) else {
                    continue;
                };
                if let Some(a) = kept.iter().find(|a| a["filename"].as_str() == Some(name)) {
                    e["image"] = json!({ "url": a["url"], "proxy_url": a["proxy_url"], "width": a["width"], "height": a["height"] });
                }
            }
        }
        msg["attachments"] = Value::Array(kept);
        // The message with its files in place is the version clients show (and click on).
        let version = msg.clone();
        self.history.entry(msg_id).or_default().push(version);
        self.check_stored(msg_id);
    }

    /// Records the problems of a webhook message body; `Some(400)` if Discord would refuse it.
    fn reject_webhook_body(
        &mut self,
        what: &str,
        body: &Value,
        discord_errors: fn(&Value) -> Vec<String>,
    ) -> Option<Reply> {
        for p in spec::check_allowed_mentions(body, "") {
            self.violation(format!("{what}: {p}"));
        }
        let rejected = discord_errors(body);
        if rejected.is_empty() {
            return None;
        }
        for p in &rejected {
            self.violation(format!("{what}: {p}"));
        }
        Some(Reply::invalid_form_body(&rejected))
    }

    fn commands(&mut self, method: &str, app: u64, guild: Option<u64>, rec: &Recorded) -> Reply {
        let what = format!("{} {}", rec.method, rec.path);
        if app != FakeDiscord::APP_ID {
            self.violation(format!("{what}: application {app}, expected {}", FakeDiscord::APP_ID));
            return Reply::error(403, 50001, "Missing Access");
        }
        if guild.is_some_and(|g| g != FakeDiscord::GUILD_ID) {
            self.violation(format!("{what}: the bot is not in that guild"));
            return Reply::error(403, 50001, "Missing Access");
        }
        if method == "GET" {
            return Reply::json(200, json!(self.commands.get(&guild).cloned().unwrap_or_default()));
        }
        let rejected = spec::validate_command_overwrite(&rec.body);
        if !rejected.is_empty() {
            for p in &rejected {
                self.violation(format!("{what}: {p}"));
            }
            return Reply::invalid_form_body(&rejected);
        }
        let empty = Vec::new();
        let stored: Vec<Value> = rec
            .body
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .map(|c| {
                let name = c["name"].as_str().unwrap_or_default().to_string();
                let key = (guild, name);
                let id = match self.command_ids.get(&key) {
                    Some(id) => *id,
                    None => {
                        let id = self.next_id();
                        self.command_ids.insert(key, id);
                        id
                    }
                };
                let version = self.next_id();
                command_json(c, id, version, guild)
            })
            .collect();
        self.commands.insert(guild, stored.clone());
        Reply::json(200, json!(stored))
    }

    fn is_loading(&self, msg: u64) -> bool {
        self.messages
            .get(&msg)
            .is_some_and(|m| m["flags"].as_u64().unwrap_or(0) & LOADING != 0)
    }

    /// Stores a new message authored by the bot from a message body; returns its id.
    fn create_message(&mut self, interaction: u64, body: &Value, loading: bool) -> u64 {
        let msg_id = self.next_id();
        let i = &self.interactions[&interaction];
        let flags = body["flags"].as_u64().unwrap_or(0) | if loading { LOADING } else { 0 };
        let is_reply_to_command = i.kind == 2 && i.original.is_none();
        let mut metadata = json!({
            "id": interaction.to_string(),
            "type": i.kind,
            "user": user_json(&i.user),
            "authorizing_integration_owners": { "0": FakeDiscord::GUILD_ID.to_string() },
        });
        if let Some(src) = i.source_message {
            metadata["interacted_message_id"] = json!(src.to_string());
        } else {
            metadata["name"] = json!(i.label);
        }
        let mut msg = json!({
            "id": msg_id.to_string(),
            "channel_id": FakeDiscord::CHANNEL_ID.to_string(),
            "author": bot_user_json(),
            "content": "",
            "timestamp": now(),
            "edited_timestamp": null,
            "tts": body["tts"].as_bool().unwrap_or(false),
            "mention_everyone": false,
            "mentions": [],
            "mention_roles": [],
            "mention_channels": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "reactions": [],
            "pinned": false,
            "type": if is_reply_to_command { CHAT_INPUT_COMMAND } else { 0 },
            "flags": flags,
            "webhook_id": FakeDiscord::APP_ID.to_string(),
            "application_id": FakeDiscord::APP_ID.to_string(),
            "interaction_metadata": metadata,
        });
        if i.kind == 2 {
            // The deprecated `interaction` field, still sent by Discord on command replies.
            msg["interaction"] = json!({
                "id": interaction.to_string(), "type": 2, "name": i.label, "user": user_json(&i.user)
            });
        }
        apply_message_fields(&mut msg, body);
        self.history.entry(msg_id).or_default().push(msg.clone());
        self.messages.insert(msg_id, msg);
        self.check_stored(msg_id);
        msg_id
    }

    /// Applies an edit (UPDATE_MESSAGE data, `PATCH .../messages/...`, a follow-up that replaces
    /// a placeholder) to a stored message.
    fn edit_message(&mut self, msg_id: u64, body: &Value) {
        let Some(msg) = self.messages.get_mut(&msg_id) else {
            return;
        };
        let old_flags = msg["flags"].as_u64().unwrap_or(0);
        apply_message_fields(msg, body);
        // The ephemeral bit is fixed at creation; an edit clears the "thinking" state.
        let new_flags = msg["flags"].as_u64().unwrap_or(0);
        msg["flags"] = json!((old_flags & spec::EPHEMERAL) | (new_flags & !spec::EPHEMERAL & !LOADING));
        msg["edited_timestamp"] = json!(now());
        let version = msg.clone();
        self.history.entry(msg_id).or_default().push(version);
        self.check_stored(msg_id);
    }

    /// A component interaction carries the stored message; if serenity could not parse it, the
    /// click would be dropped. Record that now, where the cause is visible.
    fn check_stored(&mut self, msg_id: u64) {
        if self.unvalidated {
            return;
        }
        let msg = self.messages[&msg_id].clone();
        if let Err(e) = serde_json::from_value::<serenity::model::channel::Message>(msg.clone()) {
            self.violation(format!(
                "stored message {msg_id} would not deserialize in serenity ({e}): {}",
                shorten(&msg.to_string())
            ));
        }
    }

    fn on_client_frame(&mut self, inner: &Inner, conn: u64, text: &str) -> Vec<Value> {
        let frame: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                self.violation(format!("gateway: client sent invalid JSON ({e}): {}", shorten(text)));
                return Vec::new();
            }
        };
        self.gateway.received.push(frame.clone());
        let current = self.gateway.conn.as_ref().is_some_and(|c| c.id == conn);
        if !current {
            return Vec::new();
        }
        let g = &mut self.gateway;
        match frame["op"].as_u64() {
            Some(1) => vec![json!({ "op": 11, "d": null })],
            Some(2) => {
                g.identify += 1;
                g.sessions += 1;
                let session = format!("fake-session-{}", g.sessions);
                g.session = Some(session.clone());
                g.seq = 1;
                vec![json!({
                    "op": 0, "s": 1, "t": "READY",
                    "d": {
                        "v": 10,
                        "user": bot_user_json(),
                        "guilds": [{ "id": FakeDiscord::GUILD_ID.to_string(), "unavailable": true }],
                        "session_id": session,
                        "resume_gateway_url": inner.gateway_url(),
                        "application": { "id": FakeDiscord::APP_ID.to_string(), "flags": 0 },
                        "private_channels": [],
                        "presences": [],
                        "relationships": [],
                        "geo_ordered_rtc_regions": [],
                        "session_type": "normal",
                    }
                })]
            }
            Some(6) => {
                let asked = frame["d"]["session_id"].as_str();
                if asked.is_some() && asked == g.session.as_deref() {
                    g.resume += 1;
                    g.seq += 1;
                    // Nothing is replayed: the fake never sends to a session that is not ready.
                    vec![json!({ "op": 0, "s": g.seq, "t": "RESUMED", "d": {} })]
                } else {
                    vec![json!({ "op": 9, "d": false })]
                }
            }
            _ => Vec::new(),
        }
    }
}

// ------------------------------------------------------------------------------ HTTP handlers

async fn rest(State(inner): State<Arc<Inner>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    // A multipart body: its `payload_json` is the JSON body, the rest are files.
    let mut uploads = Vec::new();
    let mut multipart_error = None;
    let mut payload = None;
    let boundary = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(super::multipart::boundary);
    if let Some(boundary) = boundary {
        match super::multipart::parse(&body, &boundary) {
            Ok(parts) => {
                for part in parts {
                    if part.field == "payload_json" {
                        match serde_json::from_slice::<Value>(&part.data) {
                            Ok(v) => payload = Some(v),
                            Err(e) => multipart_error = Some(format!("payload_json is not JSON: {e}")),
                        }
                    } else {
                        uploads.push(part);
                    }
                }
                if let Some(p) = payload.as_mut() {
                    spec::stringify_attachment_ids(p);
                }
                if payload.is_none() && multipart_error.is_none() {
                    multipart_error = Some("multipart body without payload_json".into());
                }
            }
            Err(e) => multipart_error = Some(format!("malformed multipart body: {e}")),
        }
    }
    let mut rec = Recorded {
        uploads,
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: match payload {
            Some(p) => p,
            None if body.is_empty() => Value::Null,
            // Only a body that is not multipart is read as text: a multipart
            // one carries binary files (a chart is ~140 KB), and a lossy UTF-8
            // copy of those is work the fake need not do inside timed loops.
            None => {
                let text = String::from_utf8_lossy(&body).into_owned();
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            }
        },
        status: 0,
        at: Instant::now(),
    };
    let route = parse_route(&rec.path);
    if let Route::Followup { token, .. } | Route::WebhookMessage { token, .. } = &route {
        inner.wait_http_answered(token).await;
    }
    let reply = {
        let mut st = inner.lock();
        if let Some(e) = multipart_error {
            st.violation(format!("{} {}: {e}", rec.method, rec.path));
        }
        let fault = if matches!(route, Route::Gateway | Route::GatewayBot) {
            None
        } else {
            st.faults
                .iter_mut()
                .find(|f| f.remaining > 0 && rec.path.contains(&f.path_contains))
                .map(|f| {
                    f.remaining -= 1;
                    (f.status, f.retry_after)
                })
        };
        let reply = match fault {
            Some((status, retry_after)) => {
                // Keep injected failures of callbacks visible in `wait_callback`'s error.
                if let Route::Callback { id, .. } = route {
                    if let Some(i) = st.interactions.get_mut(&id) {
                        i.attempts.push((status, rec.body.clone()));
                    }
                }
                injected(status, retry_after)
            }
            None => st.handle(&inner, &method, route, &rec),
        };
        rec.status = reply.status;
        if reply.unexpected {
            st.unexpected.push(rec.clone());
        }
        st.requests.push(rec);
        reply
    };
    inner.changed.notify_waiters();
    reply.into_response()
}

/// An injected failure. 429s look like Discord's: JSON body and rate-limit headers.
fn injected(status: u16, retry_after: Option<f64>) -> Reply {
    match (status, retry_after) {
        (429, Some(secs)) => {
            let reset = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64() + secs)
                .unwrap_or(0.0);
            Reply {
                status,
                body: Some(json!({
                    "message": "You are being rate limited.", "retry_after": secs, "global": false
                })),
                headers: vec![
                    ("retry-after", format!("{}", secs.ceil() as u64)),
                    ("x-ratelimit-limit", "1".into()),
                    ("x-ratelimit-remaining", "0".into()),
                    ("x-ratelimit-reset", format!("{reset:.3}")),
                    ("x-ratelimit-reset-after", format!("{secs:.3}")),
                    ("x-ratelimit-bucket", "fake-bucket".into()),
                    ("x-ratelimit-scope", "user".into()),
                ],
                unexpected: false,
            }
        }
        _ => Reply::error(status, 0, "injected failure"),
    }
}

async fn gateway_upgrade(State(inner): State<Arc<Inner>>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| run_gateway(inner, socket))
}

/// One gateway connection. Frames to the client come either as replies to its frames or via
/// the connection's channel (dispatches, faults), so the socket has a single writer.
async fn run_gateway(inner: Arc<Inner>, mut socket: WebSocket) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let conn = {
        let mut st = inner.lock();
        let g = &mut st.gateway;
        g.next_conn += 1;
        let id = g.next_conn;
        // A new connection replaces the old one, like a client that reconnected.
        if let Some(old) = g.conn.replace(Conn { id, tx }) {
            let _ = old.tx.send(GatewayCmd::Drop);
        }
        g.ready = false;
        id
    };
    let hello = json!({ "op": 10, "d": { "heartbeat_interval": HEARTBEAT_INTERVAL_MS } });
    if socket.send(text(&hello)).await.is_ok() {
        'conn: loop {
            tokio::select! {
                frame = socket.recv() => {
                    let payload = match frame {
                        Some(Ok(Message::Text(t))) => t.to_string(),
                        Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                        Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                    };
                    let replies = inner.lock().on_client_frame(&inner, conn, &payload);
                    for reply in &replies {
                        if socket.send(text(reply)).await.is_err() {
                            break 'conn;
                        }
                    }
                    // Ready only once READY/RESUMED is on the wire, so no dispatch overtakes it.
                    if replies.iter().any(|r| r["op"] == json!(0)) {
                        let mut st = inner.lock();
                        if st.gateway.conn.as_ref().is_some_and(|c| c.id == conn) {
                            st.gateway.ready = true;
                        }
                    }
                    inner.changed.notify_waiters();
                }
                cmd = rx.recv() => match cmd {
                    Some(GatewayCmd::Send(t)) => {
                        if socket.send(Message::Text(t.into())).await.is_err() {
                            break;
                        }
                    }
                    Some(GatewayCmd::Close(code)) => {
                        let frame = CloseFrame { code, reason: Utf8Bytes::from_static("fake close") };
                        let _ = socket.send(Message::Close(Some(frame))).await;
                        break;
                    }
                    // Dropping the socket closes TCP without a close frame.
                    Some(GatewayCmd::Drop) | None => break,
                },
            }
        }
    }
    {
        let mut st = inner.lock();
        if st.gateway.conn.as_ref().is_some_and(|c| c.id == conn) {
            st.gateway.conn = None;
            st.gateway.ready = false;
        }
    }
    inner.changed.notify_waiters();
}

fn text(v: &Value) -> Message {
    Message::Text(v.to_string().into())
}

// --------------------------------------------------------------------------------- JSON shapes

fn id_of(v: &Value) -> u64 {
    match v {
        Value::String(s) => s.parse().unwrap_or(0),
        other => other.as_u64().unwrap_or(0),
    }
}

fn now() -> String {
    serenity::model::Timestamp::now()
        .to_rfc3339()
        .unwrap_or_else(|| "2025-01-01T00:00:00.000Z".into())
}

fn shorten(s: &str) -> String {
    let cut: String = s.chars().take(400).collect();
    if cut.len() < s.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

pub(super) fn user_json(u: &FakeUser) -> Value {
    json!({
        "id": u.id.to_string(),
        "username": u.name,
        "discriminator": "0",
        "global_name": u.name,
        "avatar": null,
        "public_flags": 0,
    })
}

fn bot_user_json() -> Value {
    json!({
        "id": FakeDiscord::BOT_USER_ID.to_string(),
        "username": "framework-advisor",
        "discriminator": "0",
        "global_name": null,
        "avatar": null,
        "bot": true,
        "verified": true,
        "mfa_enabled": false,
        "flags": 0,
        "public_flags": 0,
    })
}

fn application_json() -> Value {
    json!({
        "id": FakeDiscord::APP_ID.to_string(),
        "name": "framework-advisor",
        "icon": null,
        "description": "",
        "rpc_origins": [],
        "bot_public": false,
        "bot_require_code_grant": false,
        "owner": user_json(&FakeUser::new(1_100_000_000_000_000_099, "owner")),
        "verify_key": "0".repeat(64),
        "team": null,
        "flags": 0,
        "bot": bot_user_json(),
    })
}

fn command_json(c: &Value, id: u64, version: u64, guild: Option<u64>) -> Value {
    let mut out = c.clone();
    let o = out.as_object_mut().expect("validated as an object");
    o.insert("id".into(), json!(id.to_string()));
    o.insert("application_id".into(), json!(FakeDiscord::APP_ID.to_string()));
    o.insert("version".into(), json!(version.to_string()));
    o.entry("type").or_insert(json!(1));
    o.entry("description").or_insert(json!(""));
    o.entry("options").or_insert(json!([]));
    o.entry("nsfw").or_insert(json!(false));
    let perms = match o.get("default_member_permissions") {
        Some(Value::Number(n)) => json!(n.to_string()),
        Some(v @ Value::String(_)) => v.clone(),
        _ => Value::Null,
    };
    o.insert("default_member_permissions".into(), perms);
    if let Some(g) = guild {
        o.insert("guild_id".into(), json!(g.to_string()));
    }
    out
}

/// Copies the message fields of a request body onto a stored message, the way Discord stores
/// them: absent fields are left alone, `null` clears, `null`s inside are dropped, embeds get
/// `"type": "rich"`.
fn apply_message_fields(msg: &mut Value, body: &Value) {
    for key in ["content", "embeds", "components", "flags", "tts"] {
        let Some(v) = body.get(key) else { continue };
        let v = strip_nulls(v);
        msg[key] = match (key, v) {
            ("content", Value::Null) => json!(""),
            ("embeds" | "components", Value::Null) => json!([]),
            ("flags", Value::Null) => json!(0),
            ("tts", Value::Null) => json!(false),
            ("embeds", Value::Array(embeds)) => Value::Array(
                embeds
                    .into_iter()
                    .map(|mut e| {
                        if e.get("type").is_none() {
                            e["type"] = json!("rich");
                        }
                        e
                    })
                    .collect(),
            ),
            (_, v) => v,
        };
    }
}

fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}
