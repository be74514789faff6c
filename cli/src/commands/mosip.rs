//! `abis mosip decrypt`: a MOSIP datashare payload decrypted to its CBEFF XML, with the ABIS's
//! key store (for operators checking what MOSIP sends, and for `abis extract`).

use abis_mosip::keys::DecryptionKey;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: MosipCommand,
}

#[derive(Debug, clap::Subcommand)]
enum MosipCommand {
    /// Decrypt a datashare payload (base64 text as fetched) to its CBEFF XML.
    Decrypt {
        /// The payload.
        payload: PathBuf,
        /// The ABIS's PKCS#12 key store.
        #[arg(long)]
        key_store: PathBuf,
        /// The key store's password (default: $ABIS_KEY_STORE_PASSWORD, which other users of
        /// the machine cannot read as they can read arguments).
        #[arg(long)]
        password: Option<String>,
        /// The key's alias (default: the store's only private key).
        #[arg(long)]
        alias: Option<String>,
        /// Where to write the XML.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        MosipCommand::Decrypt {
            payload,
            key_store,
            password,
            alias,
            out,
        } => {
            let read = |p: &PathBuf| {
                std::fs::read(p)
                    .map_err(|e| crate::BadInput(format!("cannot read {}: {e}", p.display())))
            };
            let password = password
                .or_else(|| std::env::var("ABIS_KEY_STORE_PASSWORD").ok())
                .ok_or_else(|| {
                    crate::BadInput("give --password or set ABIS_KEY_STORE_PASSWORD".into())
                })?;
            let key = DecryptionKey::from_pkcs12(&read(&key_store)?, &password, alias.as_deref())
                .map_err(crate::bad_input)?;
            let xml =
                abis_mosip::datashare::decrypt(&read(&payload)?, &key).map_err(crate::bad_input)?;
            let samples = abis_mosip::cbeff::samples(&xml).map_err(crate::bad_input)?;
            std::fs::write(&out, &xml)?;
            for s in &samples {
                println!(
                    "{:?} {:?}: format {}/{}, {} bytes",
                    s.modality,
                    s.subtype,
                    s.format_owner,
                    s.format_type,
                    s.data.len()
                );
            }
            println!("{} samples -> {}", samples.len(), out.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}
