//! The `meson-cdn` command line: required options, help, and how a TOML file, `MESON_*` variables and
//! flags combine into the terminal's configuration.

mod support;

use std::path::Path;

use support::*;

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn terminal_without_origin_fails_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command();
    cmd.current_dir(dir.path()).arg("terminal").args([
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
    ]);
    let out = run(cmd).await;
    assert!(!out.status.success(), "{out:?}");
    assert!(out.stderr.contains("--origin"), "{out:?}");
    assert!(
        !out.stdout.contains("serving"),
        "must not start without an origin: {out:?}"
    );
}

#[tokio::test]
async fn help_exits_zero_and_lists_options() {
    let mut cmd = command();
    cmd.arg("--help");
    let out = run(cmd).await;
    assert!(out.status.success(), "{out:?}");
    for word in ["terminal", "cache-sim", "--log"] {
        assert!(
            out.stdout.contains(word),
            "--help lacks {word}:\n{}",
            out.stdout
        );
    }

    let mut cmd = command();
    cmd.args(["terminal", "--help"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{out:?}");
    for opt in [
        "--config",
        "--origin",
        "--listen",
        "--admin-listen",
        "--data-dir",
        "--capacity",
        "--slice-size",
        "--policy",
        "--fsync",
        "--scrub-rate",
        "--shutdown-grace",
        "MESON_ORIGIN",
    ] {
        assert!(
            out.stdout.contains(opt),
            "terminal --help lacks {opt}:\n{}",
            out.stdout
        );
    }

    let mut cmd = command();
    cmd.args(["cache-sim", "--help"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{out:?}");
    for opt in ["--trace", "--capacity", "--policy"] {
        assert!(out.stdout.contains(opt), "cache-sim --help lacks {opt}");
    }
}

/// A config file whose `listen` is a port already taken, so a run that used it could not start.
fn config_file(dir: &Path, origin: &Origin, busy: std::net::SocketAddr, extra: &str) -> String {
    let data = dir.join("data");
    let path = dir.join("terminal.toml");
    write(
        &path,
        &format!(
            "origin = \"{}\"\nlisten = \"{busy}\"\nadmin-listen = \"127.0.0.1:0\"\ndata-dir = \"{}\"\n\
             capacity = \"1MiB\"\nmin-free-disk = 0\npolicy = \"lru\"\nslice-size = \"256KiB\"\n{extra}",
            origin.url(),
            data.display()
        ),
    );
    path.to_str().unwrap().to_string()
}

async fn heartbeat(term: &TerminalProc) -> serde_json::Value {
    let (status, v) = term.admin_get("/v1/admin/heartbeat").await;
    assert_eq!(status, 200, "{v}");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_file_env_and_flags_combine_in_order() {
    let origin = Origin::start().await;
    origin.set("/a.bin", Resource::cacheable(pattern(5000, 3)));
    let dir = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap();
    let config = config_file(dir.path(), &origin, busy_addr, "");
    let data = dir.path().join("data");

    // The file alone: its `listen` is used (and is taken), so the start fails naming that address.
    let mut cmd = command();
    cmd.current_dir(dir.path())
        .args(["terminal", "--config", &config]);
    let out = run(cmd).await;
    assert!(!out.status.success(), "{out:?}");
    assert!(
        out.stderr.contains(&busy_addr.to_string()),
        "the error names the file's listen address {busy_addr}: {out:?}"
    );

    // MESON_LISTEN overrides the file; every other option comes from the file.
    let mut cmd = command();
    cmd.current_dir(dir.path())
        .args(["terminal", "--config", &config])
        .env("MESON_LISTEN", "127.0.0.1:0");
    let mut term = TerminalProc::spawn(cmd, &data).await;
    assert_ne!(term.addr, busy_addr);
    let hb = heartbeat(&term).await;
    assert_eq!(
        hb["capacity_bytes"],
        1 << 20,
        "capacity from the file: {hb}"
    );
    assert_eq!(hb["policy"], "lru", "policy from the file: {hb}");
    let got = get(term.addr, "/a.bin").await;
    assert_full(&got, "/a.bin", &origin.body("/a.bin"));
    assert!(data.join("admin.token").exists(), "data-dir from the file");
    // /healthz and /metrics need no token; the admin API does.
    let h = request(term.admin, "GET", "/healthz", &[]).await;
    assert_eq!(h.status, 200);
    let m = request(term.admin, "GET", "/metrics", &[]).await;
    assert_eq!(m.status, 200);
    let a = request(term.admin, "GET", "/v1/admin/objects", &[]).await;
    assert_eq!(a.status, 401, "admin API without the token");
    let a = request(
        term.admin,
        "GET",
        "/v1/admin/objects",
        &[("authorization", "Bearer wrong")],
    )
    .await;
    assert_eq!(a.status, 401, "admin API with a wrong token");
    term.stop().await;

    // An environment variable overrides the file; a flag overrides both.
    let mut cmd = command();
    cmd.current_dir(dir.path())
        .args(["terminal", "--config", &config])
        .env("MESON_LISTEN", "127.0.0.1:0")
        .env("MESON_CAPACITY", "2MiB")
        .env("MESON_POLICY", "wtinylfu");
    let mut term = TerminalProc::spawn(cmd, &data).await;
    let hb = heartbeat(&term).await;
    assert_eq!(
        hb["capacity_bytes"],
        2 << 20,
        "MESON_CAPACITY over the file: {hb}"
    );
    assert_eq!(hb["policy"], "wtinylfu", "MESON_POLICY over the file: {hb}");
    term.stop().await;

    let mut cmd = command();
    cmd.current_dir(dir.path())
        .args(["terminal", "--config", &config])
        .args(["--listen", "127.0.0.1:0", "--capacity", "3MiB"])
        .args(["--policy", "s3fifo"])
        .env("MESON_CAPACITY", "2MiB")
        .env("MESON_POLICY", "wtinylfu");
    let mut term = TerminalProc::spawn(cmd, &data).await;
    assert_ne!(term.addr, busy_addr, "--listen over the file");
    let hb = heartbeat(&term).await;
    assert_eq!(
        hb["capacity_bytes"],
        3 << 20,
        "--capacity over env and file: {hb}"
    );
    assert_eq!(hb["policy"], "s3fifo", "--policy over env and file: {hb}");
    term.stop().await;

    // MESON_CONFIG names the file like --config.
    let mut cmd = command();
    cmd.current_dir(dir.path())
        .arg("terminal")
        .env("MESON_CONFIG", &config)
        .env("MESON_LISTEN", "127.0.0.1:0");
    let mut term = TerminalProc::spawn(cmd, &data).await;
    assert_eq!(heartbeat(&term).await["capacity_bytes"], 1 << 20);
    term.stop().await;
    drop(busy);
}

#[tokio::test]
async fn unknown_config_key_is_rejected() {
    let origin = Origin::start().await;
    let dir = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = config_file(
        dir.path(),
        &origin,
        busy.local_addr().unwrap(),
        "bogus-key = 1\n",
    );
    let mut cmd = command();
    cmd.current_dir(dir.path())
        .args(["terminal", "--config", &config])
        .args(["--listen", "127.0.0.1:0"]);
    let out = run(cmd).await;
    assert!(!out.status.success(), "{out:?}");
    assert!(out.stderr.contains("bogus-key"), "{out:?}");
    assert!(out.stderr.contains("unknown field"), "{out:?}");
    assert!(
        out.stderr.contains("terminal.toml"),
        "names the file: {out:?}"
    );
    assert!(!out.stdout.contains("serving"), "{out:?}");
}

#[tokio::test]
async fn bad_size_unit_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command();
    cmd.current_dir(dir.path()).args([
        "terminal",
        "--origin",
        "http://127.0.0.1:1",
        "--capacity",
        "12XB",
    ]);
    let out = run(cmd).await;
    assert!(!out.status.success(), "{out:?}");
    assert!(out.stderr.contains("--capacity"), "{out:?}");
    assert!(out.stderr.contains("12XB"), "{out:?}");
    assert!(out.stderr.contains("unit"), "{out:?}");

    // The same in a config file.
    let origin = Origin::start().await;
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = config_file(dir.path(), &origin, busy.local_addr().unwrap(), "");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("capacity = \"1MiB\"", "capacity = \"12XB\"");
    write(Path::new(&config), &text);
    let mut cmd = command();
    cmd.current_dir(dir.path())
        .args(["terminal", "--config", &config])
        .args(["--listen", "127.0.0.1:0"]);
    let out = run(cmd).await;
    assert!(!out.status.success(), "{out:?}");
    assert!(out.stderr.contains("unit"), "{out:?}");
    assert!(out.stderr.contains("XB"), "{out:?}");

    // A slice size below the floor is refused too.
    let mut cmd = command();
    cmd.current_dir(dir.path()).args([
        "terminal",
        "--origin",
        "http://127.0.0.1:1",
        "--slice-size",
        "1KiB",
    ]);
    let out = run(cmd).await;
    assert!(!out.status.success(), "{out:?}");
    assert!(out.stderr.contains("--slice-size"), "{out:?}");
}
