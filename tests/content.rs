//! `responses/`: the real content loads and meets the product's requirements,
//! and every kind of mistake an editor can make is refused at load time with
//! an error naming the file, the entry and the problem.
//!
//! Broken cases are built by copying the repository's `responses/` into a
//! temporary directory and applying one textual edit (written out below), so
//! each case differs from the real content by exactly the mistake it tests.

use std::fs;
use std::path::{Path, PathBuf};

use framework_advisor::content::{
    Content, ContentError, ContentErrors, ADVICE_FILE, FRAMEWORKS_FILE, MESSAGES_FILE, QUESTIONNAIRE_FILE, TOPICS_FILE,
};
use framework_advisor::domain::questionnaire::QuestionKind;

fn responses() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("responses")
}

fn load_real() -> Content {
    Content::load(&responses()).unwrap_or_else(|e| panic!("responses/ must load:\n{e}"))
}

/// A copy of `responses/` in a temporary directory.
fn copy_responses() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in fs::read_dir(responses()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
    }
    dir
}

/// Replaces the first occurrence of `from` with `to` in `file`; returns the
/// 1-based line where the edit starts.
fn edit(dir: &Path, file: &str, from: &str, to: &str) -> usize {
    let path = dir.join(file);
    let text = fs::read_to_string(&path).unwrap();
    let at = text
        .find(from)
        .unwrap_or_else(|| panic!("fixture edit: {from:?} not found in {file}; update the test"));
    fs::write(&path, format!("{}{}{}", &text[..at], to, &text[at + from.len()..])).unwrap();
    text[..at].matches('\n').count() + 1
}

/// Copies `responses/`, applies one edit, and returns the errors of loading
/// it (panicking if it loads) plus the line of the edit.
fn broken(file: &str, from: &str, to: &str) -> (Vec<ContentError>, usize) {
    let dir = copy_responses();
    let line = edit(dir.path(), file, from, to);
    (load_err(dir.path()), line)
}

fn load_err(dir: &Path) -> Vec<ContentError> {
    match Content::load(dir) {
        Ok(_) => panic!("content in {} loaded but should not", dir.display()),
        Err(ContentErrors(list)) => {
            assert!(!list.is_empty(), "an error with no problems listed");
            list
        }
    }
}

/// Asserts that exactly one problem was reported, in `file`, for `entry`,
/// with a message containing every part of `says`.
#[track_caller]
fn assert_one(errors: &[ContentError], file: &str, entry: &str, says: &[&str]) {
    assert_eq!(errors.len(), 1, "expected one problem, got:\n{}", show(errors));
    assert_problem(errors, file, entry, says);
}

/// Asserts that one of the problems is in `file`, for `entry`, and says `says`.
#[track_caller]
fn assert_problem(errors: &[ContentError], file: &str, entry: &str, says: &[&str]) {
    let found = errors
        .iter()
        .any(|e| e.file.ends_with(file) && e.entry == entry && says.iter().all(|s| e.message.contains(s)));
    assert!(
        found,
        "no problem in {file} / {entry} saying {says:?}; got:\n{}",
        show(errors)
    );
    for e in errors {
        // The Display form is what `check` prints: file, entry and message on one line.
        let shown = e.to_string();
        assert!(
            shown.starts_with(&e.file) && shown.contains(&e.entry) && !shown.contains('\n'),
            "{shown}"
        );
    }
}

fn show(errors: &[ContentError]) -> String {
    errors.iter().map(|e| format!("  - {e}\n")).collect()
}

fn line_marker(line: usize) -> String {
    format!("line {line}")
}

// ---------------------------------------------------------------------------
// The real content

#[test]
fn real_content_loads() {
    let c = load_real();
    let ids: Vec<&str> = c.knowledge.frameworks.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["django", "flask"]);
}

#[test]
fn questionnaire_meets_requirements() {
    let c = load_real();
    let q = &c.questionnaire;
    assert!(q.questions.len() >= 10, "{} questions", q.questions.len());
    let multi = q.questions.iter().filter(|x| x.kind == QuestionKind::Multi).count();
    assert!(multi >= 2, "{multi} multi-choice questions");
    let branching = q
        .questions
        .iter()
        .filter(|x| x.show_if.is_some() || x.skip_if.is_some())
        .count();
    assert!(branching >= 3, "{branching} branching rules");
    // Every option of every question has a weight for both frameworks.
    for question in &q.questions {
        for o in &question.options {
            assert!(
                o.weights.contains_key("django") && o.weights.contains_key("flask"),
                "{}/{}",
                question.id,
                o.id
            );
        }
    }
    // The first question is asked unconditionally.
    assert_eq!(
        q.next_question(&[]).map(|x| x.id.as_str()),
        Some(q.questions[0].id.as_str())
    );
}

#[test]
fn every_required_topic_is_present_with_both_sides() {
    let c = load_real();
    let kb = &c.knowledge;
    for id in [
        "features",
        "batteries",
        "orm",
        "auth",
        "admin",
        "rest_api",
        "async",
        "performance",
        "scalability",
        "security",
        "learning_curve",
        "ecosystem",
        "use_cases",
        "releases",
        "who_uses_it",
    ] {
        let t = kb.topic(id).unwrap_or_else(|| panic!("topic {id} is missing"));
        for fw in ["django", "flask"] {
            let side = t.side(fw).unwrap();
            assert!(side.trim().len() > 40, "topic {id} has a thin {fw} side: {side:?}");
        }
        assert!(!t.comparison.trim().is_empty(), "topic {id} has no comparison");
        assert_eq!(kb.topic_by_name(id).map(|t| t.id.as_str()), Some(id));
    }
    // Every topic, required or not, has both sides and a bottom line.
    for t in &kb.topics {
        assert!(
            !t.django.trim().is_empty() && !t.flask.trim().is_empty(),
            "topic {}",
            t.id
        );
        assert!(!t.comparison.trim().is_empty(), "topic {}", t.id);
    }
}

#[test]
fn every_topic_name_resolves_to_its_topic() {
    let c = load_real();
    let kb = &c.knowledge;
    for t in &kb.topics {
        for name in std::iter::once(&t.title).chain(&t.aliases) {
            assert_eq!(
                kb.topic_by_name(name).map(|x| x.id.as_str()),
                Some(t.id.as_str()),
                "{name:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Unknown keys (deny_unknown_fields) in each file: a parse error that names
// the key and the line.

#[test]
fn unknown_key_in_frameworks() {
    let (errors, line) = broken(
        FRAMEWORKS_FILE,
        "colour = 0x0C4B33\n",
        "colour = 0x0C4B33\ncolor = 0x0C4B33\n",
    );
    assert_one(
        &errors,
        FRAMEWORKS_FILE,
        "parse",
        &["unknown field `color`", &line_marker(line + 1)],
    );
}

#[test]
fn unknown_key_in_topics() {
    let (errors, line) = broken(TOPICS_FILE, "id = \"orm\"\n", "id = \"orm\"\nsummary = \"an ORM\"\n");
    assert_one(
        &errors,
        TOPICS_FILE,
        "parse",
        &["unknown field `summary`", &line_marker(line + 1)],
    );
}

#[test]
fn unknown_key_in_questionnaire() {
    let (errors, line) = broken(
        QUESTIONNAIRE_FILE,
        "id = \"essential\"\n",
        "id = \"essential\"\nweight = { django = 4, flask = 0 }\n",
    );
    assert_one(
        &errors,
        QUESTIONNAIRE_FILE,
        "parse",
        &["unknown field `weight`", &line_marker(line + 1)],
    );
}

#[test]
fn unknown_key_in_messages() {
    let (errors, line) = broken(
        MESSAGES_FILE,
        "lean_even = \"Even so far\"\n",
        "lean_even = \"Even so far\"\nlean_neutral = \"Neutral\"\n",
    );
    assert_one(
        &errors,
        MESSAGES_FILE,
        "parse",
        &["unknown field `lean_neutral`", &line_marker(line + 1)],
    );
}

#[test]
fn toml_syntax_error_names_the_line() {
    let (errors, line) = broken(TOPICS_FILE, "id = \"orm\"\n", "id = \"orm\n");
    assert_one(&errors, TOPICS_FILE, "parse", &[&line_marker(line)]);
}

// ---------------------------------------------------------------------------
// Questionnaire: weights, branching, ids, Discord limits, signals.

#[test]
fn weight_for_an_unknown_framework() {
    let (errors, _) = broken(
        QUESTIONNAIRE_FILE,
        "weights = { django = 3, flask = 0 }\nreaction = \"Content sites",
        "weights = { django = 3, flask = 0, fastapi = 2 }\nreaction = \"Content sites",
    );
    assert_one(
        &errors,
        QUESTIONNAIRE_FILE,
        "question \"project_type\", option \"content_site\"",
        &["unknown framework \"fastapi\""],
    );
}

#[test]
fn weight_out_of_range() {
    let (errors, _) = broken(
        QUESTIONNAIRE_FILE,
        "weights = { django = 4, flask = 0 }\nreaction = \"That's exactly",
        "weights = { django = 6, flask = 0 }\nreaction = \"That's exactly",
    );
    assert_one(
        &errors,
        QUESTIONNAIRE_FILE,
        "question \"admin\", option \"essential\"",
        &["django = 6", "outside -5..=5"],
    );
}

#[test]
fn weight_missing_for_one_framework() {
    let (errors, _) = broken(
        QUESTIONNAIRE_FILE,
        "weights = { django = 4, flask = 0 }\nreaction = \"That's exactly",
        "weights = { django = 4 }\nreaction = \"That's exactly",
    );
    assert_one(
        &errors,
        QUESTIONNAIRE_FILE,
        "question \"admin\", option \"essential\"",
        &["no \"flask\""],
    );
}

#[test]
fn show_if_on_an_unknown_question() {
    let (errors, _) = broken(
        QUESTIONNAIRE_FILE,
        "show_if = { question = \"project_type\", any_of = [\"ml_serving\"] }",
        "show_if = { question = \"project_kind\", any_of = [\"ml_serving\"] }",
    );
    assert_one(
        &errors,
        QUESTIONNAIRE_FILE,
        "question \"ml_kind\"",
        &["show_if", "unknown question \"project_kind\""],
    );
}

#[test]
fn skip_if_on_a_later_question() {
    let (errors, _) = broken(
        QUESTIONNAIRE_FILE,
        "skip_if = { question = \"project_type\", any_of = [\"api_only\", \"microservice\", \"ml_serving\"] }",
        "skip_if = { question = \"scale\", any_of = [\"high_traffic\"] }",
    );
    assert_one(
        &errors,
        QUESTIONNAIRE_FILE,
        "question \"templates\"",
        &["skip_if", "\"scale\"", "not an earlier question"],
    );
}

#[test]
fn condition_on_an_option_that_does_not_exist() {
    let (errors, _) = broken(
        QUESTIONNAIRE_FILE,
        "any_of = [\"api_only\", \"microservice\", \"saas\"]",
        "any_of = [\"api_only\", \"micro_service\", \"saas\"]",
    );
    assert_one(
        &errors,
        QUESTIONNAIRE_FILE,
        "question \"api_style\"",
        &["show_if", "option \"micro_service\"", "\"project_type\" does not have"],
    );
}

#[test]
fn question_skipped_by_every_answer_is_unreachable() {
    // project_type is always asked; skipping templates for all 8 of its options
    // means no path ever asks templates.
    let (errors, _) = broken(
        QUESTIONNAIRE_FILE,
        "any_of = [\"api_only\", \"microservice\", \"ml_serving\"] }",
        "any_of = [\"content_site\", \"ecommerce\", \"saas\", \"internal_tool\", \"api_only\", \"microservice\", \"ml_serving\", \"prototype\"] }",
    );
    assert_one(&errors, QUESTIONNAIRE_FILE, "question \"templates\"", &["unreachable"]);
}

#[test]
fn question_shown_only_after_an_unreachable_one_is_unreachable_too() {
    // ml_kind made unreachable (skipped for every project_type), and
    // api_style shown only after a given ml_kind answer: neither is ever asked.
    let dir = copy_responses();
    edit(
        dir.path(),
        QUESTIONNAIRE_FILE,
        "show_if = { question = \"project_type\", any_of = [\"ml_serving\"] }",
        "skip_if = { question = \"project_type\", any_of = [\"content_site\", \"ecommerce\", \"saas\", \"internal_tool\", \"api_only\", \"microservice\", \"ml_serving\", \"prototype\"] }",
    );
    edit(
        dir.path(),
        QUESTIONNAIRE_FILE,
        "show_if = { question = \"project_type\", any_of = [\"api_only\", \"microservice\", \"saas\"] }",
        "show_if = { question = \"ml_kind\", any_of = [\"in_product\"] }",
    );
    let errors = load_err(dir.path());
    assert_eq!(errors.len(), 2, "{}", show(&errors));
    assert_problem(&errors, QUESTIONNAIRE_FILE, "question \"ml_kind\"", &["unreachable"]);
    assert_problem(&errors, QUESTIONNAIRE_FILE, "question \"api_style\"", &["unreachable"]);
}

#[test]
fn duplicate_question_id() {
    let (errors, _) = broken(QUESTIONNAIRE_FILE, "id = \"maintenance\"\n", "id = \"deadline\"\n");
    assert_problem(&errors, QUESTIONNAIRE_FILE, "question \"deadline\"", &["defined twice"]);
    // The advice that named the renamed question is reported too.
    assert_problem(
        &errors,
        ADVICE_FILE,
        "experiments.maintenance",
        &["unknown question \"maintenance\""],
    );
}

#[test]
fn duplicate_option_id_in_one_question() {
    let (errors, _) = broken(QUESTIONNAIRE_FILE, "id = \"occasional\"\n", "id = \"essential\"\n");
    // Advice conditions naming "admin.occasional" are reported as well.
    assert_problem(
        &errors,
        QUESTIONNAIRE_FILE,
        "question \"admin\", option \"essential\"",
        &["defined twice"],
    );
}

#[test]
fn option_label_of_81_characters() {
    let label = "x".repeat(81);
    let (errors, _) = broken(
        QUESTIONNAIRE_FILE,
        "label = \"A simple predict endpoint for one model\"",
        &format!("label = \"{label}\""),
    );
    assert_one(
        &errors,
        QUESTIONNAIRE_FILE,
        "question \"ml_kind\", option \"simple_predict\"",
        &["label is 81 characters", "80"],
    );
}

#[test]
fn option_label_of_80_characters_is_fine() {
    let dir = copy_responses();
    // Multi-byte characters count as one each, as Discord counts them.
    let label = "é".repeat(80);
    edit(
        dir.path(),
        QUESTIONNAIRE_FILE,
        "label = \"A simple predict endpoint for one model\"",
        &format!("label = \"{label}\""),
    );
    let c = Content::load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let q = c.questionnaire.question("ml_kind").unwrap();
    assert_eq!(q.option("simple_predict").unwrap().label, label);
}

/// `n` extra options for the last question (`[[question.option]]` tables
/// attach to the question above them).
fn extra_options(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "\n[[question.option]]\nid = \"extra_{i}\"\nlabel = \"Extra {i}\"\n\
                 weights = {{ django = 0, flask = 0 }}\nreaction = \"Noted.\"\nreason = \"extra {i}\"\n"
            )
        })
        .collect()
}

#[test]
fn twenty_six_options_in_one_question() {
    let dir = copy_responses();
    let c = load_real();
    let last = c.questionnaire.questions.last().unwrap();
    let path = dir.path().join(QUESTIONNAIRE_FILE);
    let mut text = fs::read_to_string(&path).unwrap();
    text.push_str(&extra_options(26 - last.options.len()));
    fs::write(&path, text).unwrap();
    let errors = load_err(dir.path());
    assert_one(
        &errors,
        QUESTIONNAIRE_FILE,
        &format!("question {:?}", last.id),
        &["has 26 options", "2..=25"],
    );
}

#[test]
fn twenty_five_options_in_one_question_is_fine() {
    let dir = copy_responses();
    let c = load_real();
    let last = c.questionnaire.questions.last().unwrap();
    let path = dir.path().join(QUESTIONNAIRE_FILE);
    let mut text = fs::read_to_string(&path).unwrap();
    text.push_str(&extra_options(25 - last.options.len()));
    fs::write(&path, text).unwrap();
    let loaded = Content::load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.questionnaire.question(&last.id).unwrap().options.len(), 25);
}

#[test]
fn question_with_one_option() {
    let dir = copy_responses();
    let path = dir.path().join(QUESTIONNAIRE_FILE);
    let text = fs::read_to_string(&path).unwrap();
    let text = format!(
        "{text}\n[[question]]\nid = \"lonely\"\nprompt = \"Only one way?\"\nkind = \"single\"\n{}",
        extra_options(1)
    );
    fs::write(&path, text).unwrap();
    let errors = load_err(dir.path());
    assert_one(&errors, QUESTIONNAIRE_FILE, "question \"lonely\"", &["has 1 options"]);
}

#[test]
fn reaction_of_201_characters() {
    let reaction = "y".repeat(201);
    let (errors, _) = broken(
        QUESTIONNAIRE_FILE,
        "reaction = \"A few routes is Flask's sweet spot: little code, easy to read.\"",
        &format!("reaction = \"{reaction}\""),
    );
    assert_one(
        &errors,
        QUESTIONNAIRE_FILE,
        "question \"api_style\", option \"few_endpoints\"",
        &["reaction is 201 characters", "at most 200"],
    );
}

#[test]
fn unknown_signal() {
    let (errors, _) = broken(
        QUESTIONNAIRE_FILE,
        "signals = [\"ml_serving\", \"async_api\"]",
        "signals = [\"ml_serving\", \"async\"]",
    );
    assert_one(
        &errors,
        QUESTIONNAIRE_FILE,
        "question \"ml_kind\", option \"high_concurrency\"",
        &["unknown signal \"async\"", "async_api"],
    );
}

#[test]
fn multi_choice_bounds_that_do_not_fit() {
    let (errors, _) = broken(QUESTIONNAIRE_FILE, "max_choices = 5\n", "max_choices = 6\n");
    assert_one(
        &errors,
        QUESTIONNAIRE_FILE,
        "question \"realtime_kind\"",
        &["1..=6", "5 options"],
    );
}

#[test]
fn choice_bounds_on_a_single_choice_question() {
    let (errors, _) = broken(
        QUESTIONNAIRE_FILE,
        "id = \"deadline\"\n",
        "id = \"deadline\"\nmax_choices = 2\n",
    );
    assert_one(
        &errors,
        QUESTIONNAIRE_FILE,
        "question \"deadline\"",
        &["only apply to kind = \"multi\""],
    );
}

#[test]
fn option_id_that_cannot_travel_in_a_custom_id() {
    let (errors, _) = broken(
        QUESTIONNAIRE_FILE,
        "id = \"batch_scoring\"\n",
        "id = \"Batch Scoring\"\n",
    );
    // Advice conditions naming "ml_kind.batch_scoring" are reported as well.
    assert_problem(
        &errors,
        QUESTIONNAIRE_FILE,
        "question \"ml_kind\", option \"Batch Scoring\"",
        &["a-z, 0-9 and _"],
    );
}

// ---------------------------------------------------------------------------
// Topics and facts.

#[test]
fn topic_with_an_empty_flask_side() {
    let dir = copy_responses();
    let path = dir.path().join(TOPICS_FILE);
    let text = fs::read_to_string(&path).unwrap();
    let topic = text.find("id = \"batteries\"").expect("batteries topic");
    let start = topic + text[topic..].find("\nflask = ").expect("batteries has a flask side") + 1;
    let end = start + text[start..].find('\n').unwrap();
    assert!(text[start..end].ends_with('"'), "the batteries flask side is one line");
    fs::write(&path, format!("{}flask = \"  \"{}", &text[..start], &text[end..])).unwrap();
    let errors = load_err(dir.path());
    assert_one(&errors, TOPICS_FILE, "topic \"batteries\"", &["flask is empty"]);
}

#[test]
fn topic_without_a_flask_side() {
    let dir = copy_responses();
    let path = dir.path().join(TOPICS_FILE);
    let text = fs::read_to_string(&path).unwrap();
    let topic = text.find("id = \"batteries\"").expect("batteries topic");
    let start = topic + text[topic..].find("\nflask = ").unwrap() + 1;
    let end = start + text[start..].find('\n').unwrap() + 1;
    fs::write(&path, format!("{}{}", &text[..start], &text[end..])).unwrap();
    let errors = load_err(dir.path());
    // serde names the missing field; toml gives the line of the table.
    assert_one(&errors, TOPICS_FILE, "parse", &["missing field `flask`"]);
}

#[test]
fn fact_with_a_bad_as_of() {
    let (errors, _) = broken(
        TOPICS_FILE,
        "source = \"https://docs.djangoproject.com/en/stable/releases/5.2/\"\nas_of = \"2026-11\"",
        "source = \"https://docs.djangoproject.com/en/stable/releases/5.2/\"\nas_of = \"November 2026\"",
    );
    assert_one(
        &errors,
        TOPICS_FILE,
        "topic \"features\"",
        &["as_of \"November 2026\"", "YYYY-MM"],
    );
}

#[test]
fn fact_with_a_month_thirteen() {
    let (errors, _) = broken(
        TOPICS_FILE,
        "source = \"https://docs.djangoproject.com/en/stable/releases/5.2/\"\nas_of = \"2026-11\"",
        "source = \"https://docs.djangoproject.com/en/stable/releases/5.2/\"\nas_of = \"2026-13\"",
    );
    assert_one(&errors, TOPICS_FILE, "topic \"features\"", &["as_of \"2026-13\""]);
}

#[test]
fn fact_whose_source_is_not_a_url() {
    let (errors, _) = broken(
        TOPICS_FILE,
        "source = \"https://docs.djangoproject.com/en/stable/releases/5.2/\"",
        "source = \"the Django 5.2 release notes\"",
    );
    assert_one(
        &errors,
        TOPICS_FILE,
        "topic \"features\"",
        &["source \"the Django 5.2 release notes\" is not a URL"],
    );
}

#[test]
fn topic_fact_without_a_framework() {
    let (errors, _) = broken(
        TOPICS_FILE,
        "framework = \"django\"\ntext = \"Django 5.2 added support for composite primary keys.\"",
        "text = \"Django 5.2 added support for composite primary keys.\"",
    );
    assert_one(&errors, TOPICS_FILE, "topic \"features\"", &["fact has no framework"]);
}

#[test]
fn same_alias_in_two_topics() {
    let (errors, _) = broken(
        TOPICS_FILE,
        "aliases = [\"auth\", \"authentication\",",
        "aliases = [\"auth\", \"ORM\", \"authentication\",",
    );
    assert_one(
        &errors,
        TOPICS_FILE,
        "topic \"auth\"",
        &["\"ORM\"", "also used by topic \"orm\""],
    );
}

#[test]
fn alias_that_differs_only_in_separators_is_a_duplicate() {
    let (errors, _) = broken(
        TOPICS_FILE,
        "aliases = [\"auth\", \"authentication\",",
        "aliases = [\"auth\", \"Learning-Curve\", \"authentication\",",
    );
    // Reported on the later of the two topics, naming the earlier one.
    assert_one(
        &errors,
        TOPICS_FILE,
        "topic \"learning_curve\"",
        &["also used by topic \"auth\""],
    );
}

#[test]
fn at_sign_in_text_is_refused() {
    let (errors, _) = broken(TOPICS_FILE, "title = \"Security\"", "title = \"Security @everyone\"");
    assert_one(&errors, TOPICS_FILE, "topic \"security\"", &["contains '@'"]);
}

// ---------------------------------------------------------------------------
// Frameworks and messages.

#[test]
fn framework_url_must_be_https() {
    let (errors, _) = broken(
        FRAMEWORKS_FILE,
        "docs_url = \"https://docs.djangoproject.com/en/stable/\"",
        "docs_url = \"http://docs.djangoproject.com/en/stable/\"",
    );
    assert_one(
        &errors,
        FRAMEWORKS_FILE,
        "framework \"django\"",
        &["docs_url", "https URL"],
    );
}

#[test]
fn framework_missing() {
    let dir = copy_responses();
    let path = dir.path().join(FRAMEWORKS_FILE);
    let text = fs::read_to_string(&path).unwrap();
    let flask = text.find("[[framework]]\nid = \"flask\"").expect("flask framework");
    fs::write(&path, &text[..flask]).unwrap();
    let errors = load_err(dir.path());
    assert_one(&errors, FRAMEWORKS_FILE, "framework \"flask\"", &["is missing"]);
}

#[test]
fn missing_messages_key() {
    let (errors, _) = broken(MESSAGES_FILE, "lean_even = \"Even so far\"\n", "");
    assert_one(&errors, MESSAGES_FILE, "parse", &["missing field `lean_even`"]);
}

#[test]
fn empty_command_description() {
    let (errors, _) = broken(
        MESSAGES_FILE,
        "ask = \"Ask a free-text question about Django vs Flask\"",
        "ask = \"\"",
    );
    assert_one(&errors, MESSAGES_FILE, "commands.ask", &["description is empty"]);
}

#[test]
fn shared_by_without_name_placeholder() {
    let (errors, _) = broken(
        MESSAGES_FILE,
        "shared_by = \"Consultation result shared by {name}\"",
        "shared_by = \"Consultation result shared by a teammate\"",
    );
    assert_one(&errors, MESSAGES_FILE, "text.shared_by", &["must contain {name}"]);
}

// ---------------------------------------------------------------------------
// Files.

#[test]
fn missing_file() {
    let dir = copy_responses();
    fs::remove_file(dir.path().join(MESSAGES_FILE)).unwrap();
    let errors = load_err(dir.path());
    assert_one(&errors, MESSAGES_FILE, "file", &["cannot read"]);
}

#[test]
fn missing_directory_names_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let errors = load_err(&dir.path().join("nope"));
    assert_eq!(errors.len(), 7, "{}", show(&errors));
    for file in [
        FRAMEWORKS_FILE,
        TOPICS_FILE,
        QUESTIONNAIRE_FILE,
        MESSAGES_FILE,
        ADVICE_FILE,
        framework_advisor::content::FAQ_FILE,
        framework_advisor::content::SEARCH_FILE,
    ] {
        assert_problem(&errors, file, "file", &["cannot read"]);
    }
}

#[test]
fn problems_in_several_files_are_all_reported() {
    let dir = copy_responses();
    edit(
        dir.path(),
        MESSAGES_FILE,
        "shared_by = \"Consultation result shared by {name}\"",
        "shared_by = \"x\"",
    );
    edit(
        dir.path(),
        QUESTIONNAIRE_FILE,
        "weights = { django = 4, flask = 0 }",
        "weights = { django = 9, flask = 0 }",
    );
    edit(dir.path(), TOPICS_FILE, "id = \"orm\"\n", "id = \"orm\nx");
    let errors = load_err(dir.path());
    assert_eq!(errors.len(), 3, "{}", show(&errors));
    assert_problem(&errors, MESSAGES_FILE, "text.shared_by", &["{name}"]);
    assert_problem(
        &errors,
        QUESTIONNAIRE_FILE,
        "question \"admin\", option \"essential\"",
        &["django = 9"],
    );
    assert_problem(&errors, TOPICS_FILE, "parse", &[]);
    let all = ContentErrors(errors).to_string();
    assert!(all.starts_with("3 problem(s)"), "{all}");
}

#[test]
fn committed_fixtures_are_each_refused() {
    // Whole-file fixtures for mistakes that are clearer as a file than as an
    // edit; each directory replaces one file of a copy of responses/ and
    // names the expected problem in `expect.toml`.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/broken");
    let mut seen = 0;
    for case in fs::read_dir(&root).unwrap() {
        let case = case.unwrap().path();
        let expect: toml::Value = toml::from_str(&fs::read_to_string(case.join("expect.toml")).unwrap()).unwrap();
        let file = expect["file"].as_str().unwrap();
        let entry = expect["entry"].as_str().unwrap();
        let says: Vec<&str> = expect["says"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let dir = copy_responses();
        fs::copy(case.join(file), dir.path().join(file)).unwrap();
        let errors = load_err(dir.path());
        assert!(
            errors
                .iter()
                .any(|e| e.file.ends_with(file) && e.entry == entry && says.iter().all(|s| e.message.contains(s))),
            "{}: no problem in {file} / {entry} saying {says:?}; got:\n{}",
            case.display(),
            show(&errors)
        );
        seen += 1;
    }
    assert!(seen >= 1, "no fixtures under {}", root.display());
}

#[test]
fn missing_label_is_a_start_up_error_naming_it() {
    let (errors, _) = broken(MESSAGES_FILE, "decision_record = \"Decision record\"\n", "");
    assert_one(&errors, MESSAGES_FILE, "parse", &["missing field `decision_record`"]);
}

#[test]
fn label_that_drops_its_placeholder_is_refused() {
    let (errors, _) = broken(
        MESSAGES_FILE,
        "verdict_framework = \"Recommendation: {framework}\"",
        "verdict_framework = \"Recommendation\"",
    );
    assert_one(&errors, MESSAGES_FILE, "labels.verdict_framework", &["{framework}"]);
}

#[test]
fn chart_file_name_must_be_safe_for_attachment_urls() {
    let (errors, _) = broken(
        MESSAGES_FILE,
        "chart_filename = \"recommendation.png\"",
        "chart_filename = \"my chart.png\"",
    );
    assert_one(&errors, MESSAGES_FILE, "labels.chart_filename", &["plain file name"]);
}

// ---------------------------------------------------------------------------
// Advice conditions and dated facts.

#[test]
fn advice_condition_naming_an_unknown_question() {
    let (errors, _) = broken(
        FRAMEWORKS_FILE,
        "when = { all_of = [\"features.multi_tenant\"] }",
        "when = { all_of = [\"tenancy.multi_tenant\"] }",
    );
    assert_one(
        &errors,
        FRAMEWORKS_FILE,
        "framework \"django\", tradeoff 2 (\"django-tenants isolates tenants in Postg\")",
        &["when.all_of", "unknown question \"tenancy\""],
    );
}

#[test]
fn advice_condition_naming_an_unknown_option() {
    let (errors, _) = broken(
        FRAMEWORKS_FILE,
        "when = { all_of = [\"auth.sso\"] }",
        "when = { all_of = [\"auth.saml\"] }",
    );
    assert_one(
        &errors,
        FRAMEWORKS_FILE,
        "framework \"django\", next_step 3 (\"Use mozilla-django-oidc for company SSO \")",
        &["option \"saml\"", "question \"auth\" does not have"],
    );
}

#[test]
fn advice_condition_that_is_not_question_dot_option() {
    let (errors, _) = broken(
        ADVICE_FILE,
        "when = { all_of = [\"async_needs.async_first\"] }",
        "when = { all_of = [\"async_first\"] }",
    );
    assert_one(
        &errors,
        ADVICE_FILE,
        "fastapi 3",
        &["\"async_first\" is not question.option"],
    );
}

#[test]
fn experiment_for_an_unknown_question() {
    let (errors, _) = broken(ADVICE_FILE, "\nadmin = \"", "\nback_office = \"");
    assert_one(&errors, ADVICE_FILE, "experiments.back_office", &["unknown question"]);
}

#[test]
fn close_call_template_without_its_placeholders() {
    let (errors, _) = broken(ADVICE_FILE, "{against_reason}", "the other answers");
    assert_one(&errors, ADVICE_FILE, "texts.close_call_tension", &["{against_reason}"]);
}

#[test]
fn every_dated_fact_has_a_source_and_the_fresh_ones_are_not_stale() {
    let c = load_real();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    // Checked on 2026-12-01 or a few months before: nothing is a year old.
    let stale = c.stale_facts(today, 365);
    assert!(stale.is_empty(), "{}", show(&stale));
    // Two years on, every fact is due for a check, each one named.
    let later = chrono::NaiveDate::from_ymd_opt(2028, 12, 1).unwrap();
    let stale = c.stale_facts(later, 365);
    let facts: usize = c.knowledge.frameworks.iter().map(|f| f.facts.len()).sum::<usize>()
        + c.knowledge.topics.iter().map(|t| t.facts.len()).sum::<usize>();
    assert_eq!(stale.len(), facts);
    assert!(
        stale.iter().any(|e| e.file == FRAMEWORKS_FILE
            && e.entry
                .starts_with("framework \"django\", fact \"Django 6.1 was released")),
        "{}",
        show(&stale)
    );
    assert!(stale
        .iter()
        .all(|e| e.message.contains("days old") && e.message.contains("365")));
}
