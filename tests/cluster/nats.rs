//! Real processes for the cluster tests: a nats-server with JetStream (restartable on
//! its port and storage), and liveguard gateways, workers and archivers.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A nats-server with JetStream on a free loopback port and its own storage
/// directory, killed when dropped.
pub struct NatsServer {
    child: Child,
    pub url: String,
    port: u16,
    pub dir: PathBuf,
}

impl NatsServer {
    pub fn start(name: &str) -> NatsServer {
        let dir =
            std::env::temp_dir().join(format!("liveguard-nats-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (child, url) = spawn_nats(&dir, "-1");
        let port = url.rsplit(':').next().unwrap().parse().unwrap();
        NatsServer {
            child,
            url,
            port,
            dir,
        }
    }

    /// Kill it (SIGKILL: nothing is flushed on the way out).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Start it again (after [`NatsServer::kill`]) on the same port and storage.
    pub fn start_again(&mut self) {
        let (child, _) = spawn_nats(&self.dir, &self.port.to_string());
        self.child = child;
    }
}

fn spawn_nats(dir: &Path, port: &str) -> (Child, String) {
    let mut child = Command::new("nats-server")
        .args(["-js", "-a", "127.0.0.1", "-p", port, "-sd"])
        .arg(dir.join("js"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("nats-server is installed (.ci/run installs it: apt-get install nats-server)");
    let mut log = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let url = loop {
        line.clear();
        assert!(
            log.read_line(&mut line).unwrap() > 0,
            "nats-server exited early"
        );
        if let Some(at) = line.split("Listening for client connections on ").nth(1) {
            break format!("nats://{}", at.trim());
        }
    };
    std::thread::spawn(move || for _ in log.lines() {});
    (child, url)
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A liveguard process, its log kept for assertions, killed when dropped.
pub struct Liveguard {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Liveguard {
    /// Start `liveguard ARGS…` and wait (at most 60 s) for a log line holding `ready`.
    pub fn start(args: &[&str], ready: &str) -> Liveguard {
        let mut child = Command::new(env!("CARGO_BIN_EXE_liveguard"))
            .args(args)
            .env("LIVEGUARD_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = BufReader::new(child.stderr.take().unwrap());
        let keep = log.clone();
        std::thread::spawn(move || {
            for line in lines.lines().map_while(Result::ok) {
                keep.lock().unwrap().push(line);
            }
        });
        let p = Liveguard { child, log };
        p.wait_for(ready, Duration::from_secs(60));
        p
    }

    /// A gateway (`serve --nats`) on a free port: it and its address.
    pub fn gateway(nats: &str, data: &Path, config: &str) -> (Liveguard, String) {
        let config_file = data.with_extension("toml");
        std::fs::write(&config_file, config).unwrap();
        let p = Liveguard::start(
            &[
                "serve",
                "--nats",
                nats,
                "--listen",
                "127.0.0.1:0",
                "--data",
                data.to_str().unwrap(),
                "--config",
                config_file.to_str().unwrap(),
            ],
            "liveguard serving.",
        );
        let addr = p
            .line_with("liveguard serving.")
            .split_whitespace()
            .find_map(|w| w.strip_prefix("addr="))
            .unwrap()
            .to_owned();
        (p, addr)
    }

    /// A partition worker named `name` with 1 s leases, and `extra` arguments.
    pub fn worker(nats: &str, name: &str, extra: &[&str]) -> Liveguard {
        let mut args = vec![
            "worker",
            "--nats",
            nats,
            "--name",
            name,
            "--lease-ms",
            "1000",
        ];
        args.extend_from_slice(extra);
        Liveguard::start(&args, "Worker joined.")
    }

    /// The archiver, storing into `data`.
    pub fn archiver(nats: &str, data: &Path) -> Liveguard {
        Liveguard::start(
            &["archive", "--nats", nats, "--data", data.to_str().unwrap()],
            "Archiving the cluster's alerts.",
        )
    }

    /// The first log line holding `needle` (panics if none).
    pub fn line_with(&self, needle: &str) -> String {
        self.log
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.contains(needle))
            .cloned()
            .unwrap_or_else(|| panic!("no log line with {needle:?}"))
    }

    /// Every log line holding `needle`.
    pub fn lines_with(&self, needle: &str) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .cloned()
            .collect()
    }

    /// How many log lines hold `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Wait for a log line holding `needle`.
    pub fn wait_for(&self, needle: &str, max: Duration) {
        let start = Instant::now();
        while self.count(needle) == 0 {
            if let Ok(Some(status)) = self.child_status() {
                panic!(
                    "liveguard exited ({status}) before {needle:?}:\n{}",
                    self.log.lock().unwrap().join("\n")
                );
            }
            assert!(
                start.elapsed() < max,
                "no {needle:?} within {max:?}:\n{}",
                self.log.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn child_status(&self) -> std::io::Result<Option<std::process::ExitStatus>> {
        // try_wait needs &mut; a clone of the pid is enough to ask /proc.
        let pid = self.child.id();
        let alive = Path::new(&format!("/proc/{pid}")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z ");
        Ok(if alive {
            None
        } else {
            Some(std::os::unix::process::ExitStatusExt::from_raw(0))
        })
    }

    /// SIGKILL it and wait for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Send it `signal` (`STOP`, `CONT`: a pause such as a frozen VM's, and the
    /// wake-up).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal}: {status}");
    }

    /// SIGTERM it and wait for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().unwrap()
    }
}

impl Drop for Liveguard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
