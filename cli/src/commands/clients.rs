//! The thin clients' state as the CLI keeps it, in one directory: `registrations/`
//! (abis-registration's store: verdicts and the adjudication queue) and `uin/`
//! (abis-issuance's issuer), plus the one rule joining them: a UIN is issued only for a
//! `unique` verdict or a human's "different people" decision, and a "same person" decision
//! links the packet to the existing registration's UIN.

use abis_issuance::{Issued, Issuer, UinRules};
use abis_registration::{Action, PacketState, Registration, RegistrationStore};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `--state-dir` and `--uin-rules`, shared by the client commands.
#[derive(Debug, clap::Args)]
pub struct StateArgs {
    /// Registration, adjudication and UIN state [default: <user data dir>/abis/clients].
    #[arg(long, global = true)]
    pub state_dir: Option<PathBuf>,
    /// UIN rules (TOML, MOSIP's settings in kebab-case, e.g. `sequence-limit = 3`)
    /// [default: MOSIP's defaults].
    #[arg(long, global = true)]
    pub uin_rules: Option<PathBuf>,
}

impl StateArgs {
    /// The state directory.
    pub fn dir(&self) -> PathBuf {
        self.state_dir
            .clone()
            .unwrap_or_else(|| crate::default_data_dir("clients"))
    }

    /// The UIN rules, from the file or the defaults.
    pub fn rules(&self) -> anyhow::Result<UinRules> {
        read_rules(self.uin_rules.as_deref())
    }
}

/// UIN rules from a TOML file, or MOSIP's defaults.
pub fn read_rules(path: Option<&Path>) -> anyhow::Result<UinRules> {
    let Some(path) = path else {
        return Ok(UinRules::default());
    };
    read_rules_file(path).map_err(crate::bad_input)
}

fn read_rules_file(path: &Path) -> anyhow::Result<UinRules> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read UIN rules {}", path.display()))?;
    let rules: UinRules =
        toml::from_str(&text).with_context(|| format!("bad UIN rules {}", path.display()))?;
    rules
        .check()
        .with_context(|| format!("unusable UIN rules {}", path.display()))?;
    Ok(rules)
}

/// The registration store and the UIN issuer.
pub struct ClientState {
    /// Verdicts and adjudication cases.
    pub store: Arc<RegistrationStore>,
    /// UINs.
    pub issuer: Issuer,
}

impl ClientState {
    /// Opens (creating) the state in `dir`.
    pub fn open(dir: &Path, rules: UinRules) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let store = RegistrationStore::open(&dir.join("registrations"))
            .with_context(|| format!("cannot open the registration store in {}", dir.display()))?;
        let issuer = Issuer::open(dir.join("uin"), rules)
            .with_context(|| format!("cannot open the UIN store in {}", dir.display()))?;
        Ok(Self {
            store: Arc::new(store),
            issuer,
        })
    }

    /// Issues a UIN to every `unique` registration of `registrations` (idempotent: one that
    /// has a UIN gets it back), in one durable batch.
    pub fn issue_unique(&self, registrations: &[Registration]) -> anyhow::Result<Vec<Issued>> {
        let unique: Vec<&str> = registrations
            .iter()
            .filter(|r| matches!(r.state, PacketState::Unique { .. }))
            .map(|r| r.packet_id.as_str())
            .collect();
        if unique.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.issuer.issue_batch(&unique)?)
    }

    /// Carries out every decided case not yet acted on: issues a UIN ("different people") or
    /// links to the existing one ("same person"), then marks the case acted. Resubmissions
    /// are left for `abis register --retry-due`. Returns what was done.
    pub fn apply_decisions(&self) -> anyhow::Result<Vec<(String, Issued)>> {
        let mut done = Vec::new();
        for (case, action) in self.store.pending_actions()? {
            let issued = match &action {
                Action::IssueUin { packet_id } => self.issuer.issue(packet_id)?,
                Action::LinkToExisting {
                    packet_id,
                    reference_id,
                } => self.issuer.link(packet_id, reference_id).with_context(|| {
                    format!(
                        "case {}: linking {packet_id} to {reference_id}",
                        case.case_id
                    )
                })?,
                Action::Resubmit { .. } => continue,
            };
            self.store.mark_acted(&case.case_id)?;
            done.push((case.case_id, issued));
        }
        Ok(done)
    }
}
