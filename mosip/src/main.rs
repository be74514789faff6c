//! `abis-mosip`: abis as MOSIP's ABIS. Reads MOSIP's requests from an ActiveMQ queue over
//! STOMP, fetches and decrypts each registration's biometrics from the datashare, and answers
//! on the outbound queue, from an embedded abis gallery or, with `--coordinator`, an abis
//! cluster. See docs/MOSIP.md.

use abis_mosip::adapter::{self, Adapter, QueueOptions};
use abis_mosip::cluster::{Cluster, ClusterConfig, TlsSettings};
use abis_mosip::fetch::{Auth, Fetcher};
use abis_mosip::gallery::{Embedded, Gallery, GalleryError};
use abis_mosip::keys::DecryptionKey;
use abis_mosip::stomp::ConnectOptions;
use abis_mosip::store::Store;
use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// abis as MOSIP's ABIS: the ABIS queue adapter on an embedded abis gallery or an abis cluster.
#[derive(Debug, Parser)]
#[command(name = "abis-mosip", version)]
struct Args {
    /// Data directory: the embedded gallery (`gallery/`, made for images at the first start)
    /// and the adapter's replies, claims and, with `--coordinator`, the templates it enrolled
    /// (`adapter/`).
    #[arg(long)]
    data: PathBuf,
    /// The broker's STOMP connector, `host:port` (also `stomp://host:port` or
    /// `tcp://host:port`).
    #[arg(long, default_value = "127.0.0.1:61613")]
    broker: String,
    /// Broker login.
    #[arg(long, env = "ABIS_MOSIP_BROKER_USER")]
    broker_user: Option<String>,
    /// File holding the broker password.
    #[arg(long)]
    broker_password_file: Option<PathBuf>,
    /// The queue MOSIP sends requests to.
    #[arg(long, default_value = "mosip-to-abis")]
    inbound: String,
    /// The queue MOSIP reads replies from.
    #[arg(long, default_value = "abis-to-mosip")]
    outbound: String,
    /// Requests the broker hands over ahead of their answers (they count as pending jobs).
    #[arg(long, default_value_t = 16)]
    prefetch: usize,
    /// The ABIS partner's PKCS#12 key store (the datashare encrypts for its certificate).
    #[arg(long)]
    key_store: PathBuf,
    /// File holding the key store's password.
    #[arg(long)]
    key_store_password_file: PathBuf,
    /// The key's alias in the store (default: its only private key).
    #[arg(long)]
    key_alias: Option<String>,
    /// MOSIP's authenticate endpoint (`.../v1/authmanager/authenticate/clientidsecretkey`);
    /// without it the datashare is fetched without a token.
    #[arg(long)]
    auth_url: Option<String>,
    /// `appId` for the authenticate endpoint.
    #[arg(long, default_value = "regproc")]
    app_id: String,
    /// `clientId` for the authenticate endpoint.
    #[arg(long)]
    client_id: Option<String>,
    /// File holding the `secretKey` for the authenticate endpoint.
    #[arg(long)]
    secret_key_file: Option<PathBuf>,
    /// Extra CA certificates (PEM) trusted for the datashare and the authenticate endpoint.
    #[arg(long)]
    datashare_ca: Option<PathBuf>,
    /// `maxResults` for Identify requests that give none.
    #[arg(long, default_value_t = 30)]
    max_results: usize,
    /// `targetFPIR` (`round(-10 log10 FPIR)`) for Identify requests that give none.
    #[arg(long, default_value_t = 30.0)]
    target_fpir: f64,
    /// Hours a reply is kept, to answer a redelivered request the same (MOSIP's requests expire
    /// after 45 minutes).
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u64).range(1..=8760))]
    reply_retention_hours: u64,
    /// Folder of the extraction models (default: the models folder `scripts/fetch-models.sh`
    /// fills).
    #[arg(long)]
    models: Option<PathBuf>,
    /// Seal templates at rest with the keys in this file (as `abis --key-file`): the embedded
    /// gallery's, or those the adapter keeps of what it enrolled in a cluster.
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// Serve from the abis cluster behind this coordinator (http://HOST:PORT or
    /// https://HOST:PORT) instead of an embedded gallery.
    #[arg(long)]
    coordinator: Option<String>,
    /// File holding the bearer token for the coordinator.
    #[arg(long, requires = "coordinator")]
    coordinator_token_file: Option<PathBuf>,
    /// CA certificate (PEM) of the coordinator's TLS.
    #[arg(long, requires = "coordinator")]
    coordinator_ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS with the coordinator.
    #[arg(long, requires_all = ["coordinator_key", "coordinator_ca"])]
    coordinator_cert: Option<PathBuf>,
    /// Client key (PEM) of --coordinator-cert.
    #[arg(long, requires = "coordinator_cert")]
    coordinator_key: Option<PathBuf>,
}

/// The adapter on the gallery the flags chose.
enum Served {
    Embedded(Arc<Adapter<Embedded>>),
    Cluster(Arc<Adapter<Cluster>>),
}

fn secret(path: &std::path::Path) -> anyhow::Result<String> {
    Ok(std::fs::read_to_string(path)
        .with_context(|| format!("reading {}", path.display()))?
        .trim_end_matches(['\n', '\r'])
        .to_owned())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("abis-mosip: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(setup(&args)) {
        Ok((Served::Embedded(adapter), queues)) => runtime.block_on(serve(adapter, queues)),
        Ok((Served::Cluster(adapter), queues)) => runtime.block_on(serve(adapter, queues)),
        Err(e) => {
            eprintln!("abis-mosip: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Consumes requests until stopped.
async fn serve<G: Gallery>(adapter: Arc<Adapter<G>>, queues: QueueOptions) -> ExitCode {
    let announce = queues.connect.address.clone();
    let inbound = queues.inbound.clone();
    let stats = adapter.clone();
    tokio::select! {
        () = adapter::run(adapter, queues, move || {
            println!("abis-mosip: consuming /queue/{inbound} on {announce}");
        }) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    eprintln!("abis-mosip: stopping ({})", stats.timings.summary());
    ExitCode::SUCCESS
}

/// `adapter` with the request defaults of the flags.
fn with_defaults<G: Gallery>(mut adapter: Adapter<G>, args: &Args) -> Arc<Adapter<G>> {
    adapter.default_max_results = args.max_results;
    adapter.default_target_fpir = args.target_fpir;
    adapter.reply_retention = Duration::from_secs(args.reply_retention_hours * 3600);
    Arc::new(adapter)
}

/// The cluster behind `--coordinator`, waiting up to 30 s for it to answer (a coordinator
/// started alongside may not listen yet).
async fn cluster(args: &Args, endpoint: &str, store: Store) -> anyhow::Result<Cluster> {
    let read = |path: &Option<PathBuf>| {
        path.as_ref()
            .map(|p| std::fs::read(p).with_context(|| format!("reading {}", p.display())))
            .transpose()
    };
    if endpoint.starts_with("https://") && args.coordinator_ca.is_none() {
        anyhow::bail!("an https:// coordinator needs --coordinator-ca");
    }
    let mut config = ClusterConfig::new(endpoint);
    config.token = args
        .coordinator_token_file
        .as_deref()
        .map(secret)
        .transpose()?;
    if let Some(ca_pem) = read(&args.coordinator_ca)? {
        let client_identity = read(&args.coordinator_cert)?.zip(read(&args.coordinator_key)?);
        config.tls = Some(TlsSettings {
            ca_pem,
            client_identity,
            domain: None,
        });
    }
    let keyring = abis_engine::crypto::keyring_from(args.key_file.as_deref())?.map(Arc::new);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match Cluster::connect(config.clone(), store.clone(), keyring.clone()).await {
            Ok(cluster) => return Ok(cluster),
            Err(GalleryError::Failed(why)) if Instant::now() < deadline => {
                tracing::warn!("coordinator {endpoint}: {why}; trying again");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => anyhow::bail!("coordinator {endpoint}: {e}"),
        }
    }
}

async fn setup(args: &Args) -> anyhow::Result<(Served, QueueOptions)> {
    let password = secret(&args.key_store_password_file)?;
    let p12 = std::fs::read(&args.key_store)
        .with_context(|| format!("reading {}", args.key_store.display()))?;
    let key = DecryptionKey::from_pkcs12(&p12, &password, args.key_alias.as_deref())
        .with_context(|| format!("key store {}", args.key_store.display()))?;
    let auth = match (&args.auth_url, &args.client_id, &args.secret_key_file) {
        (Some(url), Some(client_id), Some(secret_file)) => Some(Auth {
            url: url.clone(),
            app_id: args.app_id.clone(),
            client_id: client_id.clone(),
            secret_key: secret(secret_file)?,
        }),
        (None, None, None) => None,
        _ => anyhow::bail!("--auth-url, --client-id and --secret-key-file go together"),
    };
    let ca = args
        .datashare_ca
        .as_ref()
        .map(|p| std::fs::read(p).with_context(|| format!("reading {}", p.display())))
        .transpose()?;
    let fetcher = Fetcher::new(auth, ca.as_deref())?;
    if !(args.target_fpir >= 0.0 && args.target_fpir <= 120.0) {
        anyhow::bail!("--target-fpir must be in 0..=120");
    }
    if !(1..=abis_mosip::request::MAX_RESULTS).contains(&args.max_results) {
        anyhow::bail!(
            "--max-results must be in 1..={}",
            abis_mosip::request::MAX_RESULTS
        );
    }
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("creating {}", args.data.display()))?;
    let store = Store::open(&args.data.join("adapter"))?;
    let extractor: Arc<dyn abis_proto::ImageExtractor> = Arc::new(
        abis_coordinator::images::Extractors::load(args.models.as_deref()),
    );
    let served = match &args.coordinator {
        Some(endpoint) => {
            let gallery = cluster(args, endpoint, store.clone()).await?;
            let adapter = Adapter::new(gallery, store, fetcher, key, extractor);
            Served::Cluster(with_defaults(adapter, args))
        }
        None => {
            let keyring =
                abis_engine::crypto::keyring_from(args.key_file.as_deref())?.map(Arc::new);
            let engine = abis_engine::Engine::open(
                args.data.join("gallery"),
                abis_engine::EngineOptions {
                    gallery: Some(abis_engine::GalleryConfig::IMAGES),
                    keyring,
                    ..Default::default()
                },
            )?;
            let adapter = Adapter::new(Embedded::new(engine), store, fetcher, key, extractor);
            Served::Embedded(with_defaults(adapter, args))
        }
    };
    let address = args
        .broker
        .trim_start_matches("stomp://")
        .trim_start_matches("tcp://")
        .trim_end_matches('/')
        .to_owned();
    let host = address
        .rsplit_once(':')
        .map_or(address.as_str(), |(h, _)| h)
        .to_owned();
    let queues = QueueOptions {
        connect: ConnectOptions {
            address,
            login: args.broker_user.clone(),
            passcode: args
                .broker_password_file
                .as_deref()
                .map(secret)
                .transpose()?,
            host,
        },
        inbound: args.inbound.clone(),
        outbound: args.outbound.clone(),
        prefetch: args.prefetch,
    };
    Ok((served, queues))
}
