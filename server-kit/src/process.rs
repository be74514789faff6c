//! Starting an abis server binary as a child process and waiting until it serves: the other
//! half of [`crate::listen`]'s `listening on <addr>` announcement. Used by the end-to-end tests
//! and the `cluster-identify` benchmark, which run real shard nodes and coordinators.

use anyhow::{bail, Context};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a server may take to announce its address.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running server process, killed on drop.
pub struct Proc {
    child: Child,
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
    /// Starts `bin` with `args` (logs at `info` to the file `log`) and waits until it prints
    /// `listening on <addr>` (noting a `metrics on <addr>` line on the way). Fails, with the
    /// log, if it exits first or takes over a minute.
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
                        addr,
                        metrics,
                    });
                }
            }
            if let Some(status) = child.try_wait()? {
                bail!(
                    "{} exited with {status}:\n{}",
                    bin.display(),
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            if Instant::now() > deadline {
                bail!("{} did not announce its address", bin.display());
            }
        }
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
