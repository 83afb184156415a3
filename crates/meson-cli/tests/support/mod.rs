//! Process-level test support: the real `meson-cdn` binary run as a child process (killed when its guard
//! drops). The origin server, the HTTP client and the store helpers come from `meson-testkit`. Every wait is
//! bounded.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub use meson_testkit::*;

pub const BIN: &str = env!("CARGO_BIN_EXE_meson-cdn");

// ---------------------------------------------------------------------------------------------------------
// The meson-cdn binary
// ---------------------------------------------------------------------------------------------------------

/// A command for the binary with no `MESON_*` variables inherited from the environment.
pub fn command() -> Command {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("MESON_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("NO_COLOR", "1");
    cmd
}

/// The result of running the binary to completion.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the binary to completion (bounded by [`WAIT`]; killed if it takes longer).
pub async fn run(mut cmd: Command) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = ChildGuard(cmd.spawn().expect("spawn meson-cdn"));
    let read_all = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            String::from_utf8_lossy(&v).into_owned()
        })
    };
    let out = read_all(Box::new(child.0.stdout.take().unwrap()));
    let err = read_all(Box::new(child.0.stderr.take().unwrap()));
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "meson-cdn {:?} did not exit within {WAIT:?}",
            cmd.get_args().collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Runs `meson-cdn SUBCOMMAND` with `defaults` (flag and value pairs) and `extra` flags, each flag in
/// `extra` replacing its pair in `defaults`: a simulator's small network, varied per test.
pub async fn run_with(subcommand: &str, defaults: &[&str], extra: &[&str]) -> Output {
    let mut args: Vec<&str> = Vec::new();
    for pair in defaults.chunks(2) {
        if !extra.contains(&pair[0]) {
            args.extend(pair);
        }
    }
    let mut cmd = command();
    cmd.arg(subcommand).args(args).args(extra);
    run(cmd).await
}

/// Kills the child when dropped (a failing test never leaves a process behind).
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A running `meson-cdn router`; SIGKILLed when dropped.
pub struct RouterProc {
    pub child: Child,
    pub addr: SocketAddr,
    /// The router's node id, from its first line.
    pub id: String,
}

impl Drop for RouterProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RouterProc {
    /// Starts `meson-cdn router --listen LISTEN --data-dir DIR EXTRA...` and waits for its serving line.
    pub fn start(listen: &str, data_dir: &Path, extra: &[&str]) -> RouterProc {
        let mut child = command()
            .args(["router", "--listen", listen, "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // MESON_TEST_ROUTER_LOG=FILE keeps the router's log when a test needs looking into.
            .stderr(match std::env::var_os("MESON_TEST_ROUTER_LOG") {
                Some(p) => Stdio::from(std::fs::File::create(p).unwrap()),
                None => Stdio::null(),
            })
            .spawn()
            .expect("spawn meson-cdn router");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let deadline = Instant::now() + WAIT;
        let line = loop {
            match lines.next() {
                Some(Ok(l)) if l.starts_with("meson-cdn router serving") => break l,
                Some(_) => {}
                None => panic!("the router exited before serving"),
            }
            assert!(Instant::now() < deadline, "the router did not start");
        };
        // Keep reading: a router whose stdout is closed dies at its next line, as any CLI would.
        std::thread::spawn(move || lines.for_each(drop));
        let rest = line
            .trim()
            .strip_prefix("meson-cdn router serving http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        let (addr, id) = rest.split_once(" (id ").expect("address and id");
        RouterProc {
            addr: addr.parse().expect("router address"),
            id: id.trim_end_matches(')').to_string(),
            child,
        }
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// `meson-cdn terminal` joining the router at `router`, listening on `ip`, data in `data`.
pub fn network_terminal(router: &str, ip: &str, data: &std::path::Path) -> std::process::Command {
    let mut cmd = command();
    cmd.arg("terminal")
        .args(["--router", router])
        .args(["--listen", &format!("{ip}:0")])
        .args(["--admin-listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data)
        .args(["--min-free-disk", "0", "--fsync", "never"]);
    cmd
}

/// A loopback address nothing listens on now (for a process that must keep its address across restarts).
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

static LOG_SEQ: AtomicUsize = AtomicUsize::new(0);

/// A running `meson-cdn terminal`. Dropping it SIGKILLs the process if it still runs; when the test is
/// failing, the terminal's log is printed.
pub struct TerminalProc {
    child: Child,
    exited: Option<ExitStatus>,
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    pub data_dir: PathBuf,
    pub log: PathBuf,
}

impl Drop for TerminalProc {
    fn drop(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "---- terminal log {} ----\n{}",
                self.log.display(),
                tail(&self.log_text(), 60)
            );
        } else {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

fn tail(s: &str, lines: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

/// Options every test terminal gets: ephemeral ports, the data directory, and no free-disk floor.
pub fn terminal_command(origin: &str, data_dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = command();
    cmd.arg("terminal")
        .args(["--origin", origin])
        .args(["--listen", "127.0.0.1:0"])
        .args(["--admin-listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--min-free-disk", "0"])
        .args(extra);
    cmd
}

impl TerminalProc {
    /// Starts `meson-cdn terminal` for `origin` on `data_dir` and waits for both listening lines.
    pub async fn start(origin: &str, data_dir: &Path, extra: &[&str]) -> TerminalProc {
        let cmd = terminal_command(origin, data_dir, extra);
        Self::spawn(cmd, data_dir).await
    }

    /// Starts a prepared command (which must print the listening lines) and waits for them.
    pub async fn spawn(mut cmd: Command, data_dir: &Path) -> TerminalProc {
        let log = std::env::temp_dir().join(format!(
            "meson-cli-test-{}-{}.log",
            std::process::id(),
            LOG_SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let log_file = std::fs::File::create(&log).unwrap();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file));
        let mut child = cmd.spawn().expect("spawn meson-cdn terminal");
        let stdout = child.stdout.take().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    // Keep draining so the child never blocks on a full pipe.
                }
            }
        });
        let mut proc = TerminalProc {
            child,
            exited: None,
            addr: "0.0.0.0:0".parse().unwrap(),
            admin: "0.0.0.0:0".parse().unwrap(),
            data_dir: data_dir.to_path_buf(),
            log,
        };
        let (mut addr, mut admin) = (None, None);
        let deadline = Instant::now() + WAIT;
        while addr.is_none() || admin.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, rx.recv()).await {
                Ok(Some(line)) => {
                    if let Some(a) = line.strip_prefix("meson-cdn terminal serving http://") {
                        addr = Some(a.trim().parse::<SocketAddr>().expect("client address"));
                    } else if let Some(rest) = line.strip_prefix("admin API") {
                        let a = rest.rsplit("http://").next().unwrap();
                        admin = Some(a.trim().parse::<SocketAddr>().expect("admin address"));
                    }
                }
                Ok(None) => {
                    let status = proc.child.wait().ok();
                    proc.exited = status;
                    panic!(
                        "terminal exited before listening ({status:?}):\n{}",
                        proc.log_text()
                    );
                }
                Err(_) => panic!(
                    "terminal did not print its addresses within {WAIT:?}:\n{}",
                    proc.log_text()
                ),
            }
        }
        proc.addr = addr.unwrap();
        proc.admin = admin.unwrap();
        proc
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, sig: i32) {
        assert!(self.exited.is_none(), "terminal already exited");
        // SAFETY: plain kill(2) on our own child's pid, which has not been reaped yet.
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig})", self.pid());
    }

    /// Waits (bounded) for the process to exit.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        if let Some(s) = self.exited {
            return s;
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                self.exited = Some(s);
                return s;
            }
            if Instant::now() > deadline {
                panic!("terminal did not exit within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL, and reap.
    pub async fn kill9(&mut self) {
        use std::os::unix::process::ExitStatusExt;
        self.signal(libc::SIGKILL);
        let s = self.wait_exit(WAIT).await;
        assert_eq!(
            s.signal(),
            Some(libc::SIGKILL),
            "terminal had already exited on its own: {s:?}\n{}",
            self.log_text()
        );
    }

    /// Whether the process has a handler for `sig` (Linux: the `SigCgt` mask in `/proc/PID/status`).
    pub fn catches(&self, sig: i32) -> bool {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .is_some_and(|mask| mask & (1u64 << (sig - 1)) != 0)
    }

    /// Waits (bounded) until the process handles SIGTERM. The terminal prints its addresses before it
    /// installs the handler; a SIGTERM in between kills it outright (see `sigterm_right_after_ready`).
    pub async fn wait_sigterm_handler(&self) {
        let deadline = Instant::now() + WAIT;
        while !self.catches(libc::SIGTERM) {
            assert!(
                Instant::now() < deadline,
                "terminal never installed a SIGTERM handler"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// SIGTERM (once the process handles it), and expect a clean exit with status 0.
    pub async fn stop(&mut self) {
        self.wait_sigterm_handler().await;
        self.signal(libc::SIGTERM);
        let s = self.wait_exit(WAIT).await;
        assert!(
            s.success(),
            "terminal exit after SIGTERM: {s:?}\n{}",
            self.log_text()
        );
    }

    pub fn token(&self) -> String {
        admin_token(&self.data_dir)
    }

    /// GET on the admin listener with the token; the JSON answer.
    pub async fn admin_get(&self, path: &str) -> (u16, serde_json::Value) {
        let got = admin_request(self.admin, &self.token(), "GET", path, None).await;
        let v = serde_json::from_slice(&got.body).unwrap_or(serde_json::Value::Null);
        (got.status, v)
    }

    /// Every object the admin API lists (all pages).
    pub async fn objects(&self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let path = match &after {
                Some(a) => format!("/v1/admin/objects?limit=1000&after={a}"),
                None => "/v1/admin/objects?limit=1000".to_string(),
            };
            let (status, v) = self.admin_get(&path).await;
            assert_eq!(status, 200, "{path}: {v}");
            out.extend(v["objects"].as_array().expect("objects array").clone());
            match v["next"].as_str() {
                Some(n) => after = Some(n.to_string()),
                None => return out,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// What the store holds
// ---------------------------------------------------------------------------------------------------------

/// Waits (bounded) until the terminal lists exactly `want` (path and query → stored slices), checking every
/// listed slice against the origin on each look.
pub async fn wait_stored(
    term: &TerminalProc,
    origin: &Origin,
    slice_size: usize,
    want: &HashMap<String, usize>,
) {
    let deadline = Instant::now() + WAIT;
    loop {
        let got = check_listing(&term.objects().await, origin, slice_size);
        if &got == want {
            return;
        }
        if Instant::now() > deadline {
            let mut diff: Vec<String> = want
                .iter()
                .filter(|(k, n)| got.get(*k) != Some(n))
                .map(|(k, n)| format!("{k}: want {n} slices, listed {:?}", got.get(k)))
                .collect();
            diff.extend(
                got.keys()
                    .filter(|k| !want.contains_key(*k))
                    .map(|k| format!("{k}: listed, not expected")),
            );
            diff.sort();
            panic!(
                "the store never held what was expected within {WAIT:?}:\n{}",
                diff.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------------------------
// A site on a router
// ---------------------------------------------------------------------------------------------------------

/// A real origin serving `/o/0` … `/o/{count-1}`, each `len` bytes of a pattern (seeded from `seed`), and
/// a site `host` for it on the router under a new account.
pub struct Shop {
    pub origin: Origin,
    pub bodies: Vec<bytes::Bytes>,
    /// The account's API key.
    pub owner: String,
}

impl Shop {
    pub async fn open(router: SocketAddr, host: &str, count: u64, len: usize, seed: u64) -> Shop {
        let origin = Origin::start().await;
        let bodies: Vec<_> = (0..count)
            .map(|i| meson_testkit::pattern(len, seed + i))
            .collect();
        for (i, body) in bodies.iter().enumerate() {
            origin.set(&format!("/o/{i}"), Resource::cacheable(body.clone()));
        }
        let created = json_request(
            router,
            None,
            "POST",
            "/v1/accounts",
            Some(serde_json::json!({"name": "shop"})),
        )
        .await;
        assert_eq!(created.status, 201, "{:?}", created.body);
        let owner = created
            .parse::<meson_api::accounts::AccountCreated>()
            .api_key;
        let site = json_request(
            router,
            Some(&owner),
            "POST",
            "/v1/sites",
            Some(serde_json::json!({"host": host, "origin": origin.url()})),
        )
        .await;
        assert_eq!(site.status, 201, "{:?}", site.body);
        Shop {
            origin,
            bodies,
            owner,
        }
    }
}

/// Router flags of a billed, audited network on a fast clock: 1 s heartbeats, epochs of `epoch_secs`, a
/// price of 1000 tokens per GiB with a 20 % fee, an origin learner fast enough for test objects, audits
/// every second vetting terminals after 2 passes; then `extra`.
pub fn billed_router_args(epoch_secs: u64, extra: &[&str]) -> Vec<String> {
    let epoch = epoch_secs.to_string();
    let base = [
        "--heartbeat-secs",
        "1",
        "--billing",
        "--epoch-secs",
        &epoch,
        "--price-per-gib",
        "1000",
        "--fee-bps",
        "2000",
        "--origin-bytes-per-sec",
        "10MiB",
        "--audit-interval-secs",
        "1",
        "--vetting-audits",
        "2",
    ];
    base.iter().chain(extra).map(|s| s.to_string()).collect()
}

/// `GET path` of the router at `addr`, which must answer 200, read as `T`.
pub async fn get_ok<T: serde::de::DeserializeOwned>(addr: SocketAddr, path: &str) -> T {
    let got = json_request(addr, None, "GET", path, None).await;
    assert_eq!(got.status, 200, "GET {path}: {:?}", got.body);
    got.parse()
}

/// A ledger account's (balance, available funds) in base units, zero for an account not opened yet.
pub async fn funds(addr: SocketAddr, account: u128) -> (u128, u128) {
    let a: meson_api::ledger::AccountView =
        get_ok(addr, &format!("/v1/ledger/accounts/{account}")).await;
    let units = |t: Option<&str>| meson_ledger::parse_amount(t.unwrap_or("0")).unwrap();
    (units(a.balance.as_deref()), units(a.available.as_deref()))
}
