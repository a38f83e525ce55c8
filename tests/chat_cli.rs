//! The built binary, driven as a user would drive it: `chat --consult` with
//! answers typed line by line (quitting, resuming, going back), `chat` for
//! lookups, `check` on good and broken content, and a bad configuration.
//!
//! Every run gets its own temporary directory with a config file pointing at
//! the repository's `responses/` and a fresh sled directory, so the tests do
//! not depend on the working directory, a developer's `config.toml` or the
//! environment.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use framework_advisor::content::Content;
use framework_advisor::domain::questionnaire::{Answer, Questionnaire};

const BIN: &str = env!("CARGO_BIN_EXE_framework-advisor");
/// A run that takes longer than this is hung (waiting for input it will never get).
const TIMEOUT: Duration = Duration::from_secs(30);

fn responses() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("responses")
}

fn questionnaire() -> Questionnaire {
    Content::load(&responses()).unwrap().questionnaire
}

/// A data directory and a config file of its own.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Self::with_content(&responses())
    }

    fn with_content(content: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = format!("[content]\ndir = {:?}\n", content.display().to_string());
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        Env { dir }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs the binary with `--config` and `--data` of this environment.
    fn run(&self, args: &[&str], input: &str) -> Run {
        let mut all: Vec<String> = vec![
            "--config".into(),
            self.config().display().to_string(),
            "--data".into(),
            self.data().display().to_string(),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        run_bin(&all, input, self.dir.path())
    }

    fn consult(&self, user: &str, lines: &[&str]) -> Run {
        self.run(&["chat", "--consult", "--user", user], &input(lines))
    }
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Run {
    #[track_caller]
    fn assert_ok(&self) -> &Self {
        assert_eq!(self.code, Some(0), "{self:?}");
        self
    }

    /// `(step, total)` of every question shown, in order.
    fn steps(&self) -> Vec<(usize, usize)> {
        self.stdout
            .lines()
            .filter_map(|l| {
                let rest = l.strip_prefix("Step ")?;
                let mut words = rest.split_whitespace();
                let step = words.next()?.parse().ok()?;
                (words.next()? == "of").then_some(())?;
                Some((step, words.next()?.parse().ok()?))
            })
            .collect()
    }

    fn step_numbers(&self) -> Vec<usize> {
        self.steps().into_iter().map(|(s, _)| s).collect()
    }
}

fn input(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Runs the binary in `cwd` with a clean environment (no `FA_*` overrides,
/// no `RUST_LOG`), feeding `input` on stdin and closing it.
fn run_bin(args: &[String], input: &str, cwd: &Path) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, _) in std::env::vars() {
        if key.starts_with("FA_") || key == "RUST_LOG" || key == "DISCORD_TOKEN" {
            cmd.env_remove(key);
        }
    }
    let mut child = cmd.spawn().expect("spawn the binary");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    // Writing and reading in threads: a chatty child must never block on a full pipe.
    let writer = std::thread::spawn(move || {
        // The binary may exit before reading everything (after `q`): ignore EPIPE.
        let _ = stdin.write_all(input.as_bytes());
    });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader_out = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).unwrap();
        s
    });
    let reader_err = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).unwrap();
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            child.kill().unwrap();
            panic!("{BIN} {args:?} did not finish within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    writer.join().unwrap();
    Run {
        code: status.code(),
        stdout: reader_out.join().unwrap(),
        stderr: reader_err.join().unwrap(),
    }
}

/// A consultation profile as option ids, turned into the lines a user types
/// (1-based option numbers, comma-separated for multi-choice). The path
/// follows the questionnaire, taking each question's answer from the profile
/// by id, so profiles do not depend on the order of the questions.
struct Scripted {
    lines: Vec<String>,
    /// `(step, total)` the binary must show before each answer.
    steps: Vec<(usize, usize)>,
}

fn path(profile: &[(&str, &[&str])]) -> Scripted {
    let q = questionnaire();
    let mut answers: Vec<Answer> = Vec::new();
    let mut lines = Vec::new();
    let mut steps = Vec::new();
    while let Some(current) = q.next_question(&answers) {
        let (_, options) = profile
            .iter()
            .find(|(question, _)| *question == current.id)
            .unwrap_or_else(|| panic!("profile has no answer for {:?}", current.id));
        steps.push(q.progress(&answers));
        let numbers: Vec<String> = options
            .iter()
            .map(|o| (current.options.iter().position(|x| x.id == *o).expect("option") + 1).to_string())
            .collect();
        lines.push(numbers.join(","));
        let ids: Vec<String> = options.iter().map(|o| o.to_string()).collect();
        answers.push(q.validate_answer(current, &ids).unwrap());
    }
    assert_eq!(
        answers.len(),
        profile.len(),
        "profile answers questions not on its path"
    );
    Scripted { lines, steps }
}

const DJANGO: &[(&str, &[&str])] = &[
    ("project_type", &["content_site"]),
    ("admin", &["essential"]),
    ("data_model", &["relational"]),
    ("auth", &["roles"]),
    ("templates", &["server_forms"]),
    ("async_needs", &["realtime"]),
    ("realtime_kind", &["chat", "notifications"]),
    ("features", &["languages"]),
    ("scale", &["feature_growth"]),
    ("security", &["regulated"]),
    ("team_size", &["medium"]),
    ("experience", &["django", "fullstack_other"]),
    ("deadline", &["weeks"]),
    ("control", &["conventions"]),
    ("maintenance", &["long_lived"]),
];

fn lines(p: &Scripted) -> Vec<&str> {
    p.lines.iter().map(String::as_str).collect()
}

#[test]
fn full_consultation_ends_with_the_recommendation() {
    let env = Env::new();
    let p = path(DJANGO);
    let run = env.consult("alice", &lines(&p));
    run.assert_ok();
    assert_eq!(run.steps(), p.steps, "{run:?}");
    assert!(run.stdout.contains("=== Recommendation: Django ==="), "{run:?}");
    assert!(run.stdout.contains("Confidence: "), "{run:?}");
    // The reasons are the answers' own words.
    assert!(
        run.stdout.contains("staff need a back office to edit data every day"),
        "{run:?}"
    );
    assert!(
        !run.stdout.contains("Saved."),
        "a completed run is not 'saved for later'"
    );
    // The store counted it.
    let stats = env.run(&["stats"], "");
    stats.assert_ok();
    assert!(
        stats.stdout.contains("1 started, 1 completed, 0 abandoned, 0 active"),
        "{stats:?}"
    );
    assert!(stats.stdout.contains("django 1"), "{stats:?}");
    // A completed consultation is over: the next run starts afresh.
    let again = env.consult("alice", &[]);
    again.assert_ok();
    assert_eq!(again.step_numbers(), [1], "{again:?}");
}

#[test]
fn flask_consultation_with_model_serving_mentions_fastapi() {
    let env = Env::new();
    let p = path(&[
        ("project_type", &["ml_serving"]),
        ("ml_kind", &["simple_predict"]),
        ("admin", &["no_admin"]),
        ("data_model", &["no_db"]),
        ("auth", &["none"]),
        ("async_needs", &["none"]),
        ("scale", &["small_stable"]),
        ("security", &["internal_only"]),
        ("team_size", &["solo"]),
        ("experience", &["flask"]),
        ("deadline", &["flexible"]),
        ("control", &["control"]),
        ("maintenance", &["short"]),
    ]);
    let run = env.consult("alice", &lines(&p));
    run.assert_ok();
    assert_eq!(run.steps(), p.steps, "{run:?}");
    assert!(run.stdout.contains("=== Recommendation: Flask ==="), "{run:?}");
    assert!(run.stdout.contains("FastAPI"), "{run:?}");
}

#[test]
fn quit_midway_then_resume_at_the_same_step() {
    let env = Env::new();
    let p = path(DJANGO);
    let all = lines(&p);
    let mut first: Vec<&str> = all[..4].to_vec();
    first.push("q");
    let run = env.consult("alice", &first);
    run.assert_ok();
    assert_eq!(run.steps(), p.steps[..5], "{run:?}");
    assert!(run.stdout.contains("Saved."), "{run:?}");
    assert!(!run.stdout.contains("==="), "no recommendation yet: {run:?}");

    let resumed = env.consult("alice", &all[4..]);
    resumed.assert_ok();
    assert_eq!(resumed.steps(), p.steps[4..], "resumes at step 5: {resumed:?}");
    assert!(resumed.stdout.lines().any(|l| l.starts_with("Step 5 of ")));
    assert!(resumed.stdout.contains("=== Recommendation: Django ==="), "{resumed:?}");
}

#[test]
fn end_of_input_midway_saves_and_the_next_run_resumes() {
    let env = Env::new();
    let p = path(DJANGO);
    let all = lines(&p);
    let run = env.consult("alice", &all[..7]);
    run.assert_ok();
    assert_eq!(run.steps(), p.steps[..8], "{run:?}");
    assert!(run.stdout.contains("Saved."), "{run:?}");

    // Nothing typed at all: the question is shown again, still saved.
    let peek = env.consult("alice", &[]);
    peek.assert_ok();
    assert_eq!(peek.steps(), p.steps[7..8], "{peek:?}");

    let resumed = env.consult("alice", &all[7..]);
    resumed.assert_ok();
    assert_eq!(resumed.steps(), p.steps[7..], "{resumed:?}");
    assert!(resumed.stdout.contains("=== Recommendation: Django ==="), "{resumed:?}");
}

#[test]
fn back_restart_and_invalid_input() {
    let env = Env::new();
    let run = env.consult("alice", &["b", "1", "99", "abc", "", "1", "b", "r", "1", "q"]);
    run.assert_ok();
    // b on the first question: refused, still step 1. Then 1 -> step 2;
    // 99, abc and an empty line: a hint and step 2 again; 1 -> step 3;
    // b -> step 2; r -> step 1; 1 -> step 2; q.
    assert_eq!(run.step_numbers(), [1, 1, 2, 2, 2, 2, 3, 2, 1, 2], "{run:?}");
    assert!(run.stdout.contains("nothing to go back to"), "{run:?}");
    assert!(run.stdout.contains("\"99\" is not a choice"), "{run:?}");
    assert!(run.stdout.contains("\"abc\" is not a choice"), "{run:?}");
    assert!(run.stdout.contains("Type the number of your answer."), "{run:?}");
    assert!(run.stdout.contains("Starting over from the first question."), "{run:?}");
    // Saved at step 2 with one answer.
    let resumed = env.consult("alice", &[]);
    assert_eq!(resumed.step_numbers(), [2], "{resumed:?}");
}

#[test]
fn single_choice_question_refuses_two_numbers() {
    let env = Env::new();
    let run = env.consult("alice", &["1,2", "q"]);
    run.assert_ok();
    assert_eq!(run.step_numbers(), [1, 1], "{run:?}");
    assert!(run.stdout.contains("Pick exactly 1 (you picked 2)."), "{run:?}");
}

#[test]
fn cancel_ends_the_consultation() {
    let env = Env::new();
    let run = env.consult("alice", &["1", "x", "1"]);
    run.assert_ok();
    assert_eq!(run.step_numbers(), [1, 2], "{run:?}");
    assert!(run.stdout.contains("Consultation cancelled."), "{run:?}");
    let fresh = env.consult("alice", &[]);
    assert_eq!(fresh.step_numbers(), [1], "{fresh:?}");
    assert!(
        fresh.stdout.contains("Let's find the better fit"),
        "a new one starts: {fresh:?}"
    );
    let stats = env.run(&["stats"], "");
    assert!(
        stats.stdout.contains("2 started, 0 completed, 1 abandoned, 1 active"),
        "{stats:?}"
    );
}

#[test]
fn two_users_on_one_data_dir_have_separate_sessions() {
    let env = Env::new();
    let p = path(DJANGO);
    let all = lines(&p);
    let alice = env.consult("alice", &all[..3]);
    alice.assert_ok();
    let bob = env.consult("bob", &["7"]);
    bob.assert_ok();
    assert_eq!(bob.step_numbers(), [1, 2], "bob starts his own: {bob:?}");
    let alice_again = env.consult("alice", &[]);
    assert_eq!(
        alice_again.steps(),
        p.steps[3..4],
        "alice is where she left: {alice_again:?}"
    );
    assert!(
        alice_again.stdout.contains("already have a consultation in progress"),
        "{alice_again:?}"
    );
    let bob_again = env.consult("bob", &["b"]);
    assert_eq!(bob_again.step_numbers(), [2, 1], "{bob_again:?}");
}

#[test]
fn chat_answers_lookups_and_questions() {
    let env = Env::new();
    let run = env.run(
        &["chat", "--user", "alice"],
        &input(&[
            "compare orm",
            "django admin",
            "is flask good for microservices",
            "xyzzy plugh",
            "quit",
            "compare security",
        ]),
    );
    run.assert_ok();
    let out = &run.stdout;
    // compare orm: both sides and a bottom line.
    assert!(out.contains("ORM and migrations: Django vs Flask"), "{run:?}");
    assert!(out.contains("== Django ==") && out.contains("== Flask ==") && out.contains("Bottom line:"));
    // django admin: Django's side of the admin topic.
    assert!(out.contains("Django — Admin and back office"), "{run:?}");
    assert!(out.contains("Django admin"), "{run:?}");
    // A question: the FAQ entry that answers it, with its sources.
    let best = out
        .lines()
        .find_map(|l| l.strip_prefix("Best match: "))
        .expect("a best match");
    assert_eq!(best, "Django or Flask for microservices?", "{run:?}");
    assert!(out.contains("\nSources: https://"), "{run:?}");
    // Nonsense: the honest "don't know" from search.toml, pointing to /consult.
    assert!(
        out.contains("I don't know that one") && out.contains("/consult"),
        "{run:?}"
    );
    // Nothing after quit is read.
    assert!(!out.contains("Security: Django vs Flask"), "{run:?}");
    assert!(run.stderr.is_empty(), "{run:?}");
}

#[test]
fn chat_consult_command_inside_chat() {
    let env = Env::new();
    let run = env.run(&["chat", "--user", "carol"], &input(&["consult", "1", "q", "quit"]));
    run.assert_ok();
    assert_eq!(run.step_numbers(), [1, 2], "{run:?}");
    let resumed = env.consult("carol", &[]);
    assert_eq!(resumed.step_numbers(), [2], "{resumed:?}");
}

#[test]
fn check_accepts_the_real_content() {
    let env = Env::new();
    let run = env.run(&["check"], "");
    run.assert_ok();
    assert!(
        run.stdout.starts_with("ok: configuration valid; 2 frameworks"),
        "{run:?}"
    );
    // Without a config file the content dir defaults to `responses`,
    // relative to the working directory.
    let absent = env.dir.path().join("absent.toml").display().to_string();
    let from_repo = run_bin(
        &["--config".into(), absent, "check".into()],
        "",
        Path::new(env!("CARGO_MANIFEST_DIR")),
    );
    from_repo.assert_ok();
    assert!(from_repo.stdout.contains("in responses"), "{from_repo:?}");
}

#[test]
fn check_refuses_broken_content_naming_the_file() {
    let content = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(responses()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), content.path().join(entry.file_name())).unwrap();
    }
    let topics = content.path().join("topics.toml");
    let text = std::fs::read_to_string(&topics).unwrap();
    assert!(text.contains("title = \"Security\""));
    std::fs::write(&topics, text.replace("title = \"Security\"", "title = \"\"")).unwrap();
    let env = Env::with_content(content.path());
    let run = env.run(&["check"], "");
    assert_ne!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(run.stderr.contains("topics.toml"), "{run:?}");
    assert!(run.stderr.contains("topic \"security\": title is empty"), "{run:?}");
    assert!(!run.stderr.contains("panicked"), "{run:?}");
    // chat refuses to start on it too, the same way.
    let chat = env.consult("alice", &["1"]);
    assert_ne!(chat.code, Some(0), "{chat:?}");
    assert!(chat.stderr.contains("topics.toml"), "{chat:?}");
}

#[test]
fn bad_config_key_is_one_line_naming_the_key() {
    for (config, key) in [
        ("[storage]\npaht = \"x\"\n", "paht"),
        ("[storage]\nsession_ttl_hours = \"soon\"\n", "session_ttl_hours"),
        ("[storage]\nsession_ttl_hours = 0\n", "storage.session_ttl_hours"),
        ("[contnet]\ndir = \"responses\"\n", "contnet"),
    ] {
        let env = Env::new();
        std::fs::write(env.config(), config).unwrap();
        for args in [&["check"][..], &["chat", "--user", "alice"][..]] {
            let run = env.run(args, "quit\n");
            assert_ne!(run.code, Some(0), "{config:?} {args:?}: {run:?}");
            let err = run.stderr.trim_end();
            assert_eq!(err.lines().count(), 1, "{config:?} {args:?}: {run:?}");
            assert!(
                err.starts_with("error: ") && err.contains(key),
                "{config:?} {args:?}: {run:?}"
            );
            assert!(!err.contains("panicked") && !err.contains("backtrace"), "{run:?}");
        }
    }
}

// ---------------------------------------------------------------------------
// `chat --team NAMES`: a team consultation simulated with named voters.

const TEAM: &str = "alice,bob,carol";
const VOTERS: [&str; 3] = ["alice", "bob", "carol"];

impl Env {
    fn team(&self, names: &str, lines: &[&str]) -> Run {
        self.run(&["chat", "--team", names], &input(lines))
    }
}

/// Who voted for what, question by question, and the lines that cast it.
struct TeamPlan {
    /// Per round (one per question on the path): one line per voter.
    rounds: Vec<Vec<String>>,
    /// `(step, total)` shown before each round.
    steps: Vec<(usize, usize)>,
    /// Per answered question: (question id, per voter the 0-based option
    /// indexes, `None` = abstained).
    votes: Vec<(String, Vec<Option<Vec<usize>>>)>,
}

/// A fixed voting pattern: alice always votes and cycles through the
/// options; bob sticks to the first ones; carol abstains every other question
/// and otherwise takes the last ones. The path follows the team's answers
/// (plurality, as the library resolves them).
fn team_plan() -> TeamPlan {
    use framework_advisor::domain::team::{resolve, TeamState};
    let q = questionnaire();
    let mut team = TeamState::default();
    let mut answers: Vec<Answer> = Vec::new();
    let mut plan = TeamPlan {
        rounds: vec![],
        steps: vec![],
        votes: vec![],
    };
    while let Some(current) = q.next_question(&answers) {
        let i = answers.len();
        assert!(i < 50, "the path never ends");
        plan.steps.push(q.progress(&answers));
        let n = current.options.len();
        let (min, max) = current.choice_bounds();
        let k = 2.clamp(min, max);
        let picks: Vec<Option<Vec<usize>>> = vec![
            Some((0..k).map(|j| (i + j) % n).collect()),
            Some((0..k).collect()),
            (i % 2 == 1).then(|| (0..k).map(|j| n - 1 - j).collect()),
        ];
        let mut lines = Vec::new();
        for (voter, pick) in VOTERS.iter().zip(&picks) {
            match pick {
                Some(p) => {
                    lines.push(p.iter().map(|x| (x + 1).to_string()).collect::<Vec<_>>().join(","));
                    let ids: Vec<String> = p.iter().map(|&x| current.options[x].id.clone()).collect();
                    let valid = q.validate_answer(current, &ids).unwrap();
                    team.vote(&current.id, voter, voter, valid.options);
                }
                None => lines.push("-".into()),
            }
        }
        plan.rounds.push(lines);
        plan.votes.push((current.id.clone(), picks));
        answers.push(resolve(&team, current).unwrap());
    }
    plan
}

impl TeamPlan {
    fn lines(&self) -> Vec<&str> {
        self.rounds.iter().flatten().map(String::as_str).collect()
    }

    /// The "Every question" lines the binary must print, and the overall agreement.
    fn expected_splits(&self) -> (Vec<String>, f64) {
        let q = questionnaire();
        let mut lines = Vec::new();
        let mut agreement = 0.0;
        for (question, picks) in &self.votes {
            let question = q.question(question).unwrap();
            let voters = picks.iter().flatten().count();
            let mut counts: Vec<(usize, usize)> = (0..question.options.len())
                .map(|o| (o, picks.iter().flatten().filter(|p| p.contains(&o)).count()))
                .filter(|(_, n)| *n > 0)
                .collect();
            // Most votes first; the questionnaire order breaks ties.
            counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            agreement += counts[0].1 as f64 / voters as f64;
            let parts: Vec<String> = counts
                .iter()
                .map(|(o, n)| format!("{} {n}", question.options[*o].label))
                .collect();
            lines.push(format!(
                "  {}: {} ({voters} voters)",
                question.prompt,
                parts.join(" · ")
            ));
        }
        (lines, agreement / self.votes.len() as f64)
    }

    #[track_caller]
    fn assert_result(&self, run: &Run) {
        let (splits, agreement) = self.expected_splits();
        let out = &run.stdout;
        let every = out.split("\nEvery question:\n").nth(1).expect("the splits");
        let printed: Vec<&str> = every.lines().take_while(|l| l.starts_with("  ")).collect();
        assert_eq!(printed, splits, "{run:?}");
        assert!(
            out.contains(&format!("Agreement: {:.0}% ", agreement * 100.0)),
            "agreement {agreement}: {run:?}"
        );
        assert!(out.contains("=== How united the team was ==="), "{run:?}");
        assert!(out.contains("Where the team split most:"), "{run:?}");
        for voter in VOTERS {
            let line = out
                .lines()
                .find_map(|l| l.trim().strip_prefix(&format!("{voter} alone: ")))
                .unwrap_or_else(|| panic!("no line for {voter}: {run:?}"));
            assert!(
                (line.starts_with("Recommendation: ") || line.starts_with("A close call")) && line.ends_with("%)"),
                "{voter}: {line}"
            );
        }
    }
}

#[test]
fn team_run_to_completion_prints_splits_matching_the_votes() {
    let env = Env::new();
    let plan = team_plan();
    let run = env.team(TEAM, &plan.lines());
    run.assert_ok();
    assert!(run
        .stdout
        .starts_with("Team consultation with alice (facilitator), bob and carol."));
    assert_eq!(run.steps(), plan.steps, "{run:?}");
    // A tally after every round, naming who voted.
    let tallies: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("Tally: ")).collect();
    let expected: Vec<&str> = plan
        .votes
        .iter()
        .map(|(_, picks)| match picks[2] {
            Some(_) => "Tally: 3 voters (alice, bob, carol)",
            None => "Tally: 2 voters (alice, bob)",
        })
        .collect();
    assert_eq!(tallies, expected, "{run:?}");
    // The first round's tally: alice and bob both picked option 1.
    let first = questionnaire().questions[0].options[0].label.clone();
    assert!(run.stdout.contains(&format!("    2 ████████  1) {first}")), "{run:?}");
    assert!(
        run.stdout.contains("=== Team recommendation: ") || run.stdout.contains("=== A close call"),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("The team's recommendation (3 members voted · "),
        "{run:?}"
    );
    plan.assert_result(&run);
    assert!(!run.stdout.contains("Saved."), "{run:?}");
    assert!(run.stderr.is_empty(), "{run:?}");
    // The store counted it as a completed team consultation.
    let stats = env.run(&["stats"], "");
    assert!(
        stats
            .stdout
            .contains("Team consultations: 1 started, 1 completed, 0 abandoned; 3 participants"),
        "{stats:?}"
    );
    // Over: the same command starts a new one.
    let again = env.team(TEAM, &[]);
    again.assert_ok();
    assert!(again.stdout.starts_with("Team consultation with "), "{again:?}");
    assert_eq!(again.step_numbers(), [1], "{again:?}");
}

#[test]
fn team_quit_midway_then_rerun_resumes_with_the_votes_kept() {
    let env = Env::new();
    let plan = team_plan();
    // Two full rounds, then alice votes on the third question and bob quits.
    let mut first: Vec<&str> = plan.rounds[..2].iter().flatten().map(String::as_str).collect();
    first.push(&plan.rounds[2][0]);
    first.push("q");
    let run = env.team(TEAM, &first);
    run.assert_ok();
    assert_eq!(run.steps(), plan.steps[..3], "{run:?}");
    assert!(run.stdout.contains("Saved. Run the same command again"), "{run:?}");
    assert!(!run.stdout.contains("==="), "no recommendation yet: {run:?}");

    // The same command: the third question again, alice's vote kept, and the
    // round goes on with bob and carol.
    let mut rest: Vec<&str> = plan.rounds[2][1..].iter().map(String::as_str).collect();
    rest.extend(plan.rounds[3..].iter().flatten().map(String::as_str));
    let resumed = env.team(TEAM, &rest);
    resumed.assert_ok();
    assert!(
        resumed
            .stdout
            .starts_with("Resuming the team consultation facilitated by alice"),
        "{resumed:?}"
    );
    assert_eq!(resumed.steps(), plan.steps[2..], "{resumed:?}");
    assert!(
        resumed
            .stdout
            .contains("Already voted on this question: alice. The round goes on with bob, carol."),
        "{resumed:?}"
    );
    // Every split (the resumed question included) is what the plan cast.
    plan.assert_result(&resumed);
}

#[test]
fn team_end_of_input_saves_and_the_next_run_shows_the_votes_so_far() {
    let env = Env::new();
    let run = env.team(TEAM, &["2", "3"]);
    run.assert_ok();
    assert!(run.stdout.contains("Saved."), "{run:?}");
    let peek = env.team(TEAM, &[]);
    peek.assert_ok();
    assert_eq!(peek.step_numbers(), [1], "{peek:?}");
    assert!(
        peek.stdout
            .contains("Already voted on this question: alice, bob. The round goes on with carol."),
        "{peek:?}"
    );
    // carol's turn: then the tally has all three.
    let done = env.team(TEAM, &["2", "q"]);
    assert_eq!(done.step_numbers(), [1, 2], "{done:?}");
    assert!(done.stdout.contains("Tally: 3 voters (alice, bob, carol)"), "{done:?}");
    let second = questionnaire().questions[0].options[1].label.clone();
    assert!(
        done.stdout.contains(&format!("    2 █████░░░  2) {second}")),
        "{done:?}"
    );
}

#[test]
fn team_only_the_facilitator_goes_back_finishes_or_cancels() {
    let env = Env::new();
    let run = env.team(
        TEAM,
        &[
            "1", "b", "f", "x", "2", "-", // step 1: bob tries b, f, x, then votes
            "b", // step 2: alice goes back
            "-", "-", "x", "-", // step 1 again: earlier votes stand; carol is refused
            "x", // step 2: alice cancels
            "1",
        ],
    );
    run.assert_ok();
    assert_eq!(run.step_numbers(), [1, 2, 1, 2], "{run:?}");
    let refusals = "only the facilitator (alice) can go back, finish early or cancel.";
    assert_eq!(run.stdout.matches(&format!("bob: {refusals}")).count(), 3, "{run:?}");
    assert_eq!(run.stdout.matches(&format!("carol: {refusals}")).count(), 1, "{run:?}");
    assert!(
        run.stdout
            .contains("Already voted on this question: alice, bob (an empty line or - keeps an earlier vote)."),
        "{run:?}"
    );
    assert_eq!(run.stdout.matches("Tally: 2 voters (alice, bob)").count(), 2, "{run:?}");
    assert!(run.stdout.contains("Team consultation cancelled."), "{run:?}");
    let fresh = env.team(TEAM, &[]);
    assert!(fresh.stdout.starts_with("Team consultation with "), "{fresh:?}");
    assert_eq!(fresh.step_numbers(), [1], "{fresh:?}");
}

#[test]
fn team_facilitator_finishes_early() {
    let env = Env::new();
    let run = env.team(TEAM, &["1", "1", "2", "f"]);
    run.assert_ok();
    assert_eq!(run.step_numbers(), [1, 2], "{run:?}");
    assert!(
        run.stdout
            .contains("The team's recommendation (3 members voted · 3 votes)"),
        "{run:?}"
    );
    let q = questionnaire();
    let first = &q.questions[0];
    assert!(
        run.stdout.contains(&format!(
            "\nEvery question:\n  {}: {} 2 · {} 1 (3 voters)",
            first.prompt, first.options[0].label, first.options[1].label
        )),
        "{run:?}"
    );
    // A 2-1 split is disputed: each side with where it pushes.
    assert!(run
        .stdout
        .contains(&format!("  {}: {} (2) → toward ", first.prompt, first.options[0].label)));
    assert!(run.stdout.contains("Agreement: 67% "), "{run:?}");
}

#[test]
fn team_invalid_input_gets_a_hint_and_the_same_voter_is_asked_again() {
    let env = Env::new();
    let run = env.team(
        TEAM,
        &[
            "b", "f", "99", "abc", "1,2", "1", // alice: refused or hinted, then votes
            "two", "-", "-", // bob: a hint, abstains; carol abstains
        ],
    );
    run.assert_ok();
    assert!(
        run.stdout
            .contains("alice: This is the first question; there is nothing to go back to."),
        "{run:?}"
    );
    assert!(run.stdout.contains("Nothing to finish with yet"), "{run:?}");
    assert!(
        run.stdout
            .contains("alice: \"99\" is not a choice: type a number from 1 to "),
        "{run:?}"
    );
    assert!(run.stdout.contains("alice: \"abc\" is not a choice"), "{run:?}");
    assert!(run.stdout.contains("alice: Pick exactly 1 (you picked 2)."), "{run:?}");
    assert!(run.stdout.contains("bob: \"two\" is not a choice"), "{run:?}");
    assert!(run.stdout.contains("Tally: 1 voter (alice)"), "{run:?}");
    assert_eq!(run.step_numbers(), [1, 2], "{run:?}");

    // A round where nobody votes is asked again.
    let env = Env::new();
    let run = env.team(TEAM, &["-", "", "-", "-", "1"]);
    run.assert_ok();
    assert!(run.stdout.contains("Tally: 0 voters"), "{run:?}");
    assert!(run.stdout.contains("Nobody voted on this question"), "{run:?}");
    assert_eq!(run.step_numbers(), [1, 1], "{run:?}");
}

#[test]
fn team_bad_names_are_a_one_line_error() {
    let env = Env::new();
    for (names, expect) in [
        ("alice", "2 to 25 names"),
        ("alice,bob,alice", "\"alice\" appears more than once"),
        ("alice, ,bob", "empty name"),
        ("alice,bob,", "empty name"),
    ] {
        let run = env.team(names, &["1"]);
        assert_eq!(run.code, Some(2), "{names:?}: {run:?}");
        let err = run.stderr.trim_end();
        assert_eq!(err.lines().count(), 1, "{names:?}: {run:?}");
        assert!(
            err.starts_with("error: --team: ") && err.contains(expect),
            "{names:?}: {run:?}"
        );
        assert!(run.stdout.is_empty(), "{run:?}");
    }
    // Not together with another user (`--consult` is allowed: `chat --consult --team`).
    let run = env.run(&["chat", "--team", TEAM, "--user=dave"], "1\n");
    assert_eq!(run.code, Some(2), "--user: {run:?}");
    assert!(run.stderr.contains("cannot be used with"), "{run:?}");
    // Nothing was started.
    let stats = env.run(&["stats"], "");
    assert!(stats.stdout.contains("Team consultations: 0 started"), "{stats:?}");
}

// `chat --consult [--team NAMES] --chart FILE.png --record FILE.md`: the
// finished consultation's picture and decision record.

/// Decodes a PNG: (width, height).
fn png_size(path: &Path) -> (u32, u32) {
    let file = std::fs::File::open(path).expect("the chart was written");
    let reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("the chart is a PNG");
    (reader.info().width, reader.info().height)
}

/// The decision record, checked for the MADR headings and the absence of `@`.
fn read_record(path: &Path) -> String {
    let md = std::fs::read_to_string(path).expect("the record was written");
    assert!(md.starts_with("# "), "{md}");
    for heading in ["## Context", "## Decision", "## Consequences"] {
        assert!(md.contains(heading), "{heading} in\n{md}");
    }
    assert!(!md.contains('@'), "nothing that could ping:\n{md}");
    md
}

#[test]
fn chart_and_record_of_a_private_consultation() {
    let env = Env::new();
    let (chart, record) = (env.dir.path().join("result.png"), env.dir.path().join("result.md"));
    let p = path(DJANGO);
    let mut args = vec!["chat", "--consult", "--user", "alice"];
    let (c, r) = (chart.display().to_string(), record.display().to_string());
    args.extend(["--chart", &c, "--record", &r]);
    let run = env.run(&args, &input(&lines(&p)));
    run.assert_ok();
    let (w, h) = png_size(&chart);
    assert!(w >= 600 && h >= 150 + 30 * (DJANGO.len() as u32 - 1), "{w}x{h}");
    let md = read_record(&record);
    assert!(md.contains("Django"), "{md}");
    // Every answer is in the context.
    assert!(md.contains("staff need") || md.contains("Content"), "{md}");
    assert!(run.stdout.contains(&c), "{run:?}");
}

#[test]
fn chart_and_record_of_a_team_consultation() {
    let env = Env::new();
    let (chart, record) = (env.dir.path().join("team.png"), env.dir.path().join("team.md"));
    let plan = team_plan();
    let (c, r) = (chart.display().to_string(), record.display().to_string());
    let run = env.run(
        &["chat", "--consult", "--team", TEAM, "--chart", &c, "--record", &r],
        &input(&plan.lines()),
    );
    run.assert_ok();
    let (w, h) = png_size(&chart);
    assert!(w >= 600 && h >= 150 + 36 * (plan.votes.len() as u32 - 1), "{w}x{h}");
    let md = read_record(&record);
    for voter in VOTERS {
        assert!(md.contains(voter), "{voter} in\n{md}");
    }
    assert!(md.contains("Participants"), "{md}");
}

#[test]
fn unfinished_consultation_writes_neither_file_and_says_so() {
    let env = Env::new();
    let (chart, record) = (env.dir.path().join("x.png"), env.dir.path().join("x.md"));
    let (c, r) = (chart.display().to_string(), record.display().to_string());
    let run = env.run(
        &["chat", "--consult", "--user", "bob", "--chart", &c, "--record", &r],
        &input(&["1", "q"]),
    );
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.contains("did not finish"), "{run:?}");
    assert!(!chart.exists() && !record.exists());
}
