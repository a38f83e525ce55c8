//! A throwaway PostgreSQL server for tests: a real server from Debian's
//! `postgresql` package, never a mock.
//!
//! [`PgCluster::start`] runs `initdb` in a fresh temporary directory and
//! starts `postgres` on a free port on 127.0.0.1 (and a Unix socket in the
//! same directory). As root, everything runs as `nobody`, which owns the
//! directory (PostgreSQL refuses to run as root). A small shell keeps the
//! server: it stops it and deletes the directory when its stdin closes, that
//! is when the cluster is dropped or the test process ends in any way, so no
//! server outlives its tests. [`PgCluster::shared`] is one cluster per test
//! binary; [`PgCluster::database`] gives each test a database of its own.
//!
//! Without the server binaries the tests fail, saying to run `scripts/test`
//! (which installs the package); they are never skipped silently.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The highest installed `/usr/lib/postgresql/<version>/bin`.
pub fn bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").exists() && bin.join("postgres").exists()).then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): \
             run scripts/test, which installs Debian's postgresql package and then runs the tests"
        ),
    }
}

/// `Some((uid, gid))` of `nobody` when this process runs as root.
fn unprivileged() -> Option<(u32, u32)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let euid: u32 = status
        .lines()
        .find(|l| l.starts_with("Uid:"))?
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()?;
    if euid != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let ids = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&"nobody"))
        .and_then(|f| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?)));
    Some(ids.unwrap_or((65534, 65534)))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

const KEEPER: &str = r#"
set -e
"$BIN/initdb" -D "$DIR/data" -U postgres -A trust -E UTF8 --no-sync >"$DIR/initdb.log" 2>&1
start() {
  "$BIN/postgres" -D "$DIR/data" -p "$PORT" -k "$DIR" -c listen_addresses=127.0.0.1 \
    -c max_connections=200 >>"$DIR/server.log" 2>&1 &
  pid=$!
}
start
echo started
while read -r cmd; do
  case "$cmd" in
    restart) kill -INT "$pid"; wait "$pid" || true; start; echo restarted ;;
  esac
done
kill -QUIT "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
rm -rf "$DIR"
"#;

struct Keeper {
    child: Child,
    /// Closing it stops the server and removes the directory.
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

pub struct PgCluster {
    port: u16,
    dir: PathBuf,
    keeper: Mutex<Keeper>,
    databases: AtomicU32,
}

impl PgCluster {
    /// Starts a new cluster and waits until it accepts connections.
    pub fn start() -> PgCluster {
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("fa-pg-")
            .tempdir()
            .expect("a temporary directory")
            .keep();
        let user = unprivileged();
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown the cluster directory");
        }
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let port = free_port();
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(KEEPER)
            .env("BIN", &bin)
            .env("DIR", &dir)
            .env("PORT", port.to_string())
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some((uid, gid)) = user {
            cmd.uid(uid).gid(gid);
        }
        let mut child = cmd.spawn().expect("start the PostgreSQL keeper shell");
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("keeper output");
        assert_eq!(
            line.trim(),
            "started",
            "initdb failed; see {}/initdb.log",
            dir.display()
        );
        let cluster = PgCluster {
            port,
            dir,
            keeper: Mutex::new(Keeper {
                child,
                stdin: Some(stdin),
                stdout,
            }),
            databases: AtomicU32::new(0),
        };
        cluster.wait_ready();
        cluster
    }

    /// One cluster for the whole test binary (stopped when the process ends).
    pub fn shared() -> &'static PgCluster {
        static SHARED: OnceLock<PgCluster> = OnceLock::new();
        SHARED.get_or_init(PgCluster::start)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `name` (`postgres` always exists).
    pub fn url_of(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates a fresh, empty database and returns its URL.
    pub fn database(&self) -> String {
        let name = format!("t{}", self.databases.fetch_add(1, Ordering::SeqCst));
        let out = Command::new(bin_dir().join("createdb"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", &name])
            .output()
            .expect("run createdb");
        assert!(
            out.status.success(),
            "createdb {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.url_of(&name)
    }

    /// Stops the server (fast shutdown: every connection is cut) and starts
    /// it again on the same port and data; returns once it accepts connections.
    pub fn restart(&self) {
        {
            let mut keeper = self.keeper.lock().unwrap_or_else(|p| p.into_inner());
            let stdin = keeper.stdin.as_mut().expect("the keeper runs until drop");
            writeln!(stdin, "restart").expect("ask the keeper to restart");
            stdin.flush().expect("flush");
            let mut line = String::new();
            keeper.stdout.read_line(&mut line).expect("keeper output");
            assert_eq!(line.trim(), "restarted");
        }
        self.wait_ready();
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ok = Command::new(bin_dir().join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start; see {}",
                self.dir.join("server.log").display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let keeper = self.keeper.get_mut().unwrap_or_else(|p| p.into_inner());
        drop(keeper.stdin.take());
        let _ = keeper.child.wait();
    }
}
