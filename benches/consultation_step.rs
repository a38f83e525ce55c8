//! What one click costs.
//!
//! - `consult_act/answer (sled, flushed)`: `App::consult_act` answering the
//!   current question on a `SledStore` in a temporary directory: the engine
//!   step, scoring for the running lean, the transaction and the flush to disk
//!   that happens before the bot may answer the click.
//! - `session_apply/answer (no storage)`: the pure engine step alone.
//! - `ask/free-text question`: `App::ask` (sanitising, BM25 ranking, typo
//!   correction when nothing matches).
//!
//! Run with `cargo bench --bench consultation_step -- --noplot`; figures are
//! recorded in BENCHMARKS.md.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

use framework_advisor::app::{Action, App, ManualClock, ViewKind};
use framework_advisor::content::Content;
use framework_advisor::domain::session::{Command, Session, PRIVATE_SCOPE};
use framework_advisor::storage::SledStore;

fn content() -> Arc<Content> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("responses");
    Arc::new(Content::load(&dir).expect("responses/ loads"))
}

fn app_in(dir: &Path, content: Arc<Content>) -> App {
    let store = SledStore::open(&dir.join("data")).expect("open sled");
    App::new(content, Arc::new(store), Arc::new(ManualClock::default()), 3600)
}

fn consult_act(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let content = content();
    let app = app_in(tmp.path(), content.clone());
    let owner = "cli:bench";
    let view = app.consult_start(owner).unwrap();
    let id = view.session.id.clone();
    let first = content.questionnaire.questions[0].options[0].id.clone();
    // Shared by the setup and the timed closure.
    let revision = std::cell::Cell::new(view.session.revision);

    let mut group = c.benchmark_group("consult_act");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    group.bench_function("answer (sled, flushed)", |b| {
        b.iter_batched(
            // Untimed: go back to the first question (itself a durable step).
            || {
                if let Ok(v) = app.consult_act(owner, &id, revision.get(), Action::Back) {
                    revision.set(v.session.revision);
                }
                revision.get()
            },
            |rev| {
                let v = app
                    .consult_act(owner, &id, rev, Action::Answer(vec![first.clone()]))
                    .expect("answer applies");
                // A stale or refused click would skip the write: measure only real steps.
                assert!(v.kind == ViewKind::Updated && v.session.answers.len() == 1);
                revision.set(v.session.revision);
                black_box(v)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn session_apply(c: &mut Criterion) {
    let content = content();
    let q = &content.questionnaire;
    let start = Session::start(q, "bench".into(), "cli:bench".into(), PRIVATE_SCOPE.into(), 0);
    let question = q.questions[0].id.clone();
    let option = q.questions[0].options[0].id.clone();

    let mut group = c.benchmark_group("session_apply");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("answer (no storage)", |b| {
        b.iter_batched(
            || {
                (
                    start.clone(),
                    Command::Answer {
                        question: question.clone(),
                        options: vec![option.clone()],
                    },
                )
            },
            |(mut s, cmd)| {
                s.apply(q, cmd, 1).expect("answer applies");
                s
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn ask(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let app = app_in(tmp.path(), content());
    let mut group = c.benchmark_group("ask");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("free-text question", |b| {
        b.iter(|| app.ask(black_box("is flask ok for serving a pytorch model?")).unwrap())
    });
    group.bench_function("misspelt question (typo correction)", |b| {
        b.iter(|| app.ask(black_box("authentification")).unwrap())
    });
    group.finish();
}

criterion_group!(benches, consult_act, session_apply, ask);
criterion_main!(benches);
