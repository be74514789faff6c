//! `abis register`: registers applicants (folders with a `manifest.json`, see
//! `abis_registration::manifest`) through a de-dup job, on a coordinator (`--coordinator`) or
//! on the embedded gallery (`--data-dir`), records each verdict durably and issues a UIN to
//! every unique applicant. Duplicates and searches that stayed incomplete open adjudication
//! cases (`abis adjudicate`). `--retry-due` also retries earlier failures that are due and
//! runs the resubmissions decided in adjudication.
//!
//! `--watch INBOX` runs it as a service: every `--poll-ms` it registers the applicant folders
//! in the inbox that have no verdict yet (a folder still being written, which does not load
//! yet, waits for the next round), retries what is due, carries out adjudication decisions
//! and prints each packet as it settles, until SIGTERM or SIGINT.

use super::clients::{ClientState, StateArgs};
use super::DataDir;
use abis_proto::v1;
use abis_registration::{
    AnyBackend, Applicant, EmbeddedBackend, GrpcBackend, GrpcConfig, PacketState, Registrar,
    RegistrarConfig, Registration, TlsSettings, MANIFEST_FILE,
};
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Applicant folders (each holding a manifest.json) or manifest files.
    applicants: Vec<PathBuf>,
    /// Run de-dup jobs on this coordinator (http://HOST:PORT or https://HOST:PORT) instead of
    /// the embedded gallery.
    #[arg(long)]
    coordinator: Option<String>,
    /// File holding the bearer token for the coordinator.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// CA certificate (PEM) of the coordinator's TLS.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// Client key (PEM) for mutual TLS.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    #[command(flatten)]
    gallery: DataDir,
    /// Create the embedded gallery if `--data-dir` holds none (a new register). Without it a
    /// missing gallery is refused: registering against a mistyped path would find no duplicate.
    #[arg(long, conflicts_with = "coordinator")]
    create_gallery: bool,
    #[command(flatten)]
    shape: super::ShapeArgs,
    #[command(flatten)]
    state: StateArgs,
    /// Target false-positive identification rate of each search.
    #[arg(long, default_value_t = 1e-3)]
    fpir: f64,
    /// De-dup jobs per applicant in this run before it is left failed (retried later).
    #[arg(long, default_value_t = 5)]
    attempts: u32,
    /// Wait after the first failed job, in milliseconds (doubling up to 60 s).
    #[arg(long, default_value_t = 1_000)]
    backoff_ms: u64,
    /// Applicants per de-dup job (1 to 1,000).
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// Also retry failed registrations that are due and run decided resubmissions.
    #[arg(long)]
    retry_due: bool,
    /// Serve: register every applicant folder appearing in this inbox, until stopped.
    #[arg(long, conflicts_with = "applicants")]
    watch: Option<PathBuf>,
    /// Pause between two rounds of --watch, in milliseconds.
    #[arg(long, default_value_t = 5_000)]
    poll_ms: u64,
    /// Print the outcomes as JSON.
    #[arg(long)]
    json: bool,
}

fn read(path: &Option<PathBuf>, what: &str) -> anyhow::Result<Option<Vec<u8>>> {
    path.as_ref()
        .map(|p| std::fs::read(p).with_context(|| format!("cannot read {what} {}", p.display())))
        .transpose()
}

impl Args {
    fn backend(&self) -> anyhow::Result<AnyBackend> {
        let Some(endpoint) = &self.coordinator else {
            let dir = self.gallery.path();
            let engine = if self.create_gallery {
                super::open_or_create(&dir, &self.shape)?
            } else {
                super::open_existing(&dir)?
            };
            let backend = EmbeddedBackend::new(Arc::new(engine))
                .with_images(abis_coordinator::images::default_extractor());
            return Ok(AnyBackend::Embedded(backend));
        };
        let mut config = GrpcConfig::new(endpoint.clone());
        if let Some(token) = read(&self.token_file, "token file")? {
            config.token = Some(String::from_utf8(token)?.trim().to_owned());
        }
        if let Some(ca_pem) = read(&self.ca, "CA certificate")? {
            let identity = match (read(&self.cert, "certificate")?, read(&self.key, "key")?) {
                (Some(c), Some(k)) => Some((c, k)),
                _ => None,
            };
            config.tls = Some(TlsSettings {
                ca_pem,
                client_identity: identity,
                domain: None,
            });
        }
        Ok(AnyBackend::Grpc(Box::new(GrpcBackend::new(config)?)))
    }
}

/// One applicant's outcome as printed.
#[derive(Debug, serde::Serialize)]
struct Row {
    packet_id: String,
    verdict: &'static str,
    uin: Option<String>,
    case_id: Option<String>,
    detail: String,
}

fn load(path: &Path) -> anyhow::Result<Applicant> {
    Applicant::load(&super::input::manifest_of(path))
        .with_context(|| format!("applicant {}", path.display()))
        .map_err(crate::bad_input)
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    crate::ensure_input!(
        args.fpir > 0.0 && args.fpir < 1.0,
        "--fpir must lie strictly between 0 and 1"
    );
    crate::ensure_input!(
        !args.applicants.is_empty() || args.retry_due || args.watch.is_some(),
        "nothing to do: name applicant folders, --watch an inbox, or --retry-due"
    );
    crate::ensure_input!(
        (1..=1000).contains(&args.batch_size),
        "--batch-size must be 1 to 1,000"
    );
    let applicants = args
        .applicants
        .iter()
        .map(|p| load(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let state = ClientState::open(&args.state.dir(), args.state.rules()?)?;
    let mut config = RegistrarConfig {
        options: v1::IdentifyOptions {
            threshold: Some(v1::Threshold {
                kind: Some(v1::threshold::Kind::Fpir(args.fpir)),
            }),
            ..Default::default()
        },
        batch_size: args.batch_size,
        ..Default::default()
    };
    config.retry.max_attempts = args.attempts.max(1);
    config.retry.initial_backoff = Duration::from_millis(args.backoff_ms);
    let runtime = tokio::runtime::Runtime::new()?;
    let registrar = runtime.block_on(async {
        anyhow::Ok(Registrar::new(args.backend()?, state.store.clone(), config))
    })?;
    if let Some(inbox) = &args.watch {
        runtime.block_on(watch(&args, &state, &registrar, inbox))?;
        return Ok(ExitCode::SUCCESS);
    }
    let registrations = runtime.block_on(round(&registrar, &applicants, args.retry_due))?;
    let rows = settle(&state, &registrations)?;
    print_rows(&rows, args.json)?;
    let settled = registrations.iter().all(|r| r.state.is_final());
    Ok(if settled {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

/// Registers `applicants` (and, with `retry_due`, what is due again).
async fn round(
    registrar: &Registrar<AnyBackend>,
    applicants: &[Applicant],
    retry_due: bool,
) -> anyhow::Result<Vec<Registration>> {
    let mut all = registrar.register(applicants).await?;
    if retry_due {
        all.extend(registrar.resubmit_decided().await?);
        all.extend(registrar.retry_failed().await?);
    }
    Ok(all)
}

/// Issues the UINs the verdicts call for, carries out decisions; the rows to print.
fn settle(state: &ClientState, registrations: &[Registration]) -> anyhow::Result<Vec<Row>> {
    let issued: BTreeMap<String, String> = state
        .issue_unique(registrations)?
        .into_iter()
        .map(|i| (i.registration_id, i.uin))
        .collect();
    state.apply_decisions()?;
    Ok(registrations.iter().map(|r| row(r, &issued)).collect())
}

fn print_rows(rows: &[Row], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(rows)?);
        return Ok(());
    }
    for r in rows {
        let uin = r.uin.as_deref().unwrap_or("-");
        let case = r.case_id.as_deref().unwrap_or("-");
        println!(
            "{:<24} {:<10} uin {uin:<10} case {case:<28} {}",
            r.packet_id, r.verdict, r.detail
        );
    }
    Ok(())
}

/// The service loop of `--watch`.
async fn watch(
    args: &Args,
    state: &ClientState,
    registrar: &Registrar<AnyBackend>,
    inbox: &Path,
) -> anyhow::Result<()> {
    let stop = abis_server_kit::shutdown_signal()?;
    tokio::pin!(stop);
    eprintln!("registering applicant folders from {}", inbox.display());
    loop {
        let mut waiting = Vec::new();
        let entries = std::fs::read_dir(inbox)
            .with_context(|| format!("cannot read the inbox {}", inbox.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.join(MANIFEST_FILE).is_file() {
                continue;
            }
            match load(&path) {
                // New or pending packets; failed ones come back through retry_failed when due.
                Ok(a) => {
                    let known = state.store.get(&a.packet_id)?;
                    let waits = known.is_none_or(|r| matches!(r.state, PacketState::Pending));
                    if waits {
                        waiting.push(a);
                    }
                }
                Err(e) => tracing::info!("not yet loadable, next round: {e:#}"),
            }
        }
        let registrations = round(registrar, &waiting, true).await?;
        print_rows(&settle(state, &registrations)?, args.json)?;
        tokio::select! {
            name = &mut stop => {
                eprintln!("{name}: stopping");
                return Ok(());
            }
            _ = tokio::time::sleep(Duration::from_millis(args.poll_ms)) => {}
        }
    }
}

fn row(r: &Registration, issued: &BTreeMap<String, String>) -> Row {
    let detail = match &r.state {
        PacketState::Pending => "no verdict yet".to_owned(),
        PacketState::Unique { .. } => "UIN issued".to_owned(),
        PacketState::Duplicate { candidates, .. } => format!(
            "duplicate of {}",
            candidates
                .iter()
                .map(|c| format!("{} ({:.1})", c.reference_id, c.fused_score))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        PacketState::Failed {
            last_error,
            retryable,
            ..
        } => format!(
            "{} ({last_error})",
            if *retryable {
                "will be retried"
            } else {
                "refused"
            }
        ),
    };
    Row {
        packet_id: r.packet_id.clone(),
        verdict: r.state.name(),
        uin: issued.get(&r.packet_id).cloned(),
        case_id: r.open_case.clone(),
        detail,
    }
}
