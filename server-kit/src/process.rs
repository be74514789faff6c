//! Starting an abis server binary as a child process and waiting until it serves: the other
//! half of [`crate::listen`]'s `listening on <addr>` announcement. Used by the end-to-end tests
//! and the `cluster-identify` benchmark, which run real shard nodes and coordinators.

use anyhow::{bail, Context};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a server may take to announce its address.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A server that exited before it announced its address: its exit status and log.
#[derive(Debug)]
pub struct Exited {
    /// The binary.
    pub bin: PathBuf,
    /// How it ended.
    pub status: ExitStatus,
    /// Its stderr (the logs).
    pub log: String,
}

impl std::fmt::Display for Exited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} exited with {}:\n{}",
            self.bin.display(),
            self.status,
            self.log
        )
    }
}

impl std::error::Error for Exited {}

/// A running server process, killed on drop.
pub struct Proc {
    child: Child,
    log: PathBuf,
    /// The address it announced.
    pub addr: SocketAddr,
    /// Its metrics endpoint, if it announced one (`metrics on <addr>`, printed before
    /// `listening on`).
    pub metrics: Option<SocketAddr>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts `bin` with `args` (logs at `info` to the file `log`) and waits until it prints
    /// `listening on <addr>` (noting a `metrics on <addr>` line on the way). Fails if it takes
    /// over a minute, or with [`Exited`] (its status and log) if it exits first.
    pub fn start(bin: &Path, args: &[String], log: &Path) -> anyhow::Result<Self> {
        let stderr = std::fs::File::create(log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let mut child = Command::new(bin)
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        let mut metrics = None;
        loop {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(50)) {
                if let Some(a) = line.strip_prefix("metrics on ") {
                    metrics = Some(a.trim().parse().context("bad metrics address")?);
                }
                if let Some(a) = line.strip_prefix("listening on ") {
                    let addr = a.trim().parse().context("bad announced address")?;
                    return Ok(Self {
                        child,
                        log: log.to_path_buf(),
                        addr,
                        metrics,
                    });
                }
            }
            if let Some(status) = child.try_wait()? {
                return Err(Exited {
                    bin: bin.to_path_buf(),
                    status,
                    log: std::fs::read_to_string(log).unwrap_or_default(),
                }
                .into());
            }
            if Instant::now() > deadline {
                bail!("{} did not announce its address", bin.display());
            }
        }
    }

    /// Its log (stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills it at once (SIGKILL: no graceful shutdown).
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Asks it to stop (SIGTERM) and waits for its exit status.
    pub fn terminate(mut self) -> anyhow::Result<ExitStatus> {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status()?;
        anyhow::ensure!(sent.success(), "kill -TERM {pid} failed");
        Ok(self.child.wait()?)
    }
}
