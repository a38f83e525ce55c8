//! Operations: Prometheus metrics, health, and per-user rate limiting.
//!
//! - [`install_metrics`] installs the process-wide metrics recorder once;
//!   [`serve`] answers `GET /metrics` (Prometheus text) and `GET /healthz`
//!   (200 only while the gateway is connected and the store is usable).
//! - [`probe`] is `framework-advisor health`: a plain HTTP GET of `/healthz`,
//!   so a container health check needs no curl.
//! - [`UserLimiter`] bounds how fast one user can make the bot work.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::app::App;

/// Metric names (one place, so dashboards and code agree).
pub mod names {
    pub const INTERACTIONS: &str = "framework_advisor_interactions_total";
    pub const INTERACTION_SECONDS: &str = "framework_advisor_interaction_duration_seconds";
    pub const RATE_LIMITED: &str = "framework_advisor_rate_limited_total";
    pub const DEFERRED: &str = "framework_advisor_deferred_responses_total";
    pub const GATEWAY_RECONNECTS: &str = "framework_advisor_gateway_reconnects_total";
    pub const STORE_ERRORS: &str = "framework_advisor_store_errors_total";
    pub const CONSULTATIONS: &str = "framework_advisor_consultations";
    pub const ACTIVE_SESSIONS: &str = "framework_advisor_active_sessions";
}

/// Buckets for the handling latency: local work is sub-millisecond, a slow
/// disk is seconds, Discord's window is 3 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0,
];

static METRICS: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the global recorder (once per process) and returns its handle.
pub fn install_metrics() -> PrometheusHandle {
    METRICS
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full(names::INTERACTION_SECONDS.into()),
                    LATENCY_BUCKETS,
                )
                .map(|b| b.build_recorder())
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; then ours renders nothing new.
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed");
            }
            handle
        })
        .clone()
}

/// Records one handled interaction.
pub fn record_interaction(kind: &'static str, outcome: &'static str, elapsed: Duration) {
    metrics::counter!(names::INTERACTIONS, "kind" => kind, "outcome" => outcome).increment(1);
    metrics::histogram!(names::INTERACTION_SECONDS, "kind" => kind).record(elapsed.as_secs_f64());
}

/// What `/healthz` reports.
#[derive(Debug, Default)]
pub struct Health {
    gateway: AtomicBool,
    store: AtomicBool,
}

impl Health {
    pub fn set_gateway(&self, connected: bool) {
        self.gateway.store(connected, Ordering::SeqCst);
    }
    pub fn set_store(&self, open: bool) {
        self.store.store(open, Ordering::SeqCst);
    }
    pub fn ready(&self) -> bool {
        self.gateway.load(Ordering::SeqCst) && self.store.load(Ordering::SeqCst)
    }
}

fn refresh_store_gauges(app: &App) {
    match app.store().stats() {
        Ok(s) => {
            for (kind, state, n) in [
                ("private", "started", s.started),
                ("private", "completed", s.completed),
                ("private", "abandoned", s.abandoned),
                ("team", "started", s.team.started),
                ("team", "completed", s.team.completed),
                ("team", "abandoned", s.team.abandoned),
            ] {
                metrics::gauge!(names::CONSULTATIONS, "kind" => kind, "state" => state).set(n as f64);
            }
            metrics::gauge!(names::ACTIVE_SESSIONS).set(s.active as f64);
        }
        Err(e) => {
            metrics::counter!(names::STORE_ERRORS).increment(1);
            tracing::warn!(error = %e, "reading stats for metrics failed");
        }
    }
}

/// Serves `/metrics` and `/healthz` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    handle: PrometheusHandle,
    health: Arc<Health>,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::http::StatusCode;
    use axum::routing::get;
    let metrics_route = {
        let app = app.clone();
        move || {
            let (handle, app) = (handle.clone(), app.clone());
            async move {
                // Store reads are quick but blocking: keep them off the async workers.
                let _ = tokio::task::spawn_blocking(move || refresh_store_gauges(&app)).await;
                handle.render()
            }
        }
    };
    let health_route = move || {
        let health = health.clone();
        async move {
            if health.ready() {
                (StatusCode::OK, "ok\n")
            } else {
                (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
            }
        }
    };
    let router = axum::Router::new()
        .route("/metrics", get(metrics_route))
        .route("/healthz", get(health_route));
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await
}

/// `framework-advisor health`: GET `/healthz` on `addr`; Ok when it says 200.
pub fn probe(addr: &str, timeout: Duration) -> Result<(), String> {
    let target: SocketAddr = addr
        .to_socket_addrs()
        .map_err(|e| format!("{addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr}: no address"))?;
    let mut stream = TcpStream::connect_timeout(&target, timeout).map_err(|e| format!("{addr}: {e}"))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    // One write: `write!` on the stream would send the request in pieces, and
    // a server that answers on its first read and closes (as a failing one
    // may) then breaks the pipe under a later piece (seen in CI: "Broken
    // pipe" instead of the server's status).
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("{addr}: {e}"))?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).map_err(|e| format!("{addr}: {e}"))?;
    let status_line = String::from_utf8_lossy(&head[..n]);
    match status_line.split_whitespace().nth(1) {
        Some("200") => Ok(()),
        Some(code) => Err(format!("{addr}: not ready (HTTP {code})")),
        None => Err(format!("{addr}: not an HTTP answer")),
    }
}

/// What the limiter decided for one interaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Over the limit: tell the user once per cool-down.
    LimitedNotify,
    /// Over the limit and already told: no work, no notice.
    LimitedQuiet,
}

/// Which budget an interaction draws from.
///
/// Clicks on a consultation are many and quick by nature (a fast reader answers a question a
/// second, and Back/Restart add more); commands and free text are few and cost more work
/// (search, autocomplete on every keystroke). One shared budget would either refuse a fast
/// reader or let a flood of commands through, so each has its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Budget {
    /// Slash commands, autocomplete, modal submits: typed by the user.
    Commands,
    /// Buttons and selects on a message the bot sent.
    Clicks,
}

impl Budget {
    /// The budget of an interaction kind as the handler names it (`"component"` for clicks).
    pub fn of_kind(kind: &str) -> Budget {
        match kind {
            "component" => Budget::Clicks,
            _ => Budget::Commands,
        }
    }
}

/// Per-user rate limiting (GCRA via governor), one budget per [`Budget`], with one notice per
/// cool-down (whichever budget ran out) so a burst gets a single polite message.
pub struct UserLimiter {
    commands: DefaultKeyedRateLimiter<u64>,
    clicks: DefaultKeyedRateLimiter<u64>,
    notified: Mutex<std::collections::HashMap<u64, Instant>>,
    cooldown: Duration,
}

impl std::fmt::Debug for UserLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserLimiter")
            .field("cooldown", &self.cooldown)
            .finish_non_exhaustive()
    }
}

fn quota(per_minute: u32, burst: u32) -> Quota {
    let per_minute = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(per_minute).allow_burst(burst)
}

impl UserLimiter {
    /// Commands: `per_minute` sustained with bursts of `burst`; clicks likewise with their own
    /// figures.
    pub fn new(commands: (u32, u32), clicks: (u32, u32)) -> Self {
        UserLimiter {
            commands: RateLimiter::keyed(quota(commands.0, commands.1)),
            clicks: RateLimiter::keyed(quota(clicks.0, clicks.1)),
            notified: Mutex::new(Default::default()),
            cooldown: Duration::from_secs(10),
        }
    }

    /// The limiter the `[limits]` section describes.
    pub fn from_config(limits: &crate::config::LimitsConfig) -> Self {
        Self::new(
            (limits.per_user_per_minute, limits.per_user_burst),
            (limits.clicks_per_minute, limits.clicks_burst),
        )
    }

    /// Takes one interaction of `budget` from `user`'s budget.
    pub fn check(&self, user: u64, budget: Budget) -> Verdict {
        let limiter = match budget {
            Budget::Commands => &self.commands,
            Budget::Clicks => &self.clicks,
        };
        if limiter.check_key(&user).is_ok() {
            return Verdict::Allowed;
        }
        metrics::counter!(names::RATE_LIMITED).increment(1);
        let mut notified = self.notified.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match notified.get(&user) {
            Some(at) if now.duration_since(*at) < self.cooldown => Verdict::LimitedQuiet,
            _ => {
                notified.insert(user, now);
                Verdict::LimitedNotify
            }
        }
    }

    /// Forgets users who are back within their quota (keeps memory flat).
    pub fn housekeeping(&self) {
        for limiter in [&self.commands, &self.clicks] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        let cooldown = self.cooldown;
        self.notified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, at| at.elapsed() < cooldown);
    }

    /// Users tracked right now (for tests of the housekeeping): the larger of the two budgets.
    pub fn tracked(&self) -> usize {
        self.commands.len().max(self.clicks.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_beyond_the_limit_gets_one_notice() {
        let l = UserLimiter::new((60, 3), (60, 3));
        assert_eq!(l.check(1, Budget::Commands), Verdict::Allowed);
        assert_eq!(l.check(1, Budget::Commands), Verdict::Allowed);
        assert_eq!(l.check(1, Budget::Commands), Verdict::Allowed);
        assert_eq!(l.check(1, Budget::Commands), Verdict::LimitedNotify);
        assert_eq!(l.check(1, Budget::Commands), Verdict::LimitedQuiet);
        assert_eq!(l.check(1, Budget::Commands), Verdict::LimitedQuiet);
        assert_eq!(
            l.check(2, Budget::Commands),
            Verdict::Allowed,
            "users are limited separately"
        );
    }

    #[test]
    fn clicks_and_commands_have_budgets_of_their_own_and_one_notice() {
        let l = UserLimiter::new((60, 2), (60, 4));
        for _ in 0..2 {
            assert_eq!(l.check(1, Budget::Commands), Verdict::Allowed);
        }
        assert_eq!(l.check(1, Budget::Commands), Verdict::LimitedNotify);
        for _ in 0..4 {
            assert_eq!(
                l.check(1, Budget::Clicks),
                Verdict::Allowed,
                "commands do not use up clicks"
            );
        }
        assert_eq!(
            l.check(1, Budget::Clicks),
            Verdict::LimitedQuiet,
            "one notice per cool-down, whichever budget ran out"
        );
    }

    #[test]
    fn interaction_kinds_map_to_budgets() {
        assert_eq!(Budget::of_kind("component"), Budget::Clicks);
        for kind in ["command", "autocomplete", "modal", "other"] {
            assert_eq!(Budget::of_kind(kind), Budget::Commands, "{kind}");
        }
    }

    /// The default budgets let the longest legitimate private consultation through at full
    /// speed: every question answered, gone Back and answered again, then Restart, Share and
    /// New consultation. Any questionnaire change that makes that flow longer than the budget
    /// fails here, pointing at `config.example.toml`'s arithmetic.
    #[test]
    fn default_click_budget_covers_the_longest_flow() {
        let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/responses"));
        let content = crate::content::Content::load(dir).expect("responses/ loads");
        let questions = content.questionnaire.questions.len() as u32;
        let longest_flow = questions * 3 + 3;
        let limits = crate::config::LimitsConfig::default();
        assert!(
            limits.clicks_burst >= longest_flow,
            "clicks_burst {} < {longest_flow} clicks ({questions} questions x 3 + 3): resize [limits] in config.example.toml",
            limits.clicks_burst
        );
        let l = UserLimiter::from_config(&limits);
        for n in 0..longest_flow {
            assert_eq!(l.check(7, Budget::Clicks), Verdict::Allowed, "click {n}");
        }
    }

    #[test]
    fn health_needs_gateway_and_store() {
        let h = Health::default();
        assert!(!h.ready());
        h.set_store(true);
        assert!(!h.ready());
        h.set_gateway(true);
        assert!(h.ready());
        h.set_gateway(false);
        assert!(!h.ready());
    }

    #[test]
    fn probe_reports_unreachable_and_not_ready() {
        let err = probe("127.0.0.1:1", Duration::from_millis(200)).unwrap_err();
        assert!(err.contains("127.0.0.1:1"), "{err}");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 256];
            let _ = s.read(&mut buf);
            s.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
                .unwrap();
        });
        let err = probe(&addr, Duration::from_secs(2)).unwrap_err();
        assert!(err.contains("503"), "{err}");
        server.join().unwrap();
    }
}
