//! `abis adjudicate`: the manual-adjudication queue. `list` shows the open cases with their
//! candidates and per-modality scores; `decide` records a human decision and carries it out:
//! "same person" links the packet to the existing registration's UIN, "different people"
//! issues a new UIN, "resubmit" (the only decision for a search that stayed incomplete) queues
//! the packet for `abis register --retry-due`.

use super::clients::{ClientState, StateArgs};
use abis_registration::{Case, CaseKind, Decision};
use std::process::ExitCode;

/// Arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: AdjudicateCommand,
    #[command(flatten)]
    state: StateArgs,
}

#[derive(Debug, clap::Subcommand)]
enum AdjudicateCommand {
    /// List the open cases.
    List {
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Record a decision on a case and carry it out.
    Decide {
        /// The case id (as `list` shows it).
        case_id: String,
        /// The applicant is this existing registration (one of the case's candidates).
        #[arg(long, group = "decision")]
        same_person: Option<String>,
        /// The applicant is none of the candidates: issue a new UIN.
        #[arg(long, group = "decision")]
        different_people: bool,
        /// Search again (for a case whose search was incomplete).
        #[arg(long, group = "decision")]
        resubmit: bool,
        /// Who decides (recorded with the decision).
        #[arg(long, default_value = "operator")]
        by: String,
    },
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let state = ClientState::open(&args.state.dir(), args.state.rules()?)?;
    // Decisions recorded before a crash, not yet carried out.
    state.apply_decisions()?;
    match args.command {
        AdjudicateCommand::List { json } => {
            let cases = state.store.open_cases()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&cases)?);
            } else {
                print_cases(&cases);
            }
            Ok(ExitCode::SUCCESS)
        }
        AdjudicateCommand::Decide {
            case_id,
            same_person,
            different_people,
            resubmit,
            by,
        } => {
            let decision =
                match (same_person, different_people, resubmit) {
                    (Some(reference_id), false, false) => Decision::SamePerson { reference_id },
                    (None, true, false) => Decision::DifferentPeople,
                    (None, false, true) => Decision::Resubmit,
                    _ => return Err(crate::BadInput(
                        "give one decision: --same-person REF, --different-people or --resubmit"
                            .into(),
                    )
                    .into()),
                };
            state.store.decide(&case_id, decision, &by)?;
            for (case, issued) in state.apply_decisions()? {
                println!(
                    "case {case}: {} has UIN {}",
                    issued.registration_id, issued.uin
                );
            }
            if let Some(case) = state.store.case(&case_id)? {
                if matches!(case.kind, CaseKind::Incomplete) {
                    println!(
                        "case {case_id}: {} will be searched again by `abis register --retry-due`",
                        case.packet_id
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_cases(cases: &[Case]) {
    if cases.is_empty() {
        println!("no open case");
        return;
    }
    for case in cases {
        let kind = match case.kind {
            CaseKind::Duplicate => "duplicate",
            CaseKind::Incomplete => "incomplete search",
        };
        println!("case {} (packet {}): {kind}", case.case_id, case.packet_id);
        if let Some(reason) = &case.reason {
            println!("  reason: {reason}");
        }
        for c in &case.candidates {
            let scores: Vec<String> = c
                .scores
                .iter()
                .map(|m| {
                    let finger = m
                        .finger_position
                        .map(|p| format!(" {p}"))
                        .unwrap_or_default();
                    format!("{:?}{finger} {:.2}", m.modality, m.score)
                })
                .collect();
            println!(
                "  candidate {:<24} fused {:>7.2}   {}",
                c.reference_id,
                c.fused_score,
                scores.join(", ")
            );
        }
    }
}
