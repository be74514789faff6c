//! Reads over the whole gallery: the reference count and 1:N identify, both through
//! [`Cluster::scatter`] so every slot is read from exactly one live replica.
//!
//! Identify first counts the gallery (an FPIR threshold depends on its total size N:
//! `identify_threshold(fpir, N)`), then sends each node one `IdentifyBatch` with the threshold
//! as a score and its slot ranges, and with each a `Count` of the same ranges, so
//! `records_searched` counts each record once however many replicas hold it. Nodes return fused
//! scores; the merge only sorts, removes the probe itself and cuts to `max_results`.
//!
//! Fail closed: a slot no replica answered for makes every result `INCOMPLETE`, naming the
//! slots; unless the request allows incomplete answers that is an `UNAVAILABLE` error instead,
//! so an empty candidate list can never be taken for "no duplicate" by mistake.

use crate::cluster::{unavailable, Cluster};
use abis_engine::fusion::identify_threshold;
use abis_engine::{IdentifyRequest, Threshold};
use abis_proto::v1::{self, Completeness};
use abis_proto::{ProtoError, MAX_BATCH_ITEMS};
use std::sync::Arc;
use tonic::Status;

/// The gallery's size and whether every slot was counted.
pub async fn count(cluster: &Arc<Cluster>) -> Result<(u64, Completeness), Status> {
    let gathered = cluster
        .scatter(
            |mut client, slots| async move { client.count(v1::ShardCountRequest { slots }).await },
        )
        .await?;
    let total = gathered
        .parts
        .iter()
        .flat_map(|p| &p.value.ranges)
        .map(|r| r.records)
        .sum();
    Ok((total, completeness(gathered.unsearched)))
}

fn completeness(unsearched: Vec<v1::UnsearchedPart>) -> Completeness {
    if unsearched.is_empty() {
        Completeness::complete()
    } else {
        Completeness::incomplete(unsearched)
    }
}

/// The threshold as a calibrated score, checked.
fn threshold_score(request: &IdentifyRequest, gallery: u64) -> Result<f64, Status> {
    let bad = |reason: &str| -> Status {
        ProtoError::OutOfRange {
            field: "options.threshold".into(),
            reason: reason.into(),
        }
        .into()
    };
    match request.threshold {
        Threshold::Fpir(f) if f > 0.0 && f < 1.0 => Ok(identify_threshold(f, gallery)),
        Threshold::Fpir(_) => Err(bad("fpir must lie strictly between 0 and 1")),
        Threshold::Score(s) if s.is_finite() && s >= 0.0 => Ok(s),
        Threshold::Score(_) => Err(bad("score must be finite and at least 0")),
    }
}

/// Identifies `probes` against the whole gallery.
pub async fn identify(
    cluster: &Arc<Cluster>,
    probes: Vec<v1::Record>,
    options: Option<&v1::IdentifyOptions>,
) -> Result<Vec<v1::IdentifyResult>, Status> {
    if probes.is_empty() || probes.len() > MAX_BATCH_ITEMS {
        return Err(ProtoError::OutOfRange {
            field: "probes".into(),
            reason: format!("{} items, 1 to {MAX_BATCH_ITEMS} accepted", probes.len()),
        }
        .into());
    }
    if let Some((i, _)) = probes
        .iter()
        .enumerate()
        .find(|(_, p)| p.reference_id.is_empty())
    {
        return Err(ProtoError::missing(format!("probes[{i}].reference_id")).into());
    }
    let request = abis_proto::identify_request(options);
    let allow_incomplete = options.is_some_and(|o| o.allow_incomplete);
    let (gallery, _) = count(cluster).await?;
    let threshold = threshold_score(&request, gallery)?;
    let max_results = u32::try_from(request.max_results).unwrap_or(u32::MAX);
    let probes = Arc::new(probes);
    let gathered = cluster
        .scatter(|mut client, slots| {
            let probes = probes.clone();
            async move {
                let counted = client
                    .count(v1::ShardCountRequest {
                        slots: slots.clone(),
                    })
                    .await?
                    .into_inner();
                let mut response = client
                    .identify_batch(v1::ShardIdentifyBatchRequest {
                        probes: probes.to_vec(),
                        max_results,
                        threshold_score: threshold,
                        slots,
                    })
                    .await?;
                let searched: u64 = counted.ranges.iter().map(|r| r.records).sum();
                let out = std::mem::take(&mut response.get_mut().results);
                Ok(tonic::Response::new((searched, out)))
            }
        })
        .await?;
    for part in &gathered.parts {
        let (_, results) = &part.value;
        let complete = results.len() == probes.len()
            && results
                .iter()
                .all(|r| r.completeness.as_ref().is_some_and(|c| c.is_complete()));
        if !complete {
            let node = &cluster.nodes[part.node].entry.id;
            return Err(unavailable(format!(
                "shard {node} answered an incomplete identify"
            )));
        }
    }
    let completeness = completeness(gathered.unsearched);
    if !completeness.is_complete() && !allow_incomplete {
        return Err(unavailable(format!(
            "part of the gallery could not be searched: {}",
            describe(&completeness)
        )));
    }
    let searched: u64 = gathered.parts.iter().map(|p| p.value.0).sum();
    Ok(probes
        .iter()
        .enumerate()
        .map(|(i, probe)| {
            let mut candidates: Vec<v1::Candidate> = gathered
                .parts
                .iter()
                .flat_map(|p| p.value.1[i].candidates.iter().cloned())
                .filter(|c| c.reference_id != probe.reference_id)
                .collect();
            candidates.sort_by(|a, b| {
                b.fused_score
                    .total_cmp(&a.fused_score)
                    .then_with(|| a.reference_id.cmp(&b.reference_id))
            });
            candidates.dedup_by(|a, b| a.reference_id == b.reference_id);
            candidates.truncate(request.max_results);
            v1::IdentifyResult {
                probe_reference_id: probe.reference_id.clone(),
                candidates,
                threshold,
                records_searched: searched,
                completeness: Some(completeness.clone()),
            }
        })
        .collect())
}

/// A one-line summary of what was not searched.
pub fn describe(c: &Completeness) -> String {
    c.unsearched
        .iter()
        .map(|u| {
            let slots: u32 = u.slots.iter().map(|r| r.len()).sum();
            format!(
                "{slots} slots (shards {}): {}",
                u.shard_ids.join(","),
                u.detail
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}
