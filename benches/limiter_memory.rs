//! Memory of interaction responses through serenity's rate limiter (the
//! production default) versus the limiter-free client the bot uses for them.
//!
//! serenity's limiter keys the callback route by interaction id and never
//! drops a bucket, so a long-running bot grows with every interaction. This
//! tool sends N callbacks through each configuration and prints the RSS and
//! the number of buckets. No traffic leaves the machine: the reqwest client
//! serenity is given resolves discord.com to a closed loopback port, so every
//! request fails at connect, after the limiter has done its bookkeeping.
//!
//! ```text
//! cargo bench --bench limiter_memory -- --mode limiter --n 100000
//! cargo bench --bench limiter_memory -- --mode interaction-client --n 100000
//! ```

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use serenity::all::{CreateInteractionResponse, HttpBuilder, InteractionId};

use support::process::rss_mib;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn main() {
    let mode = arg("--mode").unwrap_or_else(|| "limiter".into());
    let n: u64 = arg("--n").and_then(|v| v.parse().ok()).unwrap_or(100_000);
    // A loopback port with nothing listening: connections are refused at once.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let client = reqwest::Client::builder()
        .resolve("discord.com", closed)
        .build()
        .unwrap();
    let http = match mode.as_str() {
        "limiter" => HttpBuilder::new("bench-token").client(client).build(),
        "interaction-client" => HttpBuilder::new("bench-token")
            .client(client)
            .ratelimiter_disabled(true)
            .build(),
        other => panic!("unknown --mode {other}"),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let start = Instant::now();
        let mut curve = vec![(0, rss_mib(std::process::id()))];
        let mut failures = 0u64;
        for i in 0..n {
            let token = format!("interaction-token-{i:020}");
            if http
                .create_interaction_response(
                    InteractionId::new(i + 1),
                    &token,
                    &CreateInteractionResponse::Acknowledge,
                    vec![],
                )
                .await
                .is_err()
            {
                failures += 1;
            }
            if (i + 1) % (n / 4).max(1) == 0 {
                curve.push((i + 1, rss_mib(std::process::id())));
            }
        }
        let buckets = match &http.ratelimiter {
            Some(r) => r.routes().read().await.len(),
            None => 0,
        };
        let curve: Vec<String> = curve.iter().map(|(k, m)| format!("{k}:{m:.1}")).collect();
        println!(
            "limiter_memory mode={mode}: {n} callbacks ({failures} refused at connect, as intended) in {:.1} s; \
             limiter buckets: {buckets}; RSS MiB by callbacks sent: {}",
            start.elapsed().as_secs_f64(),
            curve.join("  ")
        );
    });
}
