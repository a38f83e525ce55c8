//! The storage contract: one suite, run against every backend (sled in a
//! temporary directory, PostgreSQL on a throwaway local server, a database
//! per test). What the application relies on: start is one per (owner,
//! scope); a click applies at most once; concurrent changes lose nothing;
//! team votes all count; forget-me, the sweep, stats, meta values and leases.

mod support;

use std::any::Any;
use std::path::PathBuf;
use std::sync::{Arc, Barrier};

use framework_advisor::content::Content;
use framework_advisor::domain::questionnaire::Questionnaire;
use framework_advisor::domain::session::{Command, EngineError, Session, Status, PRIVATE_SCOPE};
use framework_advisor::storage::{PgOptions, PgStore, SessionStore, SledStore, Started};
use support::pg::PgCluster;

fn questionnaire() -> Arc<Questionnaire> {
    static Q: std::sync::OnceLock<Arc<Questionnaire>> = std::sync::OnceLock::new();
    Q.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("responses");
        Arc::new(Content::load(&dir).expect("responses load").questionnaire)
    })
    .clone()
}

/// A store and whatever keeps it alive (its directory).
struct Fixture {
    store: Arc<dyn SessionStore>,
    _keep: Box<dyn Any>,
}

fn sled() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SledStore::open(&dir.path().join("data")).expect("open sled");
    Fixture {
        store: Arc::new(store),
        _keep: Box::new(dir),
    }
}

fn postgres() -> Fixture {
    let url = PgCluster::shared().database();
    let store = PgStore::connect(&PgOptions::new(url)).expect("connect to the test database");
    Fixture {
        store: Arc::new(store),
        _keep: Box::new(()),
    }
}

fn private(id: &str, owner: &str, now: i64) -> Session {
    Session::start(&questionnaire(), id.into(), owner.into(), PRIVATE_SCOPE.into(), now)
}

fn team(id: &str, owner: &str, channel: &str, now: i64) -> Session {
    Session::start_team(
        &questionnaire(),
        id.into(),
        owner.into(),
        format!("team:{channel}"),
        0,
        now,
    )
}

/// The options a user would pick on the current question: the first ones allowed.
fn first_choice(s: &Session) -> Command {
    let q = questionnaire();
    let current = s.current.clone().expect("an active session has a current question");
    let question = q.question(&current).expect("current question exists");
    let (min, _) = question.choice_bounds();
    Command::Answer {
        question: current,
        options: question.options.iter().take(min.max(1)).map(|o| o.id.clone()).collect(),
    }
}

fn answer(store: &dyn SessionStore, id: &str, now: i64) -> Session {
    let q = questionnaire();
    store
        .update(id, &mut |s| {
            let c = first_choice(s);
            s.apply(&q, c, now)
        })
        .expect("store ok")
        .expect("session exists")
        .expect("answer accepted")
}

fn start_is_one_per_owner_and_scope(f: Fixture) {
    let s = &*f.store;
    assert!(matches!(s.start(private("a", "u", 0)).unwrap(), Started::New(_)));
    match s.start(private("b", "u", 0)).unwrap() {
        Started::Existing(e) => assert_eq!(e.id, "a"),
        other => panic!("expected the existing session, got {other:?}"),
    }
    assert!(s.get("b").unwrap().is_none());
    assert!(matches!(s.start(private("c", "v", 0)).unwrap(), Started::New(_)));
    assert!(matches!(s.start(team("d", "u", "1", 0)).unwrap(), Started::New(_)));
    let stats = s.stats().unwrap();
    assert_eq!((stats.started, stats.team.started, stats.active), (2, 1, 3));
}

fn concurrent_starts_store_one(f: Fixture) {
    let store = f.store.clone();
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                matches!(store.start(private(&format!("s{i}"), "u", 0)).unwrap(), Started::New(_))
            })
        })
        .collect();
    let new = handles.into_iter().map(|h| h.join().unwrap()).filter(|n| *n).count();
    assert_eq!(new, 1, "exactly one concurrent start stores a session");
    assert_eq!(store.stats().unwrap().active, 1);
}

fn active_is_only_the_active_one(f: Fixture) {
    let s = &*f.store;
    assert!(s.active("u", PRIVATE_SCOPE).unwrap().is_none());
    s.start(private("a", "u", 0)).unwrap();
    assert_eq!(s.active("u", PRIVATE_SCOPE).unwrap().unwrap().id, "a");
    assert!(s.active("u", "team:1").unwrap().is_none());
    s.update("a", &mut |x| x.apply(&questionnaire(), Command::Cancel, 1))
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(s.active("u", PRIVATE_SCOPE).unwrap().is_none());
    assert_eq!(s.get("a").unwrap().unwrap().status, Status::Cancelled);
    // Once the old one is finished, a new one may start.
    assert!(matches!(s.start(private("b", "u", 2)).unwrap(), Started::New(_)));
}

fn update_applies_and_a_refused_change_stores_nothing(f: Fixture) {
    let s = &*f.store;
    s.start(private("a", "u", 0)).unwrap();
    let after = answer(s, "a", 5);
    assert_eq!((after.revision, after.answers.len(), after.updated_at), (1, 1, 5));
    assert_eq!(s.get("a").unwrap().unwrap(), after);
    let refused = s
        .update("a", &mut |x| x.apply_at(&questionnaire(), Command::Back, 0, 6))
        .unwrap()
        .unwrap();
    assert!(matches!(refused, Err(EngineError::Stale { .. })), "{refused:?}");
    assert_eq!(s.get("a").unwrap().unwrap(), after);
    assert!(s.update("missing", &mut |_| Ok(())).unwrap().is_none());
}

/// A double click: the same click (same revision) from 8 threads at once
/// applies once; the others see the newer revision and are refused.
fn double_clicks_apply_once(f: Fixture) {
    let store = f.store.clone();
    store.start(private("a", "u", 0)).unwrap();
    let click = first_choice(&store.get("a").unwrap().unwrap());
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (store, barrier, click) = (store.clone(), barrier.clone(), click.clone());
            std::thread::spawn(move || {
                barrier.wait();
                store
                    .update("a", &mut |s| s.apply_at(&questionnaire(), click.clone(), 0, 1))
                    .unwrap()
                    .unwrap()
                    .is_ok()
            })
        })
        .collect();
    let applied = handles.into_iter().map(|h| h.join().unwrap()).filter(|ok| *ok).count();
    assert_eq!(applied, 1);
    let s = store.get("a").unwrap().unwrap();
    assert_eq!((s.revision, s.answers.len()), (1, 1));
}

/// Increments under contention: every one must land (the change is re-run
/// on the newer state after a conflict, never applied to a stale one).
fn concurrent_updates_lose_no_write(f: Fixture) {
    let store = f.store.clone();
    store.start(private("a", "u", 0)).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || {
                for _ in 0..25 {
                    store
                        .update("a", &mut |s| {
                            s.revision += 1;
                            Ok(())
                        })
                        .unwrap()
                        .unwrap()
                        .unwrap();
                }
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(store.get("a").unwrap().unwrap().revision, 100);
}

/// 30 members vote at once on one team session: all 30 votes are stored.
fn team_votes_all_count(f: Fixture) {
    let store = f.store.clone();
    store.start(team("t", "lead", "9", 0)).unwrap();
    let question = store.get("t").unwrap().unwrap().current.unwrap();
    let option = questionnaire().question(&question).unwrap().options[0].id.clone();
    let barrier = Arc::new(Barrier::new(30));
    let handles: Vec<_> = (0..30)
        .map(|i| {
            let (store, barrier, question, option) = (store.clone(), barrier.clone(), question.clone(), option.clone());
            std::thread::spawn(move || {
                barrier.wait();
                store
                    .update("t", &mut |s| {
                        let voter = format!("discord:{i}");
                        s.team
                            .as_mut()
                            .expect("team state")
                            .vote(&question, &voter, &voter, vec![option.clone()]);
                        Ok(())
                    })
                    .unwrap()
                    .unwrap()
                    .unwrap();
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    let t = store.get("t").unwrap().unwrap();
    assert_eq!(t.team.unwrap().voters_on(&question), 30);
}

fn completion_and_cancel_count(f: Fixture) {
    let s = &*f.store;
    s.start(private("a", "u", 0)).unwrap();
    s.start(private("b", "v", 0)).unwrap();
    let mut done = s.get("a").unwrap().unwrap();
    while done.status == Status::Active {
        done = answer(s, "a", 1);
    }
    s.update("a", &mut |x| {
        x.outcome = Some("flask".into());
        Ok(())
    })
    .unwrap()
    .unwrap()
    .unwrap();
    let b = answer(s, "b", 1);
    let dropped_at = b.current.clone().unwrap();
    s.update("b", &mut |x| x.apply(&questionnaire(), Command::Cancel, 2))
        .unwrap()
        .unwrap()
        .unwrap();
    let stats = s.stats().unwrap();
    assert_eq!(
        (stats.started, stats.completed, stats.abandoned, stats.active),
        (2, 1, 1, 0)
    );
    assert_eq!(stats.dropoff.get(&dropped_at), Some(&1));
    assert_eq!(stats.outcomes.values().sum::<u64>(), 1);
}

fn delete_owner_removes_only_theirs(f: Fixture) {
    let s = &*f.store;
    s.start(private("a", "u", 0)).unwrap();
    s.start(team("t", "u", "1", 0)).unwrap();
    s.start(private("b", "uv", 0)).unwrap();
    assert_eq!(s.delete_owner("u").unwrap(), 2);
    assert!(s.get("a").unwrap().is_none() && s.get("t").unwrap().is_none());
    assert!(s.active("u", PRIVATE_SCOPE).unwrap().is_none());
    assert!(
        s.get("b").unwrap().is_some(),
        "owner 'uv' shares a prefix but is someone else"
    );
    assert_eq!(s.stats().unwrap().active, 1);
    assert_eq!(s.delete_owner("u").unwrap(), 0);
    // The expiry index forgot them too: the sweep finds only b.
    let swept = s.sweep_expired(1_000_000, 10, 10).unwrap();
    assert_eq!(swept.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(), vec!["b"]);
}

fn sweep_removes_expired_by_kind_and_counts_abandoned(f: Fixture) {
    let s = &*f.store;
    s.start(private("old", "u", 0)).unwrap();
    s.start(private("new", "v", 1000)).unwrap();
    s.start(team("team-old", "w", "1", 600)).unwrap();
    // Touched at 5: a click moves its expiry.
    s.start(private("touched", "x", 0)).unwrap();
    answer(s, "touched", 900);
    // Private TTL 500, team TTL 300: "old" (0) and "team-old" (600) are due at 1000.
    let mut swept: Vec<String> = s
        .sweep_expired(1000, 500, 300)
        .unwrap()
        .into_iter()
        .map(|x| x.id)
        .collect();
    swept.sort();
    assert_eq!(swept, vec!["old", "team-old"]);
    assert!(s.get("old").unwrap().is_none());
    assert!(s.get("new").unwrap().is_some() && s.get("touched").unwrap().is_some());
    let stats = s.stats().unwrap();
    assert_eq!((stats.abandoned, stats.team.abandoned, stats.active), (1, 1, 2));
    assert_eq!(stats.dropoff.values().sum::<u64>(), 1);
    // Finished sessions are swept too, but not reported (no user to tell).
    s.update("new", &mut |x| x.apply(&questionnaire(), Command::Cancel, 1000))
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(s
        .sweep_expired(100_000, 500, 300)
        .unwrap()
        .iter()
        .all(|x| x.id != "new"));
    assert!(s.get("new").unwrap().is_none());
    assert_eq!(s.stats().unwrap().active, 0);
}

/// More expired sessions than one sweep batch: all go, in several batches.
fn sweep_goes_through_every_batch(f: Fixture) {
    let s = &*f.store;
    let n = framework_advisor::storage::engine::SWEEP_BATCH * 2 + 7;
    for i in 0..n {
        s.start(private(&format!("s{i}"), &format!("u{i}"), i as i64)).unwrap();
    }
    assert_eq!(s.sweep_expired(1_000_000, 10, 10).unwrap().len(), n);
    assert_eq!(s.stats().unwrap().active, 0);
    assert!(s.sweep_expired(1_000_000, 10, 10).unwrap().is_empty());
}

fn meta_values_round_trip(f: Fixture) {
    let s = &*f.store;
    assert_eq!(s.meta_get("k").unwrap(), None);
    s.meta_put("k", b"one").unwrap();
    s.meta_put("k", b"two").unwrap();
    assert_eq!(s.meta_get("k").unwrap().as_deref(), Some(&b"two"[..]));
}

fn leases_are_exclusive_until_they_expire(f: Fixture) {
    let s = &*f.store;
    assert!(s.try_lock("sweep", "a", 100, 60).unwrap());
    assert!(!s.try_lock("sweep", "b", 120, 60).unwrap(), "a holds it until 160");
    assert!(s.try_lock("sweep", "a", 150, 60).unwrap(), "the holder renews");
    assert!(!s.try_lock("sweep", "b", 200, 60).unwrap(), "renewed until 210");
    assert!(s.try_lock("sweep", "b", 210, 60).unwrap(), "expired: b takes it");
    assert!(s.try_lock("commands", "a", 210, 60).unwrap(), "names are independent");
    s.unlock("sweep", "a").unwrap();
    assert!(
        !s.try_lock("sweep", "a", 220, 60).unwrap(),
        "a cannot release b's lease"
    );
    s.unlock("sweep", "b").unwrap();
    assert!(s.try_lock("sweep", "a", 220, 60).unwrap());
}

/// Many threads race for one free lease: exactly one wins.
fn one_lease_holder_among_racers(f: Fixture) {
    let store = f.store.clone();
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                store.try_lock("sweep", &format!("i{i}"), 0, 60).unwrap()
            })
        })
        .collect();
    let winners = handles.into_iter().map(|h| h.join().unwrap()).filter(|w| *w).count();
    assert_eq!(winners, 1);
}

/// Clicks on different sessions do not conflict: counters are sharded and
/// every other key belongs to one session.
fn clicks_on_different_sessions_do_not_retry(f: Fixture) {
    let store = f.store.clone();
    for i in 0..8 {
        store.start(private(&format!("s{i}"), &format!("u{i}"), 0)).unwrap();
    }
    let before = store.tx_retries();
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                answer(&*store, &format!("s{i}"), 1);
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    if store.tx_retries() != before {
        // sled re-runs a transaction when another commits between its read
        // and its commit on a shared tree page; report, never fail on it.
        eprintln!("retries on different sessions: {}", store.tx_retries() - before);
    }
    for i in 0..8 {
        assert_eq!(store.get(&format!("s{i}")).unwrap().unwrap().revision, 1);
    }
}

macro_rules! contract {
    ($backend:ident: $($case:ident),* $(,)?) => {
        mod $backend {
            $(
                #[test]
                fn $case() {
                    super::$case(super::$backend());
                }
            )*
        }
    };
}

macro_rules! both {
    ($($case:ident),* $(,)?) => {
        contract!(sled: $($case),*);
        contract!(postgres: $($case),*);
    };
}

both!(
    start_is_one_per_owner_and_scope,
    concurrent_starts_store_one,
    active_is_only_the_active_one,
    update_applies_and_a_refused_change_stores_nothing,
    double_clicks_apply_once,
    concurrent_updates_lose_no_write,
    team_votes_all_count,
    completion_and_cancel_count,
    delete_owner_removes_only_theirs,
    sweep_removes_expired_by_kind_and_counts_abandoned,
    sweep_goes_through_every_batch,
    meta_values_round_trip,
    leases_are_exclusive_until_they_expire,
    one_lease_holder_among_racers,
    clicks_on_different_sessions_do_not_retry,
);

/// PostgreSQL only: a database migrated by a newer build is refused with a
/// message saying so; a behind one is migrated; the server restarting under
/// a running store gives errors (the user's apology), never a panic, and the
/// pool reconnects by itself with nothing acknowledged lost.
mod postgres_only {
    use super::*;

    #[test]
    fn a_newer_schema_is_refused() {
        let url = PgCluster::shared().database();
        let store = PgStore::connect(&PgOptions::new(url.clone())).unwrap();
        assert_eq!(store.schema_version().unwrap(), 1);
        assert_eq!(PgStore::probe(&PgOptions::new(url.clone())).unwrap(), 1);
        let out = std::process::Command::new(support::pg::bin_dir().join("psql"))
            .args([&url, "-c", "INSERT INTO fa_schema_version (version) VALUES (99)"])
            .output()
            .expect("psql");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let e = PgStore::connect(&PgOptions::new(url.clone())).unwrap_err().to_string();
        assert!(e.contains("99") && e.contains("newer"), "{e}");
        assert!(PgStore::probe(&PgOptions::new(url)).is_err());
    }

    #[test]
    fn a_server_restart_loses_nothing_acknowledged_and_the_pool_reconnects() {
        // A cluster of its own: restarting the shared one would disturb other tests.
        let cluster = PgCluster::start();
        let url = cluster.database();
        let store = PgStore::connect(&PgOptions::new(url)).unwrap();
        store.start(private("a", "u", 0)).unwrap();
        let acknowledged = answer(&store, "a", 1);
        cluster.restart();
        // The pooled connection died with the server: the next call either
        // fails cleanly (an error the app turns into an apology) or, if the
        // pool noticed first, succeeds on a new connection.
        let first = store.get("a");
        if let Err(e) = &first {
            assert!(e.to_string().contains("postgres"), "{e}");
        }
        let mut tries = 0;
        let now = loop {
            match store.get("a") {
                Ok(s) => break s.expect("the acknowledged session survived"),
                Err(_) if tries < 20 => tries += 1,
                Err(e) => panic!("the pool did not reconnect: {e}"),
            }
        };
        assert_eq!(now, acknowledged);
        let next = answer(&store, "a", 2);
        assert_eq!(next.revision, acknowledged.revision + 1);
    }

    #[test]
    fn two_stores_on_one_database_share_everything() {
        let url = PgCluster::shared().database();
        let one = Arc::new(PgStore::connect(&PgOptions::new(url.clone())).unwrap());
        let two = Arc::new(PgStore::connect(&PgOptions::new(url)).unwrap());
        one.start(private("a", "u", 0)).unwrap();
        assert!(matches!(two.start(private("b", "u", 0)).unwrap(), Started::Existing(_)));
        // A click on each instance at once: one applies.
        let click = first_choice(&one.get("a").unwrap().unwrap());
        let handles: Vec<_> = [one.clone(), two.clone()]
            .into_iter()
            .map(|store| {
                let click = click.clone();
                std::thread::spawn(move || {
                    store
                        .update("a", &mut |s| s.apply_at(&questionnaire(), click.clone(), 0, 1))
                        .unwrap()
                        .unwrap()
                        .is_ok()
                })
            })
            .collect();
        assert_eq!(handles.into_iter().map(|h| h.join().unwrap()).filter(|x| *x).count(), 1);
        assert!(one.try_lock("sweep", "one", 0, 60).unwrap());
        assert!(!two.try_lock("sweep", "two", 1, 60).unwrap());
        assert_eq!(two.stats().unwrap().active, 1);
    }
}
