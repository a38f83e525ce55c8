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
    write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
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

/// Per-user rate limiting (GCRA via governor), with one notice per
/// cool-down so a burst of clicks gets a single polite message.
pub struct UserLimiter {
    limiter: DefaultKeyedRateLimiter<u64>,
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

impl UserLimiter {
    /// `per_minute` sustained interactions with bursts of `burst`.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        let per_minute = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
        UserLimiter {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
            notified: Mutex::new(Default::default()),
            cooldown: Duration::from_secs(10),
        }
    }

    pub fn check(&self, user: u64) -> Verdict {
        if self.limiter.check_key(&user).is_ok() {
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
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
        let cooldown = self.cooldown;
        self.notified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, at| at.elapsed() < cooldown);
    }

    /// Users tracked right now (for tests of the housekeeping).
    pub fn tracked(&self) -> usize {
        self.limiter.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_beyond_the_limit_gets_one_notice() {
        let l = UserLimiter::new(60, 3);
        assert_eq!(l.check(1), Verdict::Allowed);
        assert_eq!(l.check(1), Verdict::Allowed);
        assert_eq!(l.check(1), Verdict::Allowed);
        assert_eq!(l.check(1), Verdict::LimitedNotify);
        assert_eq!(l.check(1), Verdict::LimitedQuiet);
        assert_eq!(l.check(1), Verdict::LimitedQuiet);
        assert_eq!(l.check(2), Verdict::Allowed, "users are limited separately");
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
