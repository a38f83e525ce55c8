//! Interaction latency over whole consultations, beside a baseline measured in the same run:
//! the time from the fake Discord sending an interaction to the user seeing the bot's answer
//! (its callback, or, when the callback only acknowledges, the edit or follow-up that carries
//! the result), with the real serenity client, the real store (a durable write per answer) and
//! the real content.
//!
//! Process layout: the fake Discord runs in this process; each bot in a process of its own:
//! framework-advisor (the release binary, `run`), and a **bare serenity bot** (this bench
//! binary re-executed with `--bare-bot`) that answers every command with a fixed embed and
//! buttons and every click by updating the message the same way: no store, no logic. Runs
//! alternate (bare, full, bare, full...) so drift on a shared machine hits both alike. The
//! report gives each bot's command and click medians, p99, interactions per second, and CPU
//! time per interaction (the bot processes' user + system time from `/proc/PID/stat` over the
//! timed loop, divided by the interactions they answered), the full bot's figures as ratios to
//! the bare bot's, and the median `fdatasync` of a 4 KiB write on the data directory's disk,
//! measured in the same run.
//!
//! `--in-flight K` keeps K consultations going at all times (a new one starts as soon as one
//! ends), so interactions per second is the throughput at that concurrency.
//!
//! The fake validates what the bots send during warm-up and after the timed loop, not inside
//! it (it shares the machine's cores with the bots).
//!
//! `cargo bench --bench interaction_latency -- [--consultations N] [--in-flight K] [--rounds R]
//! [--serve] [--serve-postgres] [--forget]`.
//!
//! - `--serve` adds `serve` (the HTTP interactions endpoint, one instance, sled): the same
//!   fake signs and POSTs the same consultations.
//! - `--serve-postgres` (implies `--serve`) also starts a throwaway PostgreSQL cluster
//!   (`tests/support/pg.rs`; as root its server runs as `nobody`) and adds `serve` on it with
//!   one instance, and with two instances on one database, the fake sending each interaction to
//!   the next instance in turn, so the clicks of one consultation alternate between them (what
//!   a load balancer does). Each measurement gets a fresh database. The PostgreSQL server's CPU
//!   time (postmaster and backends) is reported beside the instances'. Each `serve` line's
//!   clicks per consultation are compared with the gateway bot's: the same answers must take
//!   the same path whichever instance takes each click. The instances' WARN/ERROR log lines are
//!   counted and reported.
//!
//! Every `serve` variant runs in every round, after the bare and full bots.

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use support::bot::{answer_for, is_recommendation, WAIT};
use support::http_sender::HttpSender;
use support::pg::PgCluster;
use support::process::{spawn_bot, wait_identified, write_config};
use support::serve::{spawn_serve_watched, ServeLog};
use support::{FakeDiscord, FakeUser};

const BIN: &str = env!("CARGO_BIN_EXE_framework-advisor");

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

/// Waits until the user sees the result of interaction `iid`, whose callback was `body`: at
/// once when the callback carries the answer; after an acknowledgement (5: deferred message,
/// 6: deferred update), until the bot's edit or follow-up with the interaction's token arrives.
/// Over HTTP a result with a chart (the recommendation) always comes that way, the endpoint's
/// answer being JSON only; timing only the acknowledgement would flatter `serve`, and clicking
/// on before the edit lands would click the previous question again.
async fn wait_result(fake: &FakeDiscord, iid: u64, body: &Value) {
    if !matches!(body["type"].as_u64(), Some(5 | 6)) {
        return;
    }
    // The token is in the recorded callback's path: `/api/v10/interactions/{id}/{token}/callback`.
    let prefix = format!("/api/v10/interactions/{iid}/");
    let callback = fake
        .wait_requests(|r| r.path.starts_with(&prefix), WAIT)
        .await
        .expect("the acknowledgement is recorded");
    let token = callback.path[prefix.len()..]
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    fake.wait_requests(
        |r| r.path.starts_with("/api/v10/webhooks/") && r.path.contains(&token) && (200..300).contains(&r.status),
        WAIT,
    )
    .await
    .expect("the acknowledged result arrives");
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
    let body = fake.wait_callback(iid, WAIT).await.expect("start answered");
    wait_result(fake, iid, &body).await;
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
        let body = fake.wait_callback(cid, WAIT).await.expect("click answered");
        wait_result(fake, cid, &body).await;
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

/// The fields of `/proc/PID/stat` after the process name (field 3, the state, first); empty
/// when the process is gone.
fn proc_stat(pid: u32) -> Vec<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
    after_name.split_whitespace().map(str::to_string).collect()
}

/// Field `n` (1-based, as in proc(5)) of [`proc_stat`]'s fields, as a number.
fn stat_field(fields: &[String], n: usize) -> u64 {
    fields.get(n - 3).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// User + system CPU time of a process so far (Linux `/proc/PID/stat`, in clock ticks).
fn cpu_ticks(pid: u32) -> u64 {
    let fields = proc_stat(pid);
    // utime is field 14, stime 15.
    stat_field(&fields, 14) + stat_field(&fields, 15)
}

/// CPU time of the PostgreSQL server so far, in clock ticks: the postmaster's own and that of
/// its children that ended (cutime, cstime), plus its live children's (the backends serving
/// the instances' connections, the WAL writer, the checkpointer...). The difference over the
/// timed loop is the database's share of the work.
fn pg_cpu_ticks(cluster: &PgCluster) -> u64 {
    let pid_file = cluster.dir().join("data").join("postmaster.pid");
    let Some(postmaster) = std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.trim().parse::<u32>().ok()))
    else {
        return 0;
    };
    let own = proc_stat(postmaster);
    // utime, stime, cutime, cstime are fields 14 to 17.
    let mut total: u64 = (14..=17).map(|n| stat_field(&own, n)).sum();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let fields = proc_stat(pid);
        // The parent's pid is field 4.
        if stat_field(&fields, 4) == u64::from(postmaster) {
            total += stat_field(&fields, 14) + stat_field(&fields, 15);
        }
    }
    total
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
    /// The bot's processes (both instances for two).
    cpu_secs: f64,
    /// The PostgreSQL server's, for the variants on PostgreSQL.
    db_cpu_secs: f64,
    interactions: usize,
    wall: Duration,
    /// Consultations compared with the gateway bot's first round, and how many of them took a
    /// different number of clicks (same seed, same answers: it should be none).
    compared: usize,
    other_path: usize,
    /// WARN and ERROR lines the `serve` instances logged, and the first few of them.
    warnings: usize,
    errors: usize,
    first_log: Vec<String>,
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

    fn db_cpu_us_per_interaction(&self) -> f64 {
        self.db_cpu_secs * 1e6 / self.interactions.max(1) as f64
    }

    fn per_second(&self) -> f64 {
        self.interactions as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// The figures in one line, the name padded to `width`.
    fn line(&self, name: &str, width: usize) -> String {
        let all = self.all();
        let db = if self.db_cpu_secs > 0.0 {
            format!(
                " + PostgreSQL CPU {:.0} us/interaction",
                self.db_cpu_us_per_interaction()
            )
        } else {
            String::new()
        };
        format!(
            "{name:<width$} command median {:.3} ms   click median {:.3} ms   p90 {:.3} ms   p99 {:.3} ms   max {:.3} ms   \
             CPU {:.0} us/interaction{db}   ({} interactions, {:.0}/s)",
            ms(percentile(&self.commands, 0.5)),
            ms(percentile(&self.clicks, 0.5)),
            ms(percentile(&all, 0.9)),
            ms(percentile(&all, 0.99)),
            ms(all.last().copied().unwrap_or_default()),
            self.cpu_us_per_interaction(),
            self.interactions,
            self.per_second(),
        )
    }
}

/// Which bot a run measures.
#[derive(Clone, Copy, PartialEq)]
enum Which {
    Bare,
    Full,
    /// `serve`, one instance, sled.
    Serve,
    /// `serve`, one instance, PostgreSQL.
    ServePg,
    /// `serve`, two instances on one PostgreSQL database, interactions alternating.
    ServePg2,
}

impl Which {
    fn label(self) -> &'static str {
        match self {
            Which::Bare => "bare",
            Which::Full => "full",
            Which::Serve => "serve",
            Which::ServePg => "serve-pg",
            Which::ServePg2 => "serve-pg-2",
        }
    }

    fn instances(self) -> usize {
        if self == Which::ServePg2 {
            2
        } else {
            1
        }
    }

    fn postgres(self) -> bool {
        matches!(self, Which::ServePg | Which::ServePg2)
    }
}

struct Run {
    consultations: usize,
    in_flight: usize,
    forget: bool,
    /// Clicks per consultation seed, from the full bot's runs (the bare bot makes as many).
    clicks: Vec<usize>,
}

/// Starts the bot (its instances), warms up, runs the timed loop, stops the bot; adds to
/// `figures`. `pg` is the cluster for the PostgreSQL variants.
async fn measure(
    which: Which,
    run: &mut Run,
    round: usize,
    dir: &std::path::Path,
    pg: Option<&PgCluster>,
    figures: &mut Figures,
) {
    let fake = FakeDiscord::start().await;
    let data = dir.join(format!("round{round}-{}", which.label()));
    std::fs::create_dir_all(&data).unwrap();
    let config = write_config(&fake, &data, "");
    let mut logs: Vec<Arc<ServeLog>> = Vec::new();
    let mut children: Vec<Child> = match which {
        Which::Bare => {
            let child = std::process::Command::new(std::env::current_exe().expect("this bench's path"))
                .args(["--bare-bot", &fake.base_url()])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::inherit())
                .spawn()
                .expect("the bare bot starts");
            wait_identified(&fake, 1).await;
            vec![child]
        }
        Which::Full => {
            let child = spawn_bot(BIN, &config, "warn", false);
            wait_identified(&fake, 1).await;
            vec![child]
        }
        Which::Serve | Which::ServePg | Which::ServePg2 => {
            // A fresh database per measurement, as the sled variant gets a fresh directory.
            let url = which
                .postgres()
                .then(|| pg.expect("--serve-postgres starts a cluster").database());
            let env: Vec<(&str, &str)> = match &url {
                Some(url) => vec![("FA_STORAGE__BACKEND", "postgres"), ("FA_STORAGE__URL", url)],
                None => Vec::new(),
            };
            let mut children = Vec::new();
            let mut senders = Vec::new();
            // One after the other: the first has created the schema before the second starts.
            for i in 0..which.instances() {
                // Each its own config and sled path (unused on PostgreSQL), as separate hosts.
                let own = data.join(format!("instance{i}"));
                std::fs::create_dir_all(&own).unwrap();
                let config = write_config(&fake, &own, "");
                let (child, addr, log) = spawn_serve_watched(BIN, &config, &env);
                children.push(child);
                senders.push(HttpSender::new(&addr.to_string()));
                logs.push(log);
            }
            // In turn per interaction, so the clicks of one consultation alternate instances.
            fake.send_over_http_to_each(senders);
            children
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
    let cpu = |children: &[Child]| children.iter().map(|c| cpu_ticks(c.id())).sum::<u64>();
    let db_cpu = || pg.filter(|_| which.postgres()).map_or(0, pg_cpu_ticks);
    let (cpu_before, db_before) = (cpu(&children), db_cpu());
    let started = Instant::now();
    // K workers, each starting the next consultation as soon as its previous one ends: K in
    // flight throughout, so the rate is the throughput at K (batches of K would idle at each
    // batch's tail).
    let plan: Arc<Vec<Option<usize>>> = Arc::new((0..run.consultations).map(|n| clicks_for(run, n)).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..run.in_flight.min(run.consultations))
        .map(|_| {
            let (fake, plan, next) = (fake.clone(), plan.clone(), next.clone());
            let forget = run.forget;
            tokio::spawn(async move {
                let mut done = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&clicks) = plan.get(n) else {
                        return done;
                    };
                    let user = FakeUser::new(10_000 + (round * 1_000_000 + n) as u64, &format!("user{n}"));
                    done.push((n, consultation(&fake, &user, n, clicks, forget).await));
                }
            })
        })
        .collect();
    let mut seen_clicks = Vec::new();
    for w in workers {
        for (n, samples) in w.await.expect("a consultation worker") {
            seen_clicks.push((n, samples.len() - 1));
            figures.add(&samples);
        }
    }
    figures.wall += started.elapsed();
    let ticks = clock_ticks_per_sec();
    figures.cpu_secs += cpu(&children).saturating_sub(cpu_before) as f64 / ticks;
    figures.db_cpu_secs += db_cpu().saturating_sub(db_before) as f64 / ticks;
    seen_clicks.sort();
    if which == Which::Full && run.clicks.is_empty() {
        run.clicks = seen_clicks.into_iter().map(|(_, c)| c).collect();
    } else if which != Which::Bare {
        figures.compared += seen_clicks.len();
        figures.other_path += seen_clicks
            .iter()
            .filter(|(n, c)| run.clicks.get(*n) != Some(c))
            .count();
    }
    // After the timed loop, validated again: one more consultation must be clean.
    fake.set_validation(true);
    consultation(&fake, &FakeUser::new(2, "check"), 1, clicks_for(run, 1), false).await;
    for child in &mut children {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = child.wait();
    }
    for log in &logs {
        figures.warnings += log.warnings.load(Ordering::Relaxed);
        figures.errors += log.errors.load(Ordering::Relaxed);
        let first = log.first.lock().unwrap_or_else(|p| p.into_inner());
        let room = 5usize.saturating_sub(figures.first_log.len());
        figures.first_log.extend(first.iter().take(room).cloned());
    }
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
    let postgres = flag("--serve-postgres");
    let serve = flag("--serve") || postgres;
    // Before the runtime: starting the cluster blocks (initdb, then waiting for connections).
    // Dropped at the end of the run, which stops the server and deletes its directory.
    let pg = postgres.then(PgCluster::start);
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
        let mut serves = Vec::new();
        if serve {
            serves.push(Which::Serve);
        }
        if postgres {
            serves.extend([Which::ServePg, Which::ServePg2]);
        }
        let (mut bare, mut full) = (Figures::default(), Figures::default());
        let mut serve_figures: Vec<Figures> = serves.iter().map(|_| Figures::default()).collect();
        for round in 0..rounds {
            // The full bot first in round 0: it decides how many clicks each consultation has.
            if round == 0 {
                measure(Which::Full, &mut run, round, dir.path(), pg.as_ref(), &mut full).await;
                measure(Which::Bare, &mut run, round, dir.path(), pg.as_ref(), &mut bare).await;
            } else {
                measure(Which::Bare, &mut run, round, dir.path(), pg.as_ref(), &mut bare).await;
                measure(Which::Full, &mut run, round, dir.path(), pg.as_ref(), &mut full).await;
            }
            // The `serve` variants in every round, in reverse order every other round, so drift
            // on a shared machine does not favour one of them.
            let mut order: Vec<usize> = (0..serves.len()).collect();
            if round % 2 == 1 {
                order.reverse();
            }
            for i in order {
                measure(
                    serves[i],
                    &mut run,
                    round,
                    dir.path(),
                    pg.as_ref(),
                    &mut serve_figures[i],
                )
                .await;
            }
        }
        let sync = fdatasync_median(dir.path(), 200);
        for f in [&mut bare, &mut full].into_iter().chain(serve_figures.iter_mut()) {
            f.sorted();
        }
        println!(
            "interaction_latency: {consultations} consultations x {rounds} rounds per bot, {in_flight} in flight, \
             each bot in its own process"
        );
        // The names' column as wide as the longest (6 without the PostgreSQL variants, as before).
        let width = serves.iter().map(|w| w.label().len()).max().unwrap_or(0).max(6);
        println!("  {}", bare.line("bare", width));
        println!("  {}", full.line("full", width));
        for (which, f) in serves.iter().zip(&serve_figures) {
            println!("  {}", f.line(which.label(), width));
        }
        let (full_all, bare_all) = (full.all(), bare.all());
        let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-12);
        println!(
            "  fdatasync median {:.3} ms (4 KiB writes on the data directory's disk)",
            ms(sync)
        );
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
        if !serve {
            return;
        }
        for (which, f) in serves.iter().zip(&serve_figures) {
            let all = f.all();
            println!(
                "  {}/bare: command median {:.2}x   click median {:.2}x   p99 {:.2}x   CPU/interaction {:.2}x{}   \
                 interactions/s {:.2}x",
                which.label(),
                ratio(percentile(&f.commands, 0.5), percentile(&bare.commands, 0.5)),
                ratio(percentile(&f.clicks, 0.5), percentile(&bare.clicks, 0.5)),
                ratio(percentile(&all, 0.99), percentile(&bare_all, 0.99)),
                (f.cpu_us_per_interaction() + f.db_cpu_us_per_interaction()) / bare.cpu_us_per_interaction().max(1e-9),
                if which.postgres() {
                    " (instances + PostgreSQL)"
                } else {
                    ""
                },
                f.per_second() / bare.per_second().max(1e-9),
            );
        }
        let rate = |w: Which| {
            serves
                .iter()
                .position(|s| *s == w)
                .map_or(0.0, |i| serve_figures[i].per_second())
        };
        if postgres {
            println!(
                "  serve (1 instance): {:.0} interactions/s at {in_flight} in flight; PostgreSQL: 1 instance {:.0}/s, \
                 2 instances {:.0}/s (2 instances / 1 = {:.2}x)",
                rate(Which::Serve),
                rate(Which::ServePg),
                rate(Which::ServePg2),
                rate(Which::ServePg2) / rate(Which::ServePg).max(1e-9),
            );
        } else {
            println!(
                "  serve (1 instance): {:.0} interactions/s at {in_flight} in flight; two instances: --serve-postgres",
                rate(Which::Serve)
            );
        }
        // Convergence: whichever instance takes each click, the same answers take the same path.
        let paths: Vec<String> = serves
            .iter()
            .zip(&serve_figures)
            .map(|(w, f)| format!("{} {}/{}", w.label(), f.compared - f.other_path, f.compared))
            .collect();
        let logs: Vec<String> = serves
            .iter()
            .zip(&serve_figures)
            .map(|(w, f)| format!("{} {} WARN {} ERROR", w.label(), f.warnings, f.errors))
            .collect();
        println!(
            "  serve consultations with the gateway bot's clicks: {}; instances logged: {}",
            paths.join(", "),
            logs.join(", ")
        );
        for (which, f) in serves.iter().zip(&serve_figures) {
            for line in &f.first_log {
                println!("    {}: {line}", which.label());
            }
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
