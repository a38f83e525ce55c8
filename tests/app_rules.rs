//! The app's rules on a click, through its public API and a real store: only
//! the owner acts on a private consultation, an idle one expires, and a refused
//! click changes nothing.

use std::path::Path;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use framework_advisor::app::{cli_owner, Action, App, ManualClock};
use framework_advisor::content::Content;
use framework_advisor::error::AppError;
use framework_advisor::storage::{SessionStore, SledStore};

const TTL: i64 = 3600;

fn setup() -> (App, Arc<SledStore>, Arc<ManualClock>, Arc<Content>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("responses");
    let content = Arc::new(Content::load(&dir).unwrap());
    let store = Arc::new(SledStore::temporary().unwrap());
    let clock = Arc::new(ManualClock(AtomicI64::new(1_800_000_000)));
    let app = App::new(content.clone(), store.clone(), clock.clone(), TTL);
    (app, store, clock, content)
}

fn first_answer(content: &Content, app: &App, owner: &str) -> (String, u32, Action) {
    let view = app.consult_start(owner).unwrap();
    let q = content
        .questionnaire
        .question(view.session.current.as_deref().unwrap())
        .unwrap();
    let (min, _) = q.choice_bounds();
    let options = q.options.iter().take(min.max(1)).map(|o| o.id.clone()).collect();
    (view.session.id.clone(), view.session.revision, Action::Answer(options))
}

#[test]
fn someone_else_cannot_answer_and_nothing_changes() {
    let (app, store, _clock, content) = setup();
    let owner = cli_owner("ada");
    let (id, revision, action) = first_answer(&content, &app, &owner);
    let before = store.get(&id).unwrap().unwrap();
    let err = app
        .consult_act(&cli_owner("mallory"), &id, revision, action)
        .expect_err("a stranger's click is refused");
    assert!(
        matches!(&err, AppError::User(u) if u.to_string() == content.knowledge.texts().not_owner),
        "{err}"
    );
    assert_eq!(store.get(&id).unwrap().unwrap(), before, "nothing applied");
}

#[test]
fn an_idle_consultation_expires_and_the_late_click_changes_nothing() {
    let (app, store, clock, content) = setup();
    let owner = cli_owner("ada");
    let (id, revision, action) = first_answer(&content, &app, &owner);
    clock.advance(TTL + 1);
    let before = store.get(&id).unwrap().unwrap();
    let err = app.consult_act(&owner, &id, revision, action).expect_err("expired");
    assert!(
        matches!(&err, AppError::User(u) if u.to_string() == content.knowledge.texts().expired),
        "{err}"
    );
    assert_eq!(store.get(&id).unwrap().unwrap(), before, "nothing applied");
}

#[test]
fn the_owner_answers_and_an_unknown_session_is_expired() {
    let (app, store, _clock, content) = setup();
    let owner = cli_owner("ada");
    let (id, revision, action) = first_answer(&content, &app, &owner);
    let view = app.consult_act(&owner, &id, revision, action.clone()).unwrap();
    assert_eq!(view.session.answers.len(), 1);
    assert_eq!(store.get(&id).unwrap().unwrap().answers.len(), 1);
    assert!(matches!(
        app.consult_act(&owner, "no-such-session", 0, action),
        Err(AppError::Expired)
    ));
}
