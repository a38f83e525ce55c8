//! Interaction latency over whole consultations: the time from the fake
//! Discord sending INTERACTION_CREATE to it receiving the bot's callback,
//! with the real serenity client, the real store (fsync per answer) and the
//! real content. Reports median and p99 per phase.
//!
//! `cargo bench --bench interaction_latency` (options: `-- --consultations N --in-flight K`).
//! The soak run is `-- --consultations 10000 --in-flight 50 --process`: the
//! bot then runs as the release binary in its own process, and the tool
//! prints that process's resident memory at each tenth of the run (in-process,
//! the fake Discord's own records of every request would dominate the figure).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use serde_json::json;

use support::bot::{answer_for, is_recommendation, Bot, WAIT};
use support::process::{rss_mib, spawn_bot, wait_identified, write_config};
use support::{FakeDiscord, FakeUser};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The bot under test: in this process, or the release binary in its own.
enum Under {
    InProcess(Bot),
    Process(std::process::Child),
}

impl Under {
    fn rss(&self) -> f64 {
        match self {
            Under::InProcess(_) => rss_mib(std::process::id()),
            Under::Process(child) => rss_mib(child.id()),
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

/// One consultation from /consult start to the recommendation (and, with
/// `forget`, the user's data deleted again); returns each interaction's latency.
async fn consultation(fake: &FakeDiscord, user: &FakeUser, seed: usize, forget: bool) -> Vec<Duration> {
    let mut samples = Vec::new();
    let t = Instant::now();
    let iid = fake
        .send_command(user, "consult", json!([{ "type": 1, "name": "start", "options": [] }]))
        .await;
    fake.wait_callback(iid, WAIT).await.expect("start answered");
    samples.push(t.elapsed());
    let msg = fake.latest_message_for(iid).await.unwrap().id;
    let mut i = seed;
    loop {
        let m = fake.message(msg).await.unwrap();
        if is_recommendation(&m) {
            break;
        }
        let (id, values) = answer_for(&m, i).expect("answer component");
        i += 1;
        let t = Instant::now();
        let cid = fake.send_component(user, msg, &id, values).await;
        fake.wait_callback(cid, WAIT).await.expect("click answered");
        samples.push(t.elapsed());
    }
    if forget {
        let t = Instant::now();
        let iid = fake
            .send_command(
                user,
                "advisor",
                json!([{ "type": 1, "name": "forget-me", "options": [] }]),
            )
            .await;
        fake.wait_callback(iid, WAIT).await.expect("forget-me answered");
        let confirm = fake.latest_message_for(iid).await.unwrap().id;
        let cid = fake.send_component(user, confirm, "fa1:f:y", None).await;
        fake.wait_callback(cid, WAIT).await.expect("forget confirmed");
        samples.push(t.elapsed());
    }
    samples
}

fn main() {
    let consultations = arg("--consultations", 100);
    let in_flight = arg("--in-flight", 1).max(1);
    // Delete each user's data after their consultation: the store stays small,
    // which separates the bot's own memory from the store's growth.
    let forget = std::env::args().any(|a| a == "--forget");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let fake = FakeDiscord::start().await;
        let dir = tempfile::tempdir().unwrap();
        let under = if std::env::args().any(|a| a == "--process") {
            let config = write_config(&fake, dir.path(), "");
            let child = spawn_bot(env!("CARGO_BIN_EXE_framework-advisor"), &config, "warn", false);
            wait_identified(&fake, 1).await;
            Under::Process(child)
        } else {
            Under::InProcess(Bot::start(&fake, dir.path()).await)
        };
        // Warm-up: one consultation not counted.
        consultation(&fake, &FakeUser::new(1, "warmup"), 0, forget).await;
        let started = Instant::now();
        let mut all = Vec::new();
        let mut next = 0;
        let mut rss = vec![(0, under.rss())];
        let tenth = (consultations / 10).max(1);
        while next < consultations {
            let batch: Vec<_> = (next..(next + in_flight).min(consultations))
                .map(|n| {
                    let fake = fake.clone();
                    tokio::spawn(async move {
                        let user = FakeUser::new(10_000 + n as u64, &format!("user{n}"));
                        consultation(&fake, &user, n, forget).await
                    })
                })
                .collect();
            for b in batch {
                all.extend(b.await.unwrap());
            }
            let before = next;
            next += in_flight;
            if next / tenth != before / tenth || next >= consultations {
                rss.push((next.min(consultations), under.rss()));
            }
        }
        let wall = started.elapsed();
        all.sort();
        println!(
            "interaction_latency: {consultations} consultations, {in_flight} in flight, {} interactions in {:.2} s",
            all.len(),
            wall.as_secs_f64()
        );
        println!(
            "  median {:.3} ms   p90 {:.3} ms   p99 {:.3} ms   max {:.3} ms",
            percentile(&all, 0.5).as_secs_f64() * 1000.0,
            percentile(&all, 0.9).as_secs_f64() * 1000.0,
            percentile(&all, 0.99).as_secs_f64() * 1000.0,
            all.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
        );
        let curve: Vec<String> = rss.iter().map(|(n, mib)| format!("{n}:{mib:.1}")).collect();
        let whose = if matches!(under, Under::Process(_)) {
            "bot process"
        } else {
            "this process (bot + fake)"
        };
        println!("  RSS MiB of {whose} by consultations done: {}", curve.join("  "));
        match under {
            Under::InProcess(bot) => bot.stop().await,
            Under::Process(mut child) => {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &child.id().to_string()])
                    .status();
                let _ = child.wait();
            }
        }
        let violations = fake.violations().await;
        assert!(violations.is_empty(), "payload violations: {violations:?}");
    });
}
