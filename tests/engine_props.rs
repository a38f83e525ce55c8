//! Property tests of the consultation engine and scoring on the real
//! questionnaire in `responses/`.
//!
//! (a) Random command sequences (valid and invalid answers, Back, Restart,
//!     Cancel, stale revisions) are checked against a model of what each
//!     command must do, and every reachable state is checked for validity.
//! (b) Every completed path yields a recommendation consistent with its
//!     answers and scores, and the same answers always give the same result.
//! (c) The progress counter stays within bounds on every path.

use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;

use framework_advisor::content::Content;
use framework_advisor::domain::advice::Given;
use framework_advisor::domain::framework::FRAMEWORK_IDS;
use framework_advisor::domain::questionnaire::{Answer, Question, Questionnaire};
use framework_advisor::domain::scoring::{given_of, picks_from_answers, Verdict, MAX_REASONS, MAX_REASONS_AGAINST};
use framework_advisor::domain::session::{Command, EngineError, Session, Status, PRIVATE_SCOPE};

/// Advice that an answer makes wrong, whatever the conditions in responses/
/// say: (the answer, whether it was given, words that must not appear).
fn contradictions(g: &Given) -> Vec<(&'static str, bool, &'static [&'static str])> {
    let any = |atoms: &str| atoms.split(' ').any(|a| g.has(a));
    vec![
        // No database: no ORM, migrations or query tuning.
        ("data_model.no_db", any("data_model.no_db"), &["Flask-SQLAlchemy", "Flask-Migrate", "db migrate", "manage.py migrate", "assertNumQueries", "loading strategies"][..]),
        // A database the app does not own: never a migration command.
        ("data_model.legacy_schema", any("data_model.legacy_schema") && !any("legacy_access.take_over"), &["db init", "db migrate", "makemigrations", "manage.py migrate", "Flask-Migrate:"][..]),
        // No accounts of its own: no sign-up or login packages.
        ("auth.none or auth.tokens", any("auth.none auth.tokens"), &["Flask-Login", "allauth", "password"][..]),
        // CSRF matters only when browsers send cookies.
        ("no cookie-based pages or logins", !any("templates.server_forms templates.server_simple templates.partial_updates auth.staff_only auth.accounts auth.roles auth.sso"), &["CSRF"][..]),
        // No back office: no admin tooling.
        ("admin.no_admin", any("admin.no_admin") && !any("legacy_access.edit_rows"), &["Flask-Admin", "list_display"][..]),
        // No real-time: no WebSocket stack.
        ("no real-time", !any("async_needs.realtime"), &["Channels", "channels", "SocketIO", "flask-sock"][..]),
        // One language: no i18n machinery.
        ("no languages", !any("features.languages"), &["i18n_patterns", "Flask-Babel", "modeltranslation"][..]),
        // No model serving: no model-loading advice.
        ("no model serving", !any("project_type.ml_serving"), &["--preload", "CUDA"][..]),
        // Not serverless: no Lambda adapters.
        ("not serverless", !any("scale.serverless"), &["apig-wsgi", "Mangum"][..]),
    ]
}

fn content() -> &'static Content {
    static CONTENT: OnceLock<Content> = OnceLock::new();
    CONTENT.get_or_init(|| {
        Content::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("responses")).unwrap_or_else(|e| panic!("{e}"))
    })
}

fn questionnaire() -> &'static Questionnaire {
    &content().questionnaire
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        // Deterministic: the same cases on every run and machine, and no
        // failure files written into the repository.
        failure_persistence: None,
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed_f1a5),
        ..ProptestConfig::default()
    }
}

/// How an answer's option ids are chosen, resolved against the question that
/// is current when the command runs.
#[derive(Debug, Clone)]
enum Pick {
    /// The option at this index (mod the number of options).
    Index(usize),
    /// An id no question has.
    Invalid(String),
}

#[derive(Debug, Clone)]
enum Target {
    /// The current question (the normal case).
    Current,
    /// Some question by index (mod the number of questions): often a wrong one.
    Other(usize),
    /// A question id that does not exist.
    Unknown,
}

#[derive(Debug, Clone)]
enum Op {
    Answer { target: Target, picks: Vec<Pick> },
    Back,
    Restart,
    Cancel,
}

/// A command plus how it is delivered: `apply`, or `apply_at` with the
/// session's revision shifted by `Some(delta)` (0 = a fresh click).
#[derive(Debug, Clone)]
struct Step {
    op: Op,
    at: Option<i64>,
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        12 => (0usize..32).prop_map(Pick::Index),
        1 => prop_oneof![Just(String::new()), "[a-z_]{1,12}", "\\PC{0,30}"].prop_map(Pick::Invalid),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let target = prop_oneof![
        10 => Just(Target::Current),
        1 => (0usize..64).prop_map(Target::Other),
        1 => Just(Target::Unknown),
    ];
    prop_oneof![
        // Mostly one pick (single choice); sometimes none or several.
        // Rare Cancel and Restart, so that many sequences reach completion.
        50 => (target, prop_oneof![4 => proptest::collection::vec(pick(), 1..=1), 1 => proptest::collection::vec(pick(), 0..=7)])
            .prop_map(|(target, picks)| Op::Answer { target, picks }),
        6 => Just(Op::Back),
        1 => Just(Op::Restart),
        1 => Just(Op::Cancel),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let at = prop_oneof![
        3 => Just(None),
        3 => Just(Some(0i64)),
        1 => (-3i64..=3).prop_map(Some),
        1 => any::<u32>().prop_map(|r| Some(i64::from(r) - (1 << 31))),
    ];
    (op(), at).prop_map(|(op, at)| Step { op, at })
}

/// Turns an `Op` into a concrete command for the session as it is now.
fn command(q: &Questionnaire, session: &Session, op: &Op) -> Command {
    match op {
        Op::Answer { target, picks } => {
            let question: Option<&Question> = match target {
                Target::Current => q.next_question(&session.answers),
                Target::Other(i) => q.questions.get(i % q.questions.len()),
                Target::Unknown => None,
            };
            let options = picks
                .iter()
                .map(|p| match (p, question) {
                    (Pick::Index(i), Some(question)) => question.options[i % question.options.len()].id.clone(),
                    (Pick::Index(i), None) => format!("option_{i}"),
                    (Pick::Invalid(s), _) => s.clone(),
                })
                .collect();
            Command::Answer {
                question: question.map_or_else(|| "no_such_question".to_string(), |x| x.id.clone()),
                options,
            }
        }
        Op::Back => Command::Back,
        Op::Restart => Command::Restart,
        Op::Cancel => Command::Cancel,
    }
}

/// What the engine must do with `op` (resolved to `command`) on `s`:
/// `Ok(answers after)` or the error. Matches on our own `Op`, not on
/// `Command`, so new engine commands (team mode) do not break this model.
fn model(
    q: &Questionnaire,
    s: &Session,
    op: &Op,
    command: &Command,
    revision: Option<u32>,
) -> Result<Vec<Answer>, EngineError> {
    if s.status != Status::Active {
        return Err(EngineError::NotActive(s.status));
    }
    if let Some(r) = revision {
        if r != s.revision {
            return Err(EngineError::Stale {
                current: s.revision,
                got: r,
            });
        }
    }
    let mut answers = s.answers.clone();
    match op {
        Op::Answer { .. } => {
            let Command::Answer { question, options } = command else {
                panic!("Op::Answer resolved to {command:?}");
            };
            let current = q.next_question(&answers).expect("an active session has a question");
            if current.id != *question {
                return Err(EngineError::WrongQuestion {
                    expected: Some(current.id.clone()),
                    got: question.chars().take(40).collect(),
                });
            }
            answers.push(q.validate_answer(current, options)?);
        }
        Op::Back => {
            if answers.pop().is_none() {
                return Err(EngineError::NothingToUndo);
            }
        }
        Op::Restart => answers.clear(),
        Op::Cancel => {}
    }
    Ok(answers)
}

/// Everything that must hold of any session the engine produced.
fn check_state(q: &Questionnaire, s: &Session) -> Result<(), TestCaseError> {
    // The answers are a path: each answers the question asked after the
    // ones before it, with options that validate to exactly what is stored.
    for (i, a) in s.answers.iter().enumerate() {
        let asked = q.next_question(&s.answers[..i]);
        prop_assert_eq!(asked.map(|x| x.id.as_str()), Some(a.question.as_str()), "answer {}", i);
        let asked = asked.unwrap();
        let revalidated = q.validate_answer(asked, &a.options);
        prop_assert_eq!(revalidated.as_ref(), Ok(a));
    }
    let next = q.next_question(&s.answers);
    match s.status {
        Status::Completed => {
            prop_assert!(next.is_none(), "completed with {:?} still to ask", next.map(|x| &x.id));
            prop_assert_eq!(&s.current, &None);
        }
        Status::Active => {
            prop_assert!(next.is_some(), "active with nothing left to ask");
            prop_assert_eq!(s.current.as_deref(), next.map(|x| x.id.as_str()));
        }
        Status::Cancelled => prop_assert_eq!(s.current.as_deref(), next.map(|x| x.id.as_str())),
    }
    let (step, total) = q.progress(&s.answers);
    prop_assert!(1 <= step && step <= total, "progress {}/{}", step, total);
    if s.status == Status::Active {
        prop_assert_eq!(step, s.answers.len() + 1);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_commands_keep_the_session_valid(steps in proptest::collection::vec(step(), 0..80)) {
        let q = questionnaire();
        let mut s = Session::start(q, "s1".into(), "cli:prop".into(), PRIVATE_SCOPE.into(), 1_000);
        check_state(q, &s)?;
        for (n, st) in steps.iter().enumerate() {
            let now = 1_001 + n as i64;
            let cmd = command(q, &s, &st.op);
            let revision = st.at.map(|d| (i64::from(s.revision) + d).rem_euclid(1 << 32) as u32);
            let expected = model(q, &s, &st.op, &cmd, revision);
            let before = s.clone();
            let got = match revision {
                None => s.apply(q, cmd.clone(), now),
                Some(r) => s.apply_at(q, cmd.clone(), r, now),
            };
            match (&expected, &got) {
                (Ok(answers), Ok(())) => {
                    prop_assert_eq!(&s.answers, answers, "{:?}", cmd);
                    prop_assert_eq!(s.revision, before.revision.wrapping_add(1));
                    prop_assert_eq!(s.updated_at, now);
                    prop_assert_eq!(s.created_at, before.created_at);
                    prop_assert_eq!(&s.id, &before.id);
                    match &cmd {
                        Command::Cancel => prop_assert_eq!(s.status, Status::Cancelled),
                        Command::Answer { options, .. } => {
                            // The reaction is the first picked option's (in questionnaire order).
                            let question = q.question(&s.answers.last().unwrap().question).unwrap();
                            let first = &s.answers.last().unwrap().options[0];
                            prop_assert!(options.contains(first));
                            prop_assert_eq!(s.last_reaction.as_deref(), Some(question.option(first).unwrap().reaction.as_str()));
                        }
                        _ => prop_assert_eq!(&s.last_reaction, &None),
                    }
                }
                (Err(e), Err(g)) => {
                    prop_assert_eq!(e, g, "{:?}", cmd);
                    prop_assert_eq!(&s, &before, "a refused command changed the session");
                }
                _ => prop_assert!(false, "{:?} at {:?}: model says {:?}, engine says {:?}", cmd, revision, expected, got),
            }
            if s.status != Status::Cancelled {
                // Completed exactly when the last answer left nothing to ask.
                prop_assert_eq!(s.status == Status::Completed, q.next_question(&s.answers).is_none());
            }
            check_state(q, &s)?;
        }
    }
}

/// Walks the real questionnaire to completion, choosing options from `seed`.
fn complete_path(q: &Questionnaire, seed: &[Vec<usize>]) -> Vec<Answer> {
    let mut answers: Vec<Answer> = Vec::new();
    let mut i = 0;
    while let Some(question) = q.next_question(&answers) {
        let (min, max) = question.choice_bounds();
        let mut ids: Vec<String> = Vec::new();
        for k in &seed[i % seed.len()] {
            let id = &question.options[k % question.options.len()].id;
            if !ids.contains(id) && ids.len() < max {
                ids.push(id.clone());
            }
        }
        let mut k = 0;
        while ids.len() < min {
            let id = &question.options[k].id;
            if !ids.contains(id) {
                ids.push(id.clone());
            }
            k += 1;
        }
        answers.push(q.validate_answer(question, &ids).expect("generated answer validates"));
        i += 1;
        assert!(i <= q.questions.len(), "a path longer than the questionnaire");
    }
    answers
}

fn seed() -> impl Strategy<Value = Vec<Vec<usize>>> {
    proptest::collection::vec(
        prop_oneof![
            3 => proptest::collection::vec(0usize..32, 1..=1),
            1 => proptest::collection::vec(0usize..32, 1..=6),
        ],
        1..24,
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn completed_sessions_get_a_consistent_recommendation(seed in seed()) {
        let c = content();
        let q = &c.questionnaire;
        let answers = complete_path(q, &seed);

        // Driven through the engine, the same answers complete a session.
        let mut s = Session::start(q, "s".into(), "cli:prop".into(), PRIVATE_SCOPE.into(), 0);
        for a in &answers {
            s.apply_at(q, Command::Answer { question: a.question.clone(), options: a.options.clone() }, s.revision, 1)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        prop_assert_eq!(s.status, Status::Completed);
        prop_assert_eq!(&s.answers, &answers);

        let rec = c.recommend(&picks_from_answers(&answers));
        prop_assert!((50..=100).contains(&rec.confidence), "confidence {}", rec.confidence);
        prop_assert!(rec.reasons_for.len() <= MAX_REASONS);
        prop_assert!(rec.reasons_against.len() <= MAX_REASONS_AGAINST);
        let side = rec.verdict.framework().unwrap_or("django");
        for (r, toward_side) in rec.reasons_for.iter().map(|r| (r, true)).chain(rec.reasons_against.iter().map(|r| (r, false))) {
            let answer = answers.iter().find(|a| a.question == r.question);
            prop_assert!(answer.is_some_and(|a| a.options.contains(&r.option)), "reason {}/{} is not in the answers", r.question, r.option);
            prop_assert_eq!(r.toward == side, toward_side, "reason {} on the wrong side", r.question);
            // Points are the question's net push: all its picked options summed.
            let question = q.question(&r.question).unwrap();
            let net: i32 = answer.unwrap().options.iter().map(|o| {
                let o = question.option(o).unwrap();
                o.weight("django") - o.weight("flask")
            }).sum();
            prop_assert!(net != 0, "a question whose picks cancel out took a slot");
            prop_assert_eq!(r.toward.as_str(), if net > 0 { "django" } else { "flask" });
            prop_assert!((r.points - question.importance * f64::from(net.abs())).abs() < 1e-9);
            prop_assert_eq!(r.share, 1.0);
        }
        prop_assert!(rec.reasons_for.windows(2).all(|w| w[0].points >= w[1].points), "reasons not sorted");
        prop_assert!(rec.reasons_against.windows(2).all(|w| w[0].points >= w[1].points), "reasons not sorted");

        // The verdict agrees with the scores.
        let ids: Vec<&str> = rec.scores.iter().map(|(f, _)| f.as_str()).collect();
        prop_assert_eq!(ids, FRAMEWORK_IDS.to_vec());
        let (d, f) = (rec.scores[0].1, rec.scores[1].1);
        match &rec.verdict {
            Verdict::Framework { id } => {
                let (mine, theirs) = if id == "django" { (d, f) } else { (f, d) };
                prop_assert!(FRAMEWORK_IDS.contains(&id.as_str()));
                prop_assert!(mine > theirs, "{} wins with {} vs {}", id, mine, theirs);
                prop_assert!(rec.confidence >= 60, "a clear verdict at {}%", rec.confidence);
                prop_assert_eq!(&rec.close_call_advice, &None);
                prop_assert!(rec.reasons_for.iter().any(|r| &r.toward == id));
            }
            Verdict::CloseCall { leaning } => {
                prop_assert!(rec.confidence <= 60, "a close call at {}%", rec.confidence);
                prop_assert!(rec.close_call_advice.is_some());
                match leaning.as_deref() {
                    Some("django") => prop_assert!(d > f - 1e-9, "leaning Django with {} vs {}", d, f),
                    Some("flask") => prop_assert!(f > d - 1e-9, "leaning Flask with {} vs {}", d, f),
                    None => prop_assert!((d - f).abs() < 1e-9, "even with {} vs {}", d, f),
                    Some(other) => prop_assert!(false, "leaning unknown {}", other),
                }
            }
        }

        // Advice: every item shown is one whose condition holds for these
        // answers, and nothing shown contradicts an answer given.
        let given = given_of(&picks_from_answers(&answers));
        if let Some(fw) = rec.verdict.framework() {
            let framework = c.knowledge.framework(fw).unwrap();
            for (shown, items) in [
                (&rec.tradeoffs, &framework.tradeoffs),
                (&rec.next_steps, &framework.next_steps),
                (&rec.packages, &framework.packages),
            ] {
                for text in shown {
                    let item = items.iter().find(|i| &i.text == text);
                    prop_assert!(item.is_some_and(|i| i.when.holds(&given)), "{:?} shown against its condition", text);
                }
            }
        } else {
            prop_assert!(rec.tradeoffs.is_empty() && rec.next_steps.is_empty() && rec.packages.is_empty());
        }
        let text = [&rec.tradeoffs, &rec.next_steps, &rec.packages]
            .iter()
            .flat_map(|l| l.iter())
            .chain(rec.fastapi_note.iter())
            .cloned()
            .collect::<Vec<_>>()
            .join("\n");
        for (answered, given_it, forbidden) in contradictions(&given) {
            if given_it {
                for word in forbidden {
                    prop_assert!(!text.contains(word), "{:?} shown although {}: {}", word, answered, text);
                }
            }
        }

        // The FastAPI note appears exactly when one of its triggers holds,
        // and names each reason.
        let because: Vec<&str> = c.advice.fastapi.iter().filter(|t| t.when.holds(&given)).map(|t| t.because.as_str()).collect();
        prop_assert_eq!(rec.fastapi_note.is_some(), !because.is_empty());
        if let Some(note) = &rec.fastapi_note {
            for b in because {
                prop_assert!(note.contains(b), "{:?} missing from {:?}", b, note);
            }
        }

        // Deterministic: the same answers (also after a trip through the
        // store's JSON encoding) give the same recommendation.
        prop_assert_eq!(&c.recommend(&picks_from_answers(&answers)), &rec);
        let json = serde_json::to_string(&s).unwrap();
        let back: Session = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&c.recommend(&picks_from_answers(&back.answers)), &rec);
    }

    #[test]
    fn progress_stays_in_bounds_along_any_path(seed in seed()) {
        let q = questionnaire();
        let answers = complete_path(q, &seed);
        let n = answers.len();
        for i in 0..=n {
            let (step, total) = q.progress(&answers[..i]);
            prop_assert!(1 <= step && step <= total, "progress {}/{} after {} answers", step, total, i);
            // The total never promises fewer questions than the path really has.
            prop_assert!(total >= n, "total {} after {} answers, path has {}", total, i, n);
            if i < n {
                prop_assert_eq!(step, i + 1);
            }
        }
        prop_assert_eq!(q.progress(&answers), (n, n));
    }
}
