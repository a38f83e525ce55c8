//! The store under stress: a second instance on the same directory, a
//! corrupt store, and a full disk. Each gives a one-line error naming what
//! and where, a non-zero exit (for the binary), and never a partial write
//! that loses a session.

mod support;

use std::process::Command;
use std::sync::Arc;

use framework_advisor::app::{cli_owner, Action, App, SystemClock};
use framework_advisor::content::Content;
use framework_advisor::error::AppError;
use framework_advisor::storage::{SessionStore, SledStore};
use support::bot::responses_dir;
use support::process::{spawn_bot, wait_identified, write_config};
use support::FakeDiscord;

fn stats_on(data: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_framework-advisor"))
        .args(["--data", &data.display().to_string(), "stats"])
        .env("RUST_LOG", "off")
        .output()
        .unwrap()
}

fn last_line(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr)
        .trim_end()
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_on_the_same_directory_is_refused() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&fake, dir.path(), "");
    let mut bot = spawn_bot(env!("CARGO_BIN_EXE_framework-advisor"), &config, "warn", false);
    wait_identified(&fake, 1).await;
    let data = dir.path().join("data");
    let out = stats_on(&data);
    assert!(!out.status.success());
    let line = last_line(&out);
    assert!(line.starts_with("error: cannot open the session store at "), "{line}");
    assert!(
        line.contains(&data.display().to_string()) && line.contains("lock"),
        "{line}"
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    bot.kill().unwrap();
    bot.wait().unwrap();
    // Once the first is gone, the directory opens.
    assert!(stats_on(&data).status.success());
}

#[test]
fn a_corrupt_store_is_one_line_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("conf"), [0xffu8, 0x00, 0x13, 0x37].repeat(50)).unwrap();
    std::fs::write(data.join("db"), [0xabu8; 4096]).unwrap();
    let out = stats_on(&data);
    assert!(!out.status.success());
    let line = last_line(&out);
    assert!(line.starts_with("error: cannot open the session store at "), "{line}");
    assert!(line.contains(&data.display().to_string()), "{line}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));

    // A path that is a file, not a directory.
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let out = stats_on(&file);
    assert!(!out.status.success());
    assert!(
        last_line(&out).contains(&file.display().to_string()),
        "{}",
        last_line(&out)
    );
}

/// A full disk on write: the user gets the apology, nothing panics, and after
/// space comes back every answer that was acknowledged is still there.
/// Needs a small tmpfs (root can mount one here; elsewhere the test says so and skips).
#[test]
fn a_full_disk_fails_politely_and_loses_no_acknowledged_answer() {
    let mount = tempfile::tempdir().unwrap();
    let mounted = Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=4m",
            "tmpfs",
            &mount.path().display().to_string(),
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root); the full-disk case was not exercised");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mount.path().to_path_buf());
    let data = mount.path().join("data");
    let content = Arc::new(Content::load(&responses_dir()).unwrap());
    let mut acknowledged: std::collections::BTreeMap<String, usize> = Default::default();
    let mut failures = 0;
    {
        let store = Arc::new(SledStore::open(&data).unwrap());
        let app = App::new(content.clone(), store.clone(), Arc::new(SystemClock), 3600);
        // Fill the disk to the last byte.
        let mut filler = std::fs::File::create(mount.path().join("filler")).unwrap();
        while std::io::Write::write_all(&mut filler, &[0u8; 16 * 1024]).is_ok() {}
        drop(filler);
        let mut owner_n = 0;
        let mut current: Option<(String, String, u32)> = None;
        for _ in 0..5000 {
            if failures >= 20 {
                break;
            }
            let (owner, session, revision) = match current.clone() {
                Some(c) => c,
                None => {
                    owner_n += 1;
                    let owner = cli_owner(&format!("disk{owner_n}"));
                    match app.consult_start(&owner) {
                        Ok(v) => {
                            acknowledged.insert(v.session.id.clone(), 0);
                            current = Some((owner, v.session.id.clone(), v.session.revision));
                        }
                        Err(AppError::Store(_)) => failures += 1,
                        Err(other) => panic!("unexpected error on a full disk: {other}"),
                    }
                    continue;
                }
            };
            let s = store.get(&session).unwrap().unwrap();
            let Some(q) = s.current.as_deref().and_then(|id| content.questionnaire.question(id)) else {
                current = None;
                continue;
            };
            let (min, _) = q.choice_bounds();
            let options: Vec<String> = q.options.iter().take(min).map(|o| o.id.clone()).collect();
            match app.consult_act(&owner, &session, revision, Action::Answer(options)) {
                Ok(v) => {
                    acknowledged.insert(session.clone(), v.session.answers.len());
                    current = v
                        .session
                        .current
                        .is_some()
                        .then_some((owner, session, v.session.revision));
                }
                Err(AppError::Store(e)) => {
                    failures += 1;
                    assert!(e.to_string().contains("I/O") || e.to_string().contains("space"), "{e}");
                    // The store may hold the change in memory; carry on from what it says.
                    let now = store.get(&session).unwrap().unwrap();
                    current = Some((owner, session, now.revision));
                }
                Err(other) => panic!("unexpected error on a full disk: {other}"),
            }
        }
        eprintln!(
            "full disk: {failures} writes failed, {} sessions, {} answers acknowledged",
            acknowledged.len(),
            acknowledged.values().sum::<usize>()
        );
        assert!(failures > 0, "the disk never filled up: the case was not exercised");
    }
    // Space comes back; the store reopens and every acknowledged answer is there.
    let _ = std::fs::remove_file(mount.path().join("filler"));
    let store = SledStore::open(&data).expect("the store reopens after the disk was full");
    for (session, n) in &acknowledged {
        let s = store
            .get(session)
            .unwrap()
            .expect("every acknowledged session survived");
        assert!(
            s.answers.len() >= *n,
            "{session}: stored {} < acknowledged {n}",
            s.answers.len()
        );
    }
}
