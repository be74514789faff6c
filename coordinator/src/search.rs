//! Reads over the whole gallery: the reference count and 1:N identify, both through
//! [`Cluster::scatter`] so every slot is read from exactly one readable replica.
//!
//! Identify first counts the gallery (an FPIR threshold depends on its total size N:
//! `identify_threshold(fpir, N)`), then sends each node one `IdentifyBatch` with the threshold
//! as a score and its slot ranges. Each node searches only those slots and reports per probe
//! the records it compared, so `records_searched` counts each record once however many replicas
//! hold it. Nodes return fused scores; the merge only sorts, removes the probe itself and cuts
//! to `max_results`.
//!
//! Limits ([`Limits`]): `max_results` and the probes' count are capped and their product (the
//! candidates an answer may carry) too, so an answer always fits a message; a fixed threshold
//! score below the floor is refused (everyone would be a candidate); each node's deadline grows
//! with the work asked of it (probes times its records), so a large batch is not cut short by a
//! deadline made for a single probe, and a call the coordinator gives up on is cancelled on the
//! node (`grpc-timeout`).
//!
//! Fail closed: a slot no readable replica answered for makes every result `INCOMPLETE`,
//! naming the slots; unless the request allows incomplete answers that is an `UNAVAILABLE`
//! error instead, so an empty candidate list can never be taken for "no duplicate" by mistake.

use crate::cluster::{unavailable, Cluster};
use abis_engine::fusion::identify_threshold;
use abis_engine::{IdentifyRequest, Threshold};
use abis_proto::status::status_from_detail;
use abis_proto::v1::{self, Completeness, ErrorCode, ErrorDetail};
use abis_proto::{ProtoError, MAX_ANSWER_CANDIDATES, MAX_BATCH_ITEMS, MAX_RESULTS};
use std::sync::Arc;
use std::time::Duration;
use tonic::Status;

/// What one search may ask for, and how long nodes get.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Most probes (and records, applicants, ids) per request.
    pub max_batch: usize,
    /// Most candidates per probe.
    pub max_results: usize,
    /// Least fixed threshold score accepted (calibrated: -log10 of the false match rate).
    pub min_threshold_score: f64,
    /// Record-probe comparisons per second a node is assumed to reach at least, for its
    /// deadline: a call gets the base deadline plus its probes times the node's records over
    /// this rate.
    pub scan_rate: f64,
    /// Longest deadline a search call to a node gets.
    pub max_deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_batch: MAX_BATCH_ITEMS,
            max_results: MAX_RESULTS,
            min_threshold_score: 3.0,
            scan_rate: 2e5,
            max_deadline: Duration::from_secs(3600),
        }
    }
}

fn too_large(message: String) -> Status {
    status_from_detail(ErrorDetail {
        code: ErrorCode::TooLarge as i32,
        message,
        ..Default::default()
    })
}

impl Limits {
    /// Checks a request's size: items and, for searches, results per probe and in all.
    pub fn check_items(&self, field: &str, n: usize) -> Result<(), Status> {
        if n == 0 {
            return Err(ProtoError::OutOfRange {
                field: field.into(),
                reason: "no item".into(),
            }
            .into());
        }
        if n > self.max_batch {
            return Err(too_large(format!(
                "{field}: {n} items, at most {} accepted",
                self.max_batch
            )));
        }
        Ok(())
    }

    fn check_search(&self, probes: usize, request: &IdentifyRequest) -> Result<(), Status> {
        self.check_items("probes", probes)?;
        if request.max_results > self.max_results {
            return Err(too_large(format!(
                "max_results {}: at most {} candidates per probe",
                request.max_results, self.max_results
            )));
        }
        if probes.saturating_mul(request.max_results) > MAX_ANSWER_CANDIDATES {
            return Err(too_large(format!(
                "{probes} probes x {} results could exceed the {MAX_ANSWER_CANDIDATES} \
                 candidates an answer may carry: send fewer probes or ask for fewer results",
                request.max_results
            )));
        }
        Ok(())
    }

    /// A node's deadline for searching `probes` probes over its `records` records.
    fn deadline(&self, base: Duration, probes: usize, records: u64) -> Duration {
        let work = probes as f64 * records as f64 / self.scan_rate.max(1.0);
        (base + Duration::from_secs_f64(work.min(1e7))).min(self.max_deadline.max(base))
    }
}

/// The gallery's size and whether every slot was counted.
pub async fn count(cluster: &Arc<Cluster>) -> Result<(u64, Completeness), Status> {
    let gathered = cluster
        .scatter(
            |_| cluster.timeout,
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
fn threshold_score(
    request: &IdentifyRequest,
    gallery: u64,
    limits: &Limits,
) -> Result<f64, Status> {
    let bad = |reason: String| -> Status {
        ProtoError::OutOfRange {
            field: "options.threshold".into(),
            reason,
        }
        .into()
    };
    match request.threshold {
        Threshold::Fpir(f) if f > 0.0 && f < 1.0 => Ok(identify_threshold(f, gallery)),
        Threshold::Fpir(_) => Err(bad("fpir must lie strictly between 0 and 1".into())),
        Threshold::Score(s) if s.is_finite() && s >= limits.min_threshold_score => Ok(s),
        Threshold::Score(s) => Err(bad(format!(
            "score {s}: a fixed threshold must be finite and at least {} (a false match rate \
             of 1 in {:.0} per comparison); lower ones make nearly everyone a candidate",
            limits.min_threshold_score,
            10f64.powf(limits.min_threshold_score)
        ))),
    }
}

/// Identifies `probes` against the whole gallery.
pub async fn identify(
    cluster: &Arc<Cluster>,
    probes: Vec<v1::Record>,
    options: Option<&v1::IdentifyOptions>,
    limits: &Limits,
) -> Result<Vec<v1::IdentifyResult>, Status> {
    let request = abis_proto::identify_request(options);
    limits.check_search(probes.len(), &request)?;
    if let Some((i, _)) = probes
        .iter()
        .enumerate()
        .find(|(_, p)| p.reference_id.is_empty())
    {
        return Err(ProtoError::missing(format!("probes[{i}].reference_id")).into());
    }
    let allow_incomplete = options.is_some_and(|o| o.allow_incomplete);
    let (gallery, _) = count(cluster).await?;
    let threshold = threshold_score(&request, gallery, limits)?;
    let max_results = u32::try_from(request.max_results).unwrap_or(u32::MAX);
    let n = probes.len();
    let probes = Arc::new(probes);
    let gathered = cluster
        .scatter(
            |node| limits.deadline(cluster.timeout, n, cluster.nodes[node].records()),
            |mut client, slots| {
                let probes = probes.clone();
                async move {
                    client
                        .identify_batch(v1::ShardIdentifyBatchRequest {
                            probes: probes.to_vec(),
                            max_results,
                            threshold_score: threshold,
                            slots,
                        })
                        .await
                }
            },
        )
        .await?;
    for part in &gathered.parts {
        let results = &part.value.results;
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
    Ok(probes
        .iter()
        .enumerate()
        .map(|(i, probe)| {
            let mut candidates: Vec<v1::Candidate> = gathered
                .parts
                .iter()
                .flat_map(|p| p.value.results[i].candidates.iter().cloned())
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
                records_searched: gathered
                    .parts
                    .iter()
                    .map(|p| p.value.results[i].records_searched)
                    .sum(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_grow_with_the_work_and_stay_bounded() {
        let l = Limits::default();
        let base = Duration::from_secs(10);
        assert_eq!(l.deadline(base, 1, 0), base);
        let one = l.deadline(base, 1, 1_000_000);
        let many = l.deadline(base, 1000, 1_000_000);
        assert!(one > base && many > one, "{one:?} {many:?}");
        assert_eq!(many, l.max_deadline);
    }

    #[test]
    fn oversized_searches_are_the_callers_error() {
        let l = Limits::default();
        let r = |max_results| IdentifyRequest {
            max_results,
            threshold: Threshold::Fpir(1e-3),
        };
        assert!(l.check_search(1000, &r(30)).is_ok());
        for (probes, results) in [(1001, 1), (1, 1001), (1000, 101), (0, 1)] {
            let e = l.check_search(probes, &r(results)).unwrap_err();
            assert!(
                matches!(
                    e.code(),
                    tonic::Code::ResourceExhausted | tonic::Code::InvalidArgument
                ),
                "{probes} x {results}: {e:?}"
            );
        }
        let low = IdentifyRequest {
            max_results: 5,
            threshold: Threshold::Score(0.0),
        };
        assert!(threshold_score(&low, 10, &l).is_err());
        let ok = IdentifyRequest {
            max_results: 5,
            threshold: Threshold::Score(3.5),
        };
        assert_eq!(threshold_score(&ok, 10, &l).unwrap(), 3.5);
    }
}
