//! Interaction latency over whole consultations, beside a baseline measured in the same run:
//! the time from the fake Discord sending an interaction to it receiving the bot's callback,
//! with the real serenity client, the real store (a durable write per answer) and the real
//! content.
//!
//! Process layout: the fake Discord runs in this process; each bot in a process of its own:
//! framework-advisor (the release binary, `run`), and a **bare serenity bot** (this bench
//! binary re-executed with `--bare-bot`) that answers every command with a fixed embed and
//! buttons and every click by updating the message the same way: no store, no logic. Runs
//! alternate (bare, full, bare, full...) so drift on a shared machine hits both alike. The
//! report gives each bot's command and click medians, p99, and CPU time per interaction (the
//! bot process's user + system time from `/proc/PID/stat` over the timed loop, divided by the
//! interactions it answered), the full bot's figures as ratios to the bare bot's, and the
//! median `fdatasync` of a 4 KiB write on the data directory's disk, measured in the same run.
//!
//! The fake validates what the bots send during warm-up and after the timed loop, not inside
//! it (it shares the machine's cores with the bots).
//!
//! `cargo bench --bench interaction_latency -- [--consultations N] [--in-flight K] [--rounds R]
//! [--serve] [--forget]`. `--serve` adds a figure for `serve` (one instance): interactions per
//! second and latency over HTTP, same fake, same consultations.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use support::bot::{answer_for, is_recommendation, WAIT};
use support::http_sender::HttpSender;
use support::process::{spawn_bot, wait_identified, write_config};
use support::serve::spawn_serve;
use support::{FakeDiscord, FakeUser};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One interaction's latency, by kind.
#[derive(Clone, Copy)]
enum Sample {
    Command(Duration),
    Click(Duration),
}

/// One consultation from /consult start: clicks until the recommendation (the full bot), or
/// exactly `clicks` clicks (the bare bot, whose message never ends). With `forget`, the user's
/// data is deleted afterwards (the full bot only).
async fn consultation(
    fake: &FakeDiscord,
    user: &FakeUser,
    seed: usize,
    clicks: Option<usize>,
    forget: bool,
) -> Vec<Sample> {
    let mut samples = Vec::new();
    let t = Instant::now();
    let iid = fake
        .send_command(user, "consult", json!([{ "type": 1, "name": "start", "options": [] }]))
        .await;
    fake.wait_callback(iid, WAIT).await.expect("start answered");
    samples.push(Sample::Command(t.elapsed()));
    let msg = fake.latest_message_for(iid).await.unwrap().id;
    let mut i = seed;
    loop {
        let m = fake.message(msg).await.unwrap();
        let done = match clicks {
            Some(n) => samples.len() > n,
            None => is_recommendation(&m),
        };
        if done {
            break;
        }
        let (id, values) = answer_for(&m, i).expect("answer component");
        i += 1;
        let t = Instant::now();
        let cid = fake.send_component(user, msg, &id, values).await;
        fake.wait_callback(cid, WAIT).await.expect("click answered");
        samples.push(Sample::Click(t.elapsed()));
        assert!(samples.len() < 100, "the consultation ends");
    }
    if forget && clicks.is_none() {
        let iid = fake
            .send_command(
                user,
                "advisor",
                json!([{ "type": 1, "name": "forget-me", "options": [] }]),
            )
            .await;
        fake.wait_callback(iid, WAIT).await.expect("forget-me answered");
        let confirm = fake.latest_message_for(iid).await.unwrap();
        let yes = confirm
            .custom_ids()
            .into_iter()
            .find(|id| id.starts_with("fa1:f:y"))
            .expect("a confirm button");
        let cid = fake.send_component(user, confirm.id, &yes, None).await;
        fake.wait_callback(cid, WAIT).await.expect("forget confirmed");
    }
    samples
}

/// User + system CPU time of a process so far (Linux `/proc/PID/stat`, in clock ticks).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name: state is field 3, utime 14, stime 15.
    let utime = fields.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let stime = fields.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    utime + stime
}

fn clock_ticks_per_sec() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Median of `n` 4 KiB writes each followed by `fdatasync`, in `dir`.
fn fdatasync_median(dir: &std::path::Path, n: usize) -> Duration {
    use std::io::Write;
    let path = dir.join("fdatasync.probe");
    let mut file = std::fs::File::create(&path).expect("probe file");
    let block = [0x5au8; 4096];
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            file.write_all(&block).expect("write");
            let t = Instant::now();
            file.sync_data().expect("fdatasync");
            t.elapsed()
        })
        .collect();
    let _ = std::fs::remove_file(&path);
    times.sort();
    percentile(&times, 0.5)
}

/// One bot's figures over one or more runs.
#[derive(Default)]
struct Figures {
    commands: Vec<Duration>,
    clicks: Vec<Duration>,
    cpu_secs: f64,
    interactions: usize,
    wall: Duration,
}

impl Figures {
    fn add(&mut self, samples: &[Sample]) {
        for s in samples {
            match s {
                Sample::Command(d) => self.commands.push(*d),
                Sample::Click(d) => self.clicks.push(*d),
            }
        }
        self.interactions += samples.len();
    }

    fn sorted(&mut self) {
        self.commands.sort();
        self.clicks.sort();
    }

    fn all(&self) -> Vec<Duration> {
        let mut all: Vec<Duration> = self.commands.iter().chain(&self.clicks).copied().collect();
        all.sort();
        all
    }

    fn cpu_us_per_interaction(&self) -> f64 {
        self.cpu_secs * 1e6 / self.interactions.max(1) as f64
    }

    fn line(&self, name: &str) -> String {
        let all = self.all();
        format!(
            "{name:<6} command median {:.3} ms   click median {:.3} ms   p90 {:.3} ms   p99 {:.3} ms   max {:.3} ms   \
             CPU {:.0} us/interaction   ({} interactions, {:.0}/s)",
            ms(percentile(&self.commands, 0.5)),
            ms(percentile(&self.clicks, 0.5)),
            ms(percentile(&all, 0.9)),
            ms(percentile(&all, 0.99)),
            ms(all.last().copied().unwrap_or_default()),
            self.cpu_us_per_interaction(),
            self.interactions,
            self.interactions as f64 / self.wall.as_secs_f64().max(1e-9),
        )
    }
}

/// Which bot a run measures.
#[derive(Clone, Copy, PartialEq)]
enum Which {
    Bare,
    Full,
    Serve,
}

struct Run {
    consultations: usize,
    in_flight: usize,
    forget: bool,
    /// Clicks per consultation seed, from the full bot's runs (the bare bot makes as many).
    clicks: Vec<usize>,
}

/// Starts the bot, warms up, runs the timed loop, stops the bot; adds to `figures`.
async fn measure(which: Which, run: &mut Run, round: usize, dir: &std::path::Path, figures: &mut Figures) {
    let fake = FakeDiscord::start().await;
    let data = dir.join(format!("round{round}-{}", which as u8));
    std::fs::create_dir_all(&data).unwrap();
    let config = write_config(&fake, &data, "");
    let mut child = match which {
        Which::Bare => {
            let child = std::process::Command::new(std::env::current_exe().expect("this bench's path"))
                .args(["--bare-bot", &fake.base_url()])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::inherit())
                .spawn()
                .expect("the bare bot starts");
            wait_identified(&fake, 1).await;
            child
        }
        Which::Full => {
            let child = spawn_bot(env!("CARGO_BIN_EXE_framework-advisor"), &config, "warn", false);
            wait_identified(&fake, 1).await;
            child
        }
        Which::Serve => {
            let (child, addr) = spawn_serve(env!("CARGO_BIN_EXE_framework-advisor"), &config);
            fake.send_over_http(HttpSender::new(&addr.to_string()));
            child
        }
    };
    // Commands registered (every bot registers them at start).
    let deadline = Instant::now() + WAIT;
    while fake.registered_commands(Some(FakeDiscord::GUILD_ID)).await.is_empty() {
        assert!(Instant::now() < deadline, "commands never registered");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let clicks_for = |run: &Run, n: usize| match which {
        Which::Bare => Some(run.clicks.get(n % run.clicks.len().max(1)).copied().unwrap_or(12)),
        _ => None,
    };
    // Warm-up, validated: one consultation not counted.
    consultation(&fake, &FakeUser::new(1, "warmup"), 0, clicks_for(run, 0), run.forget).await;
    fake.set_validation(false);
    let cpu_before = cpu_ticks(child.id());
    let started = Instant::now();
    let mut next = 0;
    let mut seen_clicks = Vec::new();
    while next < run.consultations {
        let batch: Vec<_> = (next..(next + run.in_flight).min(run.consultations))
            .map(|n| {
                let fake = fake.clone();
                let clicks = clicks_for(run, n);
                let forget = run.forget;
                tokio::spawn(async move {
                    let user = FakeUser::new(10_000 + (round * 1_000_000 + n) as u64, &format!("user{n}"));
                    (n, consultation(&fake, &user, n, clicks, forget).await)
                })
            })
            .collect();
        for b in batch {
            let (n, samples) = b.await.unwrap();
            seen_clicks.push((n, samples.len() - 1));
            figures.add(&samples);
        }
        next += run.in_flight;
    }
    figures.wall += started.elapsed();
    figures.cpu_secs += (cpu_ticks(child.id()) - cpu_before) as f64 / clock_ticks_per_sec();
    if which == Which::Full && run.clicks.is_empty() {
        seen_clicks.sort();
        run.clicks = seen_clicks.into_iter().map(|(_, c)| c).collect();
    }
    // After the timed loop, validated again: one more consultation must be clean.
    fake.set_validation(true);
    consultation(&fake, &FakeUser::new(2, "check"), 1, clicks_for(run, 1), false).await;
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let violations = fake.violations().await;
    assert!(violations.is_empty(), "payload violations: {violations:?}");
}

fn main() {
    if let Some(i) = std::env::args().position(|a| a == "--bare-bot") {
        let base = std::env::args().nth(i + 1).expect("--bare-bot <fake base url>");
        bare::run(&base);
        return;
    }
    let consultations = arg("--consultations", 100);
    let in_flight = arg("--in-flight", 1).max(1);
    let rounds = arg("--rounds", 2).max(1);
    let forget = flag("--forget");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let mut run = Run {
            consultations,
            in_flight,
            forget,
            clicks: Vec::new(),
        };
        let (mut bare, mut full, mut serve) = (Figures::default(), Figures::default(), Figures::default());
        for round in 0..rounds {
            // The full bot first in round 0: it decides how many clicks each consultation has.
            if round == 0 {
                measure(Which::Full, &mut run, round, dir.path(), &mut full).await;
                measure(Which::Bare, &mut run, round, dir.path(), &mut bare).await;
            } else {
                measure(Which::Bare, &mut run, round, dir.path(), &mut bare).await;
                measure(Which::Full, &mut run, round, dir.path(), &mut full).await;
            }
        }
        let sync = fdatasync_median(dir.path(), 200);
        if flag("--serve") {
            measure(Which::Serve, &mut run, rounds, dir.path(), &mut serve).await;
        }
        for f in [&mut bare, &mut full, &mut serve] {
            f.sorted();
        }
        println!(
            "interaction_latency: {consultations} consultations x {rounds} rounds per bot, {in_flight} in flight, \
             each bot in its own process"
        );
        println!("  {}", bare.line("bare"));
        println!("  {}", full.line("full"));
        if flag("--serve") {
            println!("  {}", serve.line("serve"));
        }
        let (full_all, bare_all) = (full.all(), bare.all());
        let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-12);
        println!("  fdatasync median {:.3} ms (4 KiB writes on the data directory's disk)", ms(sync));
        println!(
            "  full/bare: command median {:.2}x   click median {:.2}x   p99 {:.2}x   CPU/interaction {:.2}x",
            ratio(percentile(&full.commands, 0.5), percentile(&bare.commands, 0.5)),
            ratio(percentile(&full.clicks, 0.5), percentile(&bare.clicks, 0.5)),
            ratio(percentile(&full_all, 0.99), percentile(&bare_all, 0.99)),
            full.cpu_us_per_interaction() / bare.cpu_us_per_interaction().max(1e-9),
        );
        let click_budget = percentile(&bare.clicks, 0.5) + sync * 2;
        println!(
            "  targets: command <= 1.3x bare: {}; click median {:.3} ms <= bare + 2 fdatasync = {:.3} ms: {}; \
             p99 {:.3} ms <= 2x median {:.3} ms: {}",
            ratio(percentile(&full.commands, 0.5), percentile(&bare.commands, 0.5)) <= 1.3,
            ms(percentile(&full.clicks, 0.5)),
            ms(click_budget),
            percentile(&full.clicks, 0.5) <= click_budget,
            ms(percentile(&full_all, 0.99)),
            ms(percentile(&full_all, 0.5)),
            percentile(&full_all, 0.99) <= percentile(&full_all, 0.5) * 2,
        );
        if flag("--serve") {
            println!(
                "  serve (1 instance): {:.0} interactions/s at {in_flight} in flight; two instances need the PostgreSQL backend",
                serve.interactions as f64 / serve.wall.as_secs_f64().max(1e-9)
            );
        }
    });
}

/// The baseline: a bare serenity bot, with the same client set-up as framework-advisor (the
/// fake as API base, serenity's limiter off), the same command definitions registered at
/// READY, and a fixed answer to everything: no store, no logic.
mod bare {
    use super::*;
    use serenity::all::{
        ButtonStyle, ClientBuilder, Context, CreateActionRow, CreateAllowedMentions, CreateAutocompleteResponse,
        CreateButton, CreateEmbed, CreateInteractionResponse, CreateInteractionResponseMessage, EventHandler,
        GatewayIntents, GuildId, Http, HttpBuilder, Interaction, Ready,
    };
    use serenity::async_trait;

    struct Bare {
        http: Arc<Http>,
        commands: Vec<serenity::all::CreateCommand>,
        synced: AtomicBool,
    }

    fn message() -> CreateInteractionResponseMessage {
        let buttons = ["one", "two", "three"]
            .iter()
            .map(|o| {
                CreateButton::new(format!("fa1:c:bare:1:a:{o}"))
                    .label(*o)
                    .style(ButtonStyle::Secondary)
            })
            .collect();
        CreateInteractionResponseMessage::new()
            .embed(
                CreateEmbed::new()
                    .title("A question")
                    .description("Step 1 of 12\nWhich option fits your project best?")
                    .colour(0x2b_7a_78),
            )
            .components(vec![CreateActionRow::Buttons(buttons)])
            .allowed_mentions(CreateAllowedMentions::new())
            .ephemeral(true)
    }

    #[async_trait]
    impl EventHandler for Bare {
        async fn ready(&self, ctx: Context, ready: Ready) {
            if ctx.http.application_id().is_none() {
                ctx.http.set_application_id(ready.application.id);
            }
            if self.http.application_id().is_none() {
                self.http.set_application_id(ready.application.id);
            }
            if !self.synced.swap(true, Ordering::SeqCst) {
                let _ = GuildId::new(FakeDiscord::GUILD_ID)
                    .set_commands(&ctx.http, self.commands.clone())
                    .await;
            }
        }

        async fn interaction_create(&self, _ctx: Context, interaction: Interaction) {
            let (response, id, token) = match &interaction {
                Interaction::Command(c) => (CreateInteractionResponse::Message(message()), c.id, &c.token),
                Interaction::Component(c) => (CreateInteractionResponse::UpdateMessage(message()), c.id, &c.token),
                Interaction::Autocomplete(c) => (
                    CreateInteractionResponse::Autocomplete(CreateAutocompleteResponse::new()),
                    c.id,
                    &c.token,
                ),
                _ => return,
            };
            use serenity::all::Builder;
            if let Err(e) = response.execute(self.http.as_ref(), (id, token)).await {
                eprintln!("bare bot: answering failed: {e}");
            }
        }
    }

    pub fn run(base: &str) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let content = framework_advisor::content::Content::load(&support::bot::responses_dir()).expect("content");
            let commands = framework_advisor::discord::commands::definitions(&content.knowledge.messages.commands);
            let build = || {
                HttpBuilder::new(FakeDiscord::TOKEN)
                    .proxy(base)
                    .ratelimiter_disabled(true)
                    .build()
            };
            let handler = Bare {
                http: Arc::new(build()),
                commands,
                synced: AtomicBool::new(false),
            };
            let mut client = ClientBuilder::new_with_http(build(), GatewayIntents::empty())
                .event_handler(handler)
                .await
                .expect("client");
            if let Err(e) = client.start().await {
                eprintln!("bare bot: {e}");
            }
        });
    }
}
