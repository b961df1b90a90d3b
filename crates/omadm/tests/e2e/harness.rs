//! The end-to-end harness: real `omadm server` processes (SQLite or PostgreSQL, HTTP or HTTPS) and
//! real `omadm client` / operator CLI processes, driven exactly as a user drives them.

use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The API token every test server is started with.
pub const API_TOKEN: &str = "e2e-token-0123456789";

/// The `omadm` binary under test.
pub fn omadm_bin() -> &'static str {
    env!("CARGO_BIN_EXE_omadm")
}

/// A storage backend for a test server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file in the test's directory.
    Sqlite,
    /// The PostgreSQL cluster the test script started (`OMADM_TEST_POSTGRES_URL`); each server
    /// gets a [`PgDatabase`] of its own there.
    Postgres(String),
}

impl Backend {
    /// SQLite always; PostgreSQL when the test script provides one. With
    /// `OMADM_REQUIRE_POSTGRES=1` (set by `scripts/test`) a missing PostgreSQL is a failure.
    pub fn all() -> Vec<Backend> {
        let mut all = vec![Backend::Sqlite];
        match std::env::var("OMADM_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => all.push(Backend::Postgres(url)),
            _ => {
                assert!(
                    std::env::var("OMADM_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                    "OMADM_REQUIRE_POSTGRES=1 but OMADM_TEST_POSTGRES_URL is unset (run scripts/test)"
                );
                eprintln!("NOTICE: OMADM_TEST_POSTGRES_URL unset: PostgreSQL end-to-end runs skipped");
            }
        }
        all
    }

    /// A short label for test output and device ids.
    pub fn label(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "pg",
        }
    }
}

/// A fresh directory under the system temp dir, removed when dropped.
pub struct TestDir(pub PathBuf);

impl TestDir {
    /// Creates `omadm-e2e-<pid>-<n>-<name>`.
    pub fn new(name: &str) -> TestDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "omadm-e2e-{}-{}-{name}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TestDir(dir)
    }

    /// A path inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A self-signed certificate for 127.0.0.1 / localhost, written as PEM files.
pub struct TlsFiles {
    /// The certificate (also the CA the client trusts).
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

impl TlsFiles {
    /// Generates a fresh certificate in `dir`.
    pub fn generate(dir: &TestDir) -> TlsFiles {
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("generate a test certificate");
        let (cert, key) = (dir.join("server.pem"), dir.join("server.key"));
        std::fs::write(&cert, generated.cert.pem()).unwrap();
        std::fs::write(&key, generated.key_pair.serialize_pem()).unwrap();
        TlsFiles { cert, key }
    }
}

#[path = "../../../omadm-server/tests/support/pg_database.rs"]
mod pg_database;
pub use pg_database::PgDatabase;

/// A running `omadm server` process.
pub struct Server {
    child: Option<Child>,
    /// The port it listens on.
    pub port: u16,
    /// The `--db` URL it uses.
    pub db_url: String,
    /// Its certificate when it serves HTTPS.
    pub tls: Option<TlsFiles>,
    log: PathBuf,
    /// Its working directory (the SQLite file lives there).
    pub dir: TestDir,
    /// Its PostgreSQL database, dropped after the process is killed (fields drop after
    /// [`Server::drop`]).
    _postgres: Option<PgDatabase>,
}

impl Server {
    /// Starts a server on a free port with `backend`, HTTPS when `https`.
    pub fn start(backend: &Backend, https: bool, name: &str) -> Server {
        let dir = TestDir::new(name);
        let postgres = match backend {
            Backend::Sqlite => None,
            Backend::Postgres(cluster_url) => Some(PgDatabase::create(cluster_url, name)),
        };
        let db_url = match &postgres {
            None => format!("sqlite://{}", dir.join("omadm.db").display()),
            Some(database) => database.url.clone(),
        };
        let tls = https.then(|| TlsFiles::generate(&dir));
        let log = dir.join("server.log");
        let mut server = Server { child: None, port: 0, db_url, tls, log, dir, _postgres: postgres };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let port = free_port();
        let mut cmd = Command::new(omadm_bin());
        cmd.current_dir(&self.dir.0)
            .args(["server", "--listen", &format!("127.0.0.1:{port}"), "--db", &self.db_url])
            .args(["--api-token", API_TOKEN])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&self.log).unwrap())
            .stderr(std::fs::OpenOptions::new().append(true).open(&self.log).unwrap());
        if let Some(tls) = &self.tls {
            cmd.arg("--tls-cert").arg(&tls.cert).arg("--tls-key").arg(&tls.key);
        }
        let mut child = cmd.spawn().expect("spawn omadm server");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("omadm server exited with {status} before listening:\n{}", self.log_text());
            }
            assert!(Instant::now() < deadline, "omadm server did not listen within 60 s:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
        self.port = port;
        self.child = Some(child);
    }

    /// Stops the server (SIGKILL: nothing may depend on a clean shutdown) and starts it again on
    /// the same database.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `http(s)://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("{}://127.0.0.1:{}", if self.tls.is_some() { "https" } else { "http" }, self.port)
    }

    /// The DM endpoint URL.
    pub fn dm_url(&self) -> String {
        format!("{}/dm", self.base())
    }

    /// Everything the server logged so far.
    pub fn log_text(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    /// Runs an operator command (`devices …`, `jobs …`) against this server's API; panics with
    /// both outputs and the server log if it fails.
    pub fn operator(&self, args: &[&str]) -> String {
        let out = self.operator_output(args);
        assert!(
            out.status.success(),
            "omadm {args:?} failed: {}\nstdout: {}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout),
            self.log_text()
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs an operator command and returns its raw output.
    pub fn operator_output(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(omadm_bin());
        cmd.args(&args[..1]).args(&args[1..2.min(args.len())]);
        cmd.args(["--api", &self.base(), "--api-token", API_TOKEN]);
        cmd.args(&args[2.min(args.len())..]);
        if let Some(tls) = &self.tls {
            cmd.env("SSL_CERT_FILE", &tls.cert);
        }
        cmd.output().expect("run omadm operator command")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Runs `omadm client …` and returns its output.
pub fn client(args: &[String], dir: &Path) -> Output {
    Command::new(omadm_bin()).current_dir(dir).arg("client").args(args).output().expect("run omadm client")
}

/// A bare HTTP/1.1 echo server on a free port, in threads of this process: it answers each POST
/// with its body cut or repeated to the `?reply=N` size, as `omadm-bench`'s `echo_server` example
/// does, for `omadm loadgen --echo-url`. Lives until the test process ends.
pub fn start_echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an echo port");
    let url = format!("http://{}/", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || echo_connection(stream));
        }
    });
    url
}

fn echo_connection(mut stream: TcpStream) {
    use std::io::Write as _;
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let head_end = loop {
            if let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => pending.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&pending[..head_end]).to_string();
        let length: usize = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while pending.len() < head_end + length {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => pending.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Vec<u8> = pending.drain(..head_end + length).skip(head_end).collect();
        let target = head.split_whitespace().nth(1).unwrap_or("/");
        let size = target.split_once("reply=").and_then(|(_, n)| n.parse().ok()).unwrap_or(body.len());
        let reply: Vec<u8> =
            if body.is_empty() { vec![b' '; size] } else { body.iter().copied().cycle().take(size).collect() };
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/vnd.syncml.dm+xml\r\ncontent-length: {}\r\n\r\n",
            reply.len()
        );
        if stream.write_all(answer.as_bytes()).and_then(|()| stream.write_all(&reply)).is_err() {
            return;
        }
    }
}
