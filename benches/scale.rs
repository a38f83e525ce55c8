//! The store at scale: one million consultations (a load tool, not a
//! criterion bench).
//!
//! `cargo bench --bench scale -- --sessions N [--owners M] [--no-postgres]`
//! (default N = 1,000,000, M = N / 10). For N and for 1,000 sessions, a child
//! process fills a sled store with a realistic mix (70 % completed and 15 %
//! cancelled private consultations, 8 % active private ones, 5 % completed
//! and 2 % active team ones; 90 % touched within their TTL, 10 % past it)
//! through the store's own rules, syncs, and is killed with SIGKILL. A second
//! child then reopens it (the reopen time after `kill -9`) with the default
//! configuration and measures: a durable consultation step (an answer or a
//! back on an active session, each synced before returning), the process's
//! peak RSS (and where it was reached: after the open, after the steps),
//! `stats`, one forced reopen of sled in place (`resnapshot_ms`: what every
//! interaction waits while the store refreshes sled's recovery snapshot),
//! and steps while another thread sweeps the expired 10 %.
//! Disk bytes per consultation are the store's allocated blocks over N.
//!
//! `SCALE_DIR=DIR` puts the stores under DIR (default: the temp directory);
//! `SCALE_KEEP=DIR` keeps a copy of each killed store there, to try reopens
//! by hand with `scale --child-measure <copy>`; `sync` after copying one, or
//! the open waits for the copy's writeback. `SCALE_CACHE_MIB=M` gives
//! the measuring child a sled cache of M MiB instead of the default (for
//! trying sizes against the RSS and step figures; the summary's figures are
//! the default's only without it). `SCALE_DURABILITY=process|power` does
//! the same for `[storage] durability`.
//!
//! Then, in this process, the same durable step on sled and on a throwaway
//! PostgreSQL server (tests/support/pg.rs), 1,000 sessions each, and the
//! optimistic-transaction retries with 50 steps in flight on each backend.
//!
//! The last line is the summary:
//! `scale: sessions=N step_1k_median_us=… step_median_us=… step_p99_us=… rss_mib=… reopen_ms=… bytes_per_session=… stats_ms=… sweep_step_p99_us=…`

/// The bot's allocator (the default `mimalloc` feature), so the RSS figures
/// are the bot's: the store's memory depends on it.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[allow(dead_code)]
#[path = "../tests/support/pg.rs"]
mod pg;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use framework_advisor::content::Content;
use framework_advisor::domain::questionnaire::Questionnaire;
use framework_advisor::domain::session::{Command as Cmd, Session, Status, PRIVATE_SCOPE};
use framework_advisor::storage::rules;
use framework_advisor::storage::{
    Backend, Durability, PgOptions, PgStore, SessionStore, SledOptions, SledStore, Store,
};

const NOW: i64 = 1_800_000_000;
const TTL: i64 = 30 * 24 * 3600;
const TEAM_TTL: i64 = 24 * 3600;
/// Active sessions the steps rotate over.
const STEP_SESSIONS: usize = 200;
const STEPS: usize = 2000;

fn questionnaire() -> Questionnaire {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("responses");
    Content::load(&dir).expect("responses load").questionnaire
}

fn first_choice(q: &Questionnaire, s: &Session) -> Option<Cmd> {
    let current = s.current.clone()?;
    let question = q.question(&current)?;
    let (min, _) = question.choice_bounds();
    Some(Cmd::Answer {
        question: current,
        options: question.options.iter().take(min.max(1)).map(|o| o.id.clone()).collect(),
    })
}

/// Small deterministic generator (xorshift), so runs fill the same store.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

struct Templates {
    completed: Session,
    cancelled: Session,
    active: Session,
    team_completed: Session,
    team_active: Session,
}

fn templates(q: &Questionnaire) -> Templates {
    let base = Session::start(q, "t".into(), "o".into(), PRIVATE_SCOPE.into(), 0);
    let mut completed = base.clone();
    while let Some(c) = first_choice(q, &completed) {
        if completed.apply(q, c, 0).is_err() {
            break;
        }
    }
    completed.outcome = Some("django".into());
    let mut active = base.clone();
    for _ in 0..2 {
        if let Some(c) = first_choice(q, &active) {
            let _ = active.apply(q, c, 0);
        }
    }
    let mut cancelled = active.clone();
    let _ = cancelled.apply(q, Cmd::Cancel, 0);
    let mut team_active = Session::start_team(q, "t".into(), "o".into(), "team:0".into(), 0, 0);
    let question = team_active.current.clone().unwrap_or_default();
    let option = q
        .question(&question)
        .and_then(|x| x.options.first())
        .map(|o| o.id.clone())
        .unwrap_or_default();
    if let Some(team) = team_active.team.as_mut() {
        for v in 0..5 {
            let voter = format!("discord:{v}");
            team.vote(&question, &voter, &voter, vec![option.clone()]);
        }
    }
    let mut team_completed = team_active.clone();
    team_completed.status = Status::Completed;
    team_completed.outcome = Some("flask".into());
    Templates {
        completed,
        cancelled,
        active,
        team_completed,
        team_active,
    }
}

/// Session `i` of the mix. Active private sessions get owners of their own
/// (one active per owner and scope); the rest spread over `owners`.
fn session_of(t: &Templates, i: u64, owners: u64, rng: &mut Rng) -> Session {
    let pick = rng.below(100);
    let mut s = match pick {
        0..=69 => t.completed.clone(),
        70..=84 => t.cancelled.clone(),
        85..=92 => t.active.clone(),
        93..=97 => t.team_completed.clone(),
        _ => t.team_active.clone(),
    };
    s.id = format!("{:016x}", rng.next());
    s.owner = format!("discord:{}", if pick >= 85 { i } else { rng.below(owners) });
    if s.team.is_some() {
        s.scope = format!("team:{i}");
    }
    let ttl = if s.team.is_some() { TEAM_TTL } else { TTL };
    // 10 % past their TTL (the sweep's work), the rest within it.
    s.updated_at = if rng.below(10) == 0 {
        NOW - ttl - 1 - rng.below(ttl as u64) as i64
    } else {
        NOW - rng.below(ttl as u64 - 60) as i64
    };
    s.created_at = s.updated_at - 600;
    s
}

/// Stores `n` sessions through the store's rules (one commit each, one sync
/// at the end: a bulk load, not the click path being measured).
fn fill<B: Backend>(store: &Store<B>, q: &Questionnaire, n: u64, owners: u64) {
    let t = templates(q);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..n {
        let s = session_of(&t, i, owners, &mut rng);
        let ws = rules::plan_start(&s, None);
        store.backend().commit(&ws).expect("commit");
        if i % 100_000 == 99_999 {
            eprintln!("filled {}", i + 1);
        }
    }
    store.flush().expect("sync");
}

/// Active private sessions to step on, created now (fresh, not expired).
fn step_sessions(store: &dyn SessionStore, q: &Questionnaire, count: usize, tag: &str) -> Vec<String> {
    (0..count)
        .map(|i| {
            let s = Session::start(
                q,
                format!("step-{tag}-{i}"),
                format!("bench:{tag}:{i}"),
                PRIVATE_SCOPE.into(),
                NOW,
            );
            store.start(s.clone()).expect("start");
            s.id
        })
        .collect()
}

/// One durable consultation step: an answer, or back when the session is
/// past its first question (so sessions stay mid-way forever).
fn step(store: &dyn SessionStore, q: &Questionnaire, id: &str) {
    store
        .update(id, &mut |s| {
            if s.answers.len() >= 2 {
                s.apply(q, Cmd::Back, NOW)
            } else {
                match first_choice(q, s) {
                    Some(c) => s.apply(q, c, NOW),
                    None => s.apply(q, Cmd::Back, NOW),
                }
            }
        })
        .expect("store ok")
        .expect("exists")
        .expect("step accepted");
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn measure_steps(store: &dyn SessionStore, q: &Questionnaire, ids: &[String], steps: usize) -> (u64, u64) {
    let mut us: Vec<u64> = (0..steps)
        .map(|i| {
            let t = Instant::now();
            step(store, q, &ids[i % ids.len()]);
            t.elapsed().as_micros() as u64
        })
        .collect();
    us.sort_unstable();
    (percentile(&us, 0.5), percentile(&us, 0.99))
}

/// Steps with `in_flight` threads at once (each on sessions of its own);
/// returns the store's retries during them.
fn retries_in_flight(store: Arc<dyn SessionStore>, q: Arc<Questionnaire>, in_flight: usize, tag: &str) -> u64 {
    let ids: Vec<Vec<String>> = (0..in_flight)
        .map(|t| step_sessions(&*store, &q, 2, &format!("{tag}-f{t}")))
        .collect();
    let before = store.tx_retries();
    let barrier = Arc::new(Barrier::new(in_flight));
    let handles: Vec<_> = ids
        .into_iter()
        .map(|mine| {
            let (store, q, barrier) = (store.clone(), q.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                for i in 0..20 {
                    step(&*store, &q, &mine[i % mine.len()]);
                }
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().expect("stepper"));
    store.tx_retries() - before
}

/// A `/proc/self/status` figure in MiB: `VmHWM` (peak RSS) or `VmRSS` (now).
fn status_mib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.strip_prefix(field).is_some_and(|rest| rest.starts_with(':')))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|k| k.parse::<u64>().ok()))
        })
        .map_or(0, |kib| kib / 1024)
}

fn vm_hwm_mib() -> u64 {
    status_mib("VmHWM")
}

fn allocated_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else {
                total += m.blocks() * 512;
            }
        }
    }
    total
}

/// Child: fill, sync, say so, then wait to be killed.
/// The store's own log lines (its open, and each reopen of sled in place
/// with what it cost) on stderr.
fn store_logs() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter("framework_advisor=info")
        .with_target(false)
        .with_ansi(false)
        .init();
}

fn child_fill(dir: &Path, n: u64, owners: u64) {
    store_logs();
    let q = questionnaire();
    let store = SledStore::open(dir).expect("open");
    fill(&store, &q, n, owners);
    println!("filled");
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

/// Child: reopen after the kill and measure; prints one `measure:` line.
fn child_measure(dir: &Path) {
    store_logs();
    let q = questionnaire();
    let mut options = SledOptions::default();
    if let Ok(mib) = std::env::var("SCALE_CACHE_MIB") {
        // A typo must not quietly measure the default instead.
        let mib: u64 = mib.parse().expect("SCALE_CACHE_MIB: a whole number of MiB");
        options.cache_capacity = mib * 1024 * 1024;
    }
    if let Ok(durability) = std::env::var("SCALE_DURABILITY") {
        options.durability = match durability.as_str() {
            "process" => Durability::Process,
            "power" => Durability::Power,
            other => panic!("SCALE_DURABILITY: process or power, not {other:?}"),
        };
    }
    let t = Instant::now();
    let store = SledStore::open_with(dir, options).expect("reopen after kill -9");
    let reopen_ms = t.elapsed().as_millis();
    // Where the peak comes from: the open, the steps, or the sweep.
    let (rss_open, hwm_open) = (status_mib("VmRSS"), vm_hwm_mib());
    let ids = step_sessions(&store, &q, STEP_SESSIONS, "m");
    let (median, p99) = measure_steps(&store, &q, &ids, STEPS);
    let hwm_steps = vm_hwm_mib();
    let mut stats_us: Vec<u64> = (0..21)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(store.stats().expect("stats"));
            t.elapsed().as_micros() as u64
        })
        .collect();
    stats_us.sort_unstable();
    // What every read and write waits for when the store reopens sled to
    // refresh its recovery snapshot (the checkpoint thread does it by itself
    // after enough changes; here it is forced once, at this size).
    let t = Instant::now();
    store.resnapshot().expect("reopen in place");
    let resnapshot_ms = t.elapsed().as_millis();
    let hwm_resnapshot = vm_hwm_mib();
    // Steps while another thread sweeps the expired 10 %.
    let store = Arc::new(store);
    let done = Arc::new(AtomicBool::new(false));
    let sweeper = {
        let (store, done) = (store.clone(), done.clone());
        std::thread::spawn(move || {
            let t = Instant::now();
            let swept = store.sweep_expired(NOW, TTL, TEAM_TTL).expect("sweep");
            done.store(true, Ordering::SeqCst);
            (swept.len(), t.elapsed().as_millis())
        })
    };
    let mut during: Vec<u64> = Vec::new();
    let mut i = 0;
    while !done.load(Ordering::SeqCst) {
        let t = Instant::now();
        step(&*store, &q, &ids[i % ids.len()]);
        during.push(t.elapsed().as_micros() as u64);
        i += 1;
    }
    let (swept_active, sweep_ms) = sweeper.join().expect("sweeper");
    during.sort_unstable();
    let stats = store.stats().expect("stats");
    println!(
        "measure: reopen_ms={reopen_ms} step_median_us={median} step_p99_us={p99} stats_us={} rss_mib={} \
         rss_after_open_mib={rss_open} hwm_after_open_mib={hwm_open} hwm_after_steps_mib={hwm_steps} resnapshot_ms={resnapshot_ms} hwm_after_resnapshot_mib={hwm_resnapshot} \
         sweep_ms={sweep_ms} swept_active={swept_active} sweep_steps={} sweep_step_median_us={} sweep_step_p99_us={} active_after={}",
        percentile(&stats_us, 0.5),
        vm_hwm_mib(),
        during.len(),
        percentile(&during, 0.5),
        percentile(&during, 0.99),
        stats.active,
    );
}

fn field(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{key} missing in {line:?}"))
}

/// Fills a store of `n` sessions in a child, kills it, measures in another.
fn phase(n: u64, owners: u64) -> (String, u64) {
    let exe = std::env::current_exe().expect("own path");
    let dir = tempfile::Builder::new()
        .prefix("fa-scale-")
        .tempdir_in(std::env::var_os("SCALE_DIR").map_or_else(std::env::temp_dir, PathBuf::from))
        .expect("tempdir");
    let data = dir.path().join("data");
    let t = Instant::now();
    let mut filler = Command::new(&exe)
        .args([
            "--child-fill",
            &data.display().to_string(),
            &n.to_string(),
            &owners.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("fill child");
    let mut line = String::new();
    BufReader::new(filler.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("fill output");
    assert_eq!(line.trim(), "filled");
    eprintln!("scale: filled {n} sessions in {:.1} s", t.elapsed().as_secs_f64());
    filler.kill().expect("kill -9 the filler");
    let _ = filler.wait();
    let bytes = allocated_bytes(&data);
    // `SCALE_KEEP=DIR` keeps a copy of the killed store (for trying reopens by
    // hand with `--child-measure DIR` on a copy of it).
    if let Some(keep) = std::env::var_os("SCALE_KEEP") {
        let keep = PathBuf::from(keep).join(format!("n{n}"));
        let status = Command::new("cp").arg("-a").arg(&data).arg(&keep).status();
        // The copy's 2 GB sit dirty in the page cache, and the measuring
        // child's open would wait for their writeback: a fresh unsynced
        // copy opened in 3.3 s here, the same copy after `sync` in 0.7 s
        // (BENCHMARKS.md).
        let _ = Command::new("sync").status();
        eprintln!(
            "scale: kept a copy of the killed store in {} ({status:?})",
            keep.display()
        );
    }
    let out = Command::new(&exe)
        .args(["--child-measure", &data.display().to_string()])
        .output()
        .expect("measure child");
    for log in String::from_utf8_lossy(&out.stderr).lines() {
        if log.contains("store opened") || log.contains("sled reopened") {
            eprintln!("scale: n={n} measure child: {log}");
        }
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("measure:"))
        .unwrap_or_else(|| panic!("measure child failed: {}", String::from_utf8_lossy(&out.stderr)))
        .to_string();
    eprintln!("scale: n={n} {line} disk_bytes={bytes}");
    (line, bytes / n.max(1))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child-fill") {
        let dir = PathBuf::from(&args[i + 1]);
        child_fill(
            &dir,
            args[i + 2].parse().expect("n"),
            args[i + 3].parse().expect("owners"),
        );
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--child-measure") {
        child_measure(Path::new(&args[i + 1]));
        return;
    }
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let n = value("--sessions").unwrap_or(1_000_000);
    let owners = value("--owners").unwrap_or((n / 10).max(1));
    let with_postgres = !args.iter().any(|a| a == "--no-postgres");

    let (small, _) = phase(1000, 100);
    let (big, bytes_per_session) = phase(n, owners);

    // The durable step on sled and PostgreSQL, side by side, and retries
    // with 50 steps in flight.
    let q = Arc::new(questionnaire());
    let sled_dir = tempfile::tempdir().expect("tempdir");
    let sled: Arc<dyn SessionStore> = {
        let s = SledStore::open(&sled_dir.path().join("data")).expect("open");
        fill(&s, &q, 1000, 100);
        Arc::new(s)
    };
    let ids = step_sessions(&*sled, &q, STEP_SESSIONS, "s");
    let (sled_median, sled_p99) = measure_steps(&*sled, &q, &ids, STEPS);
    let sled_retries = retries_in_flight(sled.clone(), q.clone(), 50, "s");
    println!(
        "backend=sled durability=power step_median_us={sled_median} step_p99_us={sled_p99} retries_50_in_flight={sled_retries} ({STEPS} steps, 50 in flight x 20)"
    );
    if with_postgres {
        let cluster = pg::PgCluster::start();
        let store = PgStore::connect(&PgOptions::new(cluster.database())).expect("connect");
        fill(&store, &q, 1000, 100);
        let pg: Arc<dyn SessionStore> = Arc::new(store);
        let ids = step_sessions(&*pg, &q, STEP_SESSIONS, "p");
        let (median, p99) = measure_steps(&*pg, &q, &ids, STEPS);
        let retries = retries_in_flight(pg.clone(), q.clone(), 50, "p");
        println!(
            "backend=postgres synchronous_commit=on step_median_us={median} step_p99_us={p99} retries_50_in_flight={retries} ({STEPS} steps, 50 in flight x 20)"
        );
    }
    println!("scale 1k: {small}");
    println!("scale N:  {big}");
    println!(
        "scale: sessions={n} step_1k_median_us={} step_median_us={} step_p99_us={} rss_mib={} reopen_ms={} bytes_per_session={bytes_per_session} stats_ms={:.3} sweep_step_p99_us={}",
        field(&small, "step_median_us"),
        field(&big, "step_median_us"),
        field(&big, "step_p99_us"),
        field(&big, "rss_mib"),
        field(&big, "reopen_ms"),
        field(&big, "stats_us") as f64 / 1000.0,
        field(&big, "sweep_step_p99_us"),
    );
}
