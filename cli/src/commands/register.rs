//! `abis register`: registers applicants (folders with a `manifest.json`, see
//! `abis_registration::manifest`) through a de-dup job, on a coordinator (`--coordinator`) or
//! on the embedded gallery (`--data-dir`), records each verdict durably and issues a UIN to
//! every unique applicant. Duplicates and searches that stayed incomplete open adjudication
//! cases (`abis adjudicate`). `--retry-due` also retries earlier failures that are due and
//! runs the resubmissions decided in adjudication.

use super::clients::{ClientState, StateArgs};
use super::DataDir;
use abis_proto::v1;
use abis_registration::{
    AnyBackend, Applicant, EmbeddedBackend, GrpcBackend, GrpcConfig, PacketState, Registrar,
    RegistrarConfig, Registration, TlsSettings, MANIFEST_FILE,
};
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

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
            let engine = super::open(&self.gallery.path())?;
            return Ok(AnyBackend::Embedded(EmbeddedBackend::new(Arc::new(engine))));
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

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.fpir > 0.0 && args.fpir < 1.0,
        "--fpir must lie strictly between 0 and 1"
    );
    anyhow::ensure!(
        !args.applicants.is_empty() || args.retry_due,
        "nothing to do: name applicant folders, or --retry-due"
    );
    let applicants = args
        .applicants
        .iter()
        .map(|p| {
            let manifest = if p.is_dir() {
                p.join(MANIFEST_FILE)
            } else {
                p.clone()
            };
            Applicant::load(&manifest).with_context(|| format!("applicant {}", p.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let state = ClientState::open(&args.state.dir(), args.state.rules()?)?;
    anyhow::ensure!(
        (1..=1000).contains(&args.batch_size),
        "--batch-size must be 1 to 1,000"
    );
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
    config.retry.initial_backoff = std::time::Duration::from_millis(args.backoff_ms);
    let runtime = tokio::runtime::Runtime::new()?;
    let registrations = runtime.block_on(async {
        let registrar = Registrar::new(args.backend()?, state.store.clone(), config);
        let mut all = registrar.register(&applicants).await?;
        if args.retry_due {
            all.extend(registrar.resubmit_decided().await?);
            all.extend(registrar.retry_failed().await?);
        }
        anyhow::Ok(all)
    })?;
    let issued: BTreeMap<String, String> = state
        .issue_unique(&registrations)?
        .into_iter()
        .map(|i| (i.registration_id, i.uin))
        .collect();
    state.apply_decisions()?;
    let rows: Vec<Row> = registrations.iter().map(|r| row(r, &issued)).collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for r in &rows {
            let uin = r.uin.as_deref().unwrap_or("-");
            let case = r.case_id.as_deref().unwrap_or("-");
            println!(
                "{:<24} {:<10} uin {uin:<10} case {case:<28} {}",
                r.packet_id, r.verdict, r.detail
            );
        }
    }
    let settled = registrations.iter().all(|r| r.state.is_final());
    Ok(if settled {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
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
