//! What a result's picture and record cost, against the 3-second window.
//!
//! - `chart/private`: the diverging bar chart of a finished private
//!   consultation (every question answered), drawn and PNG-encoded.
//! - `chart/team 16 questions x 25 voters`: the stacked split chart.
//! - `baseline/png blank (private size)` and `baseline/png blank (team
//!   size)`: PNG-encoding a blank image of the same size, in the same run,
//!   so the cost of drawing is told apart from the cost of encoding.
//! - `record/private` and `record/team 16 x 25`: the Markdown decision record.
//!
//! Run with `cargo bench --bench present -- --noplot`; figures are recorded
//! in BENCHMARKS.md.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};

use framework_advisor::content::Content;
use framework_advisor::domain::questionnaire::Answer;
use framework_advisor::domain::scoring::picks_from_answers;
use framework_advisor::domain::session::{Session, Status, PRIVATE_SCOPE};
use framework_advisor::domain::team::{Split, TeamState, Unity};
use framework_advisor::present::{self, chart, record, Audience};

fn content() -> Content {
    Content::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("responses")).expect("responses/ loads")
}

/// A private consultation answered to the end (option `i % n` each time).
fn finished(content: &Content) -> Session {
    let q = &content.questionnaire;
    let mut answers: Vec<Answer> = Vec::new();
    while let Some(question) = q.next_question(&answers) {
        let (min, _) = question.choice_bounds();
        let n = question.options.len();
        let options = (0..min.max(1))
            .map(|j| question.options[(answers.len() + j) % n].id.clone())
            .collect();
        answers.push(Answer {
            question: question.id.clone(),
            options,
        });
    }
    Session {
        id: "bench".into(),
        owner: "cli:bench".into(),
        scope: PRIVATE_SCOPE.into(),
        status: Status::Completed,
        answers,
        revision: 1,
        created_at: 0,
        updated_at: 0,
        last_reaction: None,
        current: None,
        outcome: None,
        team: None,
        message_ref: None,
    }
}

/// A team of 25 on 16 questions (the questionnaire's questions, repeated as
/// needed), the votes spread over every option.
fn team_of(content: &Content, questions: usize, voters: usize) -> (Session, Unity) {
    let qs = &content.questionnaire.questions;
    let mut team = TeamState::default();
    let mut splits = Vec::new();
    for i in 0..questions {
        let q = &qs[i % qs.len()];
        let mut counts: Vec<(String, usize)> = q.options.iter().map(|o| (o.id.clone(), 0)).collect();
        for v in 0..voters {
            let n = counts.len();
            counts[(v * (i + 1)) % n].1 += 1;
            team.vote(
                &q.id,
                &format!("discord:{v}"),
                &format!("member {v}"),
                vec![counts[(v * (i + 1)) % n].0.clone()],
            );
        }
        counts.retain(|(_, n)| *n > 0);
        counts.sort_by_key(|c| std::cmp::Reverse(c.1));
        let agreement = counts[0].1 as f64 / voters as f64;
        splits.push(Split {
            question: q.id.clone(),
            voters,
            counts,
            agreement,
        });
    }
    let disputed = splits.iter().take(3).cloned().collect();
    let unity = Unity {
        overall: splits.iter().map(|s| s.agreement).sum::<f64>() / questions as f64,
        splits,
        disputed,
    };
    let mut session = finished(content);
    session.team = Some(team);
    (session, unity)
}

fn bench(c: &mut Criterion) {
    let content = content();
    let private = finished(&content);
    let rec = content.recommend(&picks_from_answers(&private.answers));
    let view = present::recommendation(&content, &rec, Audience::Private);
    let rows = present::contributions(&content, &private);
    let title = chart::title(&content, &view, false);
    let (team_session, unity) = team_of(&content, 16, 25);
    let team = present::team_result(&content, &team_session, &rec, &unity);
    let team_title = chart::title(&content, &team.recommendation, true);

    let private_png = chart::private(&content, &title, &rows).unwrap();
    let team_png = chart::team(&content, &team_title, &team.splits).unwrap();
    let size = |png: &[u8]| {
        let r = png::Decoder::new(std::io::Cursor::new(png)).read_info().unwrap();
        (r.info().width, r.info().height)
    };
    let (pw, ph) = size(&private_png);
    let (tw, th) = size(&team_png);
    eprintln!(
        "private chart {pw}x{ph} ({} rows, {} bytes); team chart {tw}x{th} (16 x 25, {} bytes)",
        rows.len(),
        private_png.len(),
        team_png.len()
    );

    let mut g = c.benchmark_group("chart");
    g.sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    g.bench_function("private", |b| {
        b.iter(|| chart::private(&content, &title, black_box(&rows)).unwrap())
    });
    g.bench_function("team 16 questions x 25 voters", |b| {
        b.iter(|| chart::team(&content, &team_title, black_box(&team.splits)).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("baseline");
    g.sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    let blank_private = vec![255u8; (pw * ph * 3) as usize];
    let blank_team = vec![255u8; (tw * th * 3) as usize];
    g.bench_function("png blank (private size)", |b| {
        b.iter(|| chart::encode_png(black_box(&blank_private), pw, ph).unwrap())
    });
    g.bench_function("png blank (team size)", |b| {
        b.iter(|| chart::encode_png(black_box(&blank_team), tw, th).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("record");
    g.sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("private", |b| {
        b.iter(|| record::markdown(&content, black_box(&private), &view, None))
    });
    g.bench_function("team 16 x 25", |b| {
        b.iter(|| record::markdown(&content, black_box(&team_session), &team.recommendation, Some(&team)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
