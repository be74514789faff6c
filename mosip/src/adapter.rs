//! The MOSIP ABIS adapter: requests from the broker's inbound queue answered on the outbound
//! queue, from a [`Gallery`] (an embedded abis engine, or a cluster's coordinator).
//!
//! - One consumer at a time: the subscription is exclusive (`activemq.exclusive`), so a standby
//!   adapter on the same queue takes over only when the active one is gone, and the spec's
//!   ordering (every earlier Insert served before an Identify) holds: requests are answered one
//!   by one, in order.
//! - Exactly one answer: the reply is stored first ([`Store`]), then sent and the request
//!   acknowledged in one broker transaction. If the adapter dies before the commit, the broker
//!   redelivers the request and the stored reply is sent; an Insert caught half-way finishes
//!   its own enrolment (its claim) and never enrols twice.
//! - Fail closed: a search that fails answers failure 1, never an empty candidate list.

use crate::datashare;
use crate::fetch::Fetcher;
use crate::gallery::{Gallery, GalleryError, Inserted};
use crate::keys::DecryptionKey;
use crate::person::{self, Person, PersonError};
use crate::request::{
    self, Analytics, Body, CandidateList, CandidateReply, FailureReason, Flags, ModalityAnalytics,
    Operation, Reply, Request,
};
use crate::stomp::{self, ConnectOptions, Frame, Receipts, StompError};
use crate::store::{MessageType, Store, StoredReply};
use abis_engine::{Candidate, Modality, Record, ReferenceId};
use abis_proto::ImageExtractor;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the adapter needs besides the broker.
pub struct Adapter<G> {
    /// The gallery.
    pub gallery: G,
    /// Replies, payloads and claims.
    pub store: Store,
    /// The datashare client.
    pub fetcher: Fetcher,
    /// The ABIS's datashare key.
    pub key: DecryptionKey,
    /// Images to templates.
    pub extractor: Arc<dyn ImageExtractor>,
    /// `maxResults` when a request gives none.
    pub default_max_results: usize,
    /// `targetFPIR` when a request gives none.
    pub default_target_fpir: f64,
    /// How long replies are kept for redelivered requests.
    pub reply_retention: Duration,
    /// Requests received and not yet answered (Pending Jobs).
    pending: AtomicUsize,
    /// Where each request's time went.
    pub timings: Timings,
}

/// Time spent per stage, over all requests, in microseconds (for the throughput figures).
#[derive(Debug, Default)]
pub struct Timings {
    /// Fetching from the datashare.
    pub fetch: AtomicU64,
    /// Decrypting the payload.
    pub decrypt: AtomicU64,
    /// Reading the CBEFF and extracting templates from its images.
    pub extract: AtomicU64,
    /// Enrolling in the engine.
    pub insert: AtomicU64,
    /// Searching.
    pub search: AtomicU64,
}

impl Timings {
    fn add(counter: &AtomicU64, since: Instant) {
        counter.fetch_add(since.elapsed().as_micros() as u64, Ordering::Relaxed);
    }

    /// `stage=ms` pairs.
    pub fn summary(&self) -> String {
        let ms = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64 / 1000.0;
        format!(
            "fetch_ms={:.1} decrypt_ms={:.1} extract_ms={:.1} insert_ms={:.1} search_ms={:.1}",
            ms(&self.fetch),
            ms(&self.decrypt),
            ms(&self.extract),
            ms(&self.insert),
            ms(&self.search)
        )
    }
}

/// A failed request: its reason and a line for the log.
struct Failure {
    reason: FailureReason,
    detail: String,
}

fn failure(reason: FailureReason, detail: impl Into<String>) -> Failure {
    Failure {
        reason,
        detail: detail.into(),
    }
}

impl From<GalleryError> for Failure {
    fn from(e: GalleryError) -> Self {
        match e {
            GalleryError::NotFound(id) => failure(
                FailureReason::ReferenceIdNotFound,
                format!("{id} is not enrolled"),
            ),
            GalleryError::Failed(why) => failure(FailureReason::Internal, why),
        }
    }
}

impl From<PersonError> for Failure {
    fn from(e: PersonError) -> Self {
        failure(e.reason, e.detail)
    }
}

fn internal(e: impl std::fmt::Display) -> Failure {
    failure(FailureReason::Internal, e.to_string())
}

impl<G: Gallery> Adapter<G> {
    /// An adapter over `gallery`, keeping its state in `store`.
    pub fn new(
        gallery: G,
        store: Store,
        fetcher: Fetcher,
        key: DecryptionKey,
        extractor: Arc<dyn ImageExtractor>,
    ) -> Self {
        Self {
            gallery,
            store,
            fetcher,
            key,
            extractor,
            default_max_results: 30,
            default_target_fpir: 30.0,
            reply_retention: Duration::from_secs(24 * 3600),
            pending: AtomicUsize::new(0),
            timings: Timings::default(),
        }
    }

    /// The reply to one request, as [`read`] read it.
    pub async fn answer(&self, parsed: Result<Request, request::Refusal>) -> Reply {
        let request = match parsed {
            Ok(request) => request,
            Err(refusal) => {
                tracing::warn!(
                    request_id = %refusal.request_id,
                    code = refusal.reason.code(),
                    "request refused: {}",
                    refusal.detail
                );
                return refusal.reply();
            }
        };
        let id = request.operation.id();
        let started = Instant::now();
        let outcome = self.run(&request).await;
        match outcome {
            Ok(reply) => {
                tracing::info!(
                    request_id = %request.request_id,
                    operation = id,
                    ms = started.elapsed().as_millis() as u64,
                    "answered"
                );
                reply
            }
            Err(f) => {
                tracing::warn!(
                    request_id = %request.request_id,
                    operation = id,
                    code = f.reason.code(),
                    "failed: {}",
                    f.detail
                );
                Reply::failure(id, &request.request_id, f.reason)
            }
        }
    }

    async fn run(&self, request: &Request) -> Result<Reply, Failure> {
        let id = request.operation.id();
        let rid = request.request_id.as_str();
        match &request.body {
            Body::Ping => {
                self.gallery.ping().await?;
                Ok(Reply::success(id, rid))
            }
            Body::PendingJobs => {
                // Received and not yet answered, this request excluded.
                let pending = self.pending.load(Ordering::SeqCst).saturating_sub(1);
                Ok(Reply {
                    jobscount: Some(pending.to_string()),
                    ..Reply::success(id, rid)
                })
            }
            Body::ReferenceCount => Ok(Reply {
                count: Some(self.gallery.count().await?.to_string()),
                ..Reply::success(id, rid)
            }),
            Body::Delete { reference_id } => {
                self.gallery.delete(reference(reference_id)?).await?;
                self.store.release(reference_id).map_err(internal)?;
                Ok(Reply::success(id, rid))
            }
            Body::Insert {
                reference_id,
                reference_url,
            } => self.insert(rid, reference_id, reference_url).await,
            Body::Identify {
                reference_id,
                reference_url,
                flags,
                gallery,
            } => {
                self.identify(
                    rid,
                    reference_id.as_deref(),
                    reference_url,
                    flags,
                    gallery.as_deref(),
                )
                .await
            }
        }
    }

    async fn insert(
        &self,
        request_id: &str,
        reference_id: &str,
        url: &str,
    ) -> Result<Reply, Failure> {
        let id = Operation::Insert.id();
        let reference = reference(reference_id)?;
        match self.store.claim(reference_id).map_err(internal)? {
            Some(claim) if claim != request_id => {
                return Err(failure(
                    FailureReason::ReferenceIdExists,
                    format!("{reference_id} was inserted by request {claim}"),
                ))
            }
            Some(_) => {} // Our own, half done before a restart: finish it.
            None => {
                if self.gallery.probe(&reference).await?.is_some() {
                    return Err(failure(
                        FailureReason::ReferenceIdExists,
                        format!("{reference_id} is enrolled"),
                    ));
                }
                self.store
                    .set_claim(reference_id, request_id)
                    .map_err(internal)?;
            }
        }
        let outcome = async {
            let person = self.person(request_id, reference_id, url).await?;
            for left in &person.left_out {
                tracing::info!(reference_id, sample = %left.what, "sample left out: {}", left.reason);
            }
            let started = Instant::now();
            let inserted = self.gallery.insert(person.record).await?;
            Timings::add(&self.timings.insert, started);
            match inserted {
                // `Same`: this request's own enrolment, caught by a restart before its reply.
                Inserted::New | Inserted::Same => Ok(Reply::success(id, request_id)),
                Inserted::Other => Err(failure(
                    FailureReason::ReferenceIdExists,
                    format!("{reference_id} is enrolled with other biometrics"),
                )),
            }
        }
        .await;
        if let Err(f) = &outcome {
            if f.reason != FailureReason::ReferenceIdExists {
                self.store.release(reference_id).map_err(internal)?;
            }
        }
        outcome
    }

    /// The record behind a datashare URL (fetched once per request, kept until answered).
    async fn person(
        &self,
        request_id: &str,
        reference_id: &str,
        url: &str,
    ) -> Result<Person, Failure> {
        let payload = match self.store.payload(request_id).map_err(internal)? {
            Some(payload) => payload,
            None => {
                let started = Instant::now();
                let payload = self
                    .fetcher
                    .fetch(url)
                    .await
                    .map_err(|e| failure(e.reason, e.detail))?;
                Timings::add(&self.timings.fetch, started);
                self.store
                    .keep_payload(request_id, &payload)
                    .map_err(internal)?;
                payload
            }
        };
        let started = Instant::now();
        let key = self.key.clone();
        let xml = tokio::task::spawn_blocking(move || datashare::decrypt(&payload, &key))
            .await
            .map_err(internal)?
            .map_err(|e| failure(FailureReason::CbeffHasNoData, format!("datashare: {e}")))?;
        Timings::add(&self.timings.decrypt, started);
        let started = Instant::now();
        let shape = self.gallery.shape();
        let extractor = self.extractor.clone();
        let reference_id = reference_id.to_owned();
        let person = tokio::task::spawn_blocking(move || {
            person::from_cbeff(&xml, &reference_id, &shape, &*extractor)
        })
        .await
        .map_err(internal)??;
        Timings::add(&self.timings.extract, started);
        Ok(person)
    }

    async fn identify(
        &self,
        request_id: &str,
        reference_id: Option<&str>,
        url: &str,
        flags: &Flags,
        gallery: Option<&[String]>,
    ) -> Result<Reply, Failure> {
        let id = Operation::Identify.id();
        let max_results = flags.max_results.unwrap_or(self.default_max_results);
        let fpir = Flags::fpir(flags.target_fpir.unwrap_or(self.default_target_fpir));
        let stored = match reference_id {
            Some(r) => self.gallery.probe(&reference(r)?).await?,
            None => None,
        };
        let probe = match (stored, reference_id) {
            (Some(record), _) => record,
            (None, Some(r)) if url.is_empty() => {
                return Err(failure(
                    FailureReason::ReferenceIdNotFound,
                    format!("the probe {r} is not enrolled"),
                ))
            }
            (None, r) => {
                let probe_id = r.map_or_else(|| format!("probe-{request_id}"), str::to_owned);
                self.person(request_id, &probe_id, url).await?.record
            }
        };
        let started = Instant::now();
        let candidates = self
            .search(probe, reference_id, gallery, max_results, fpir)
            .await?;
        Timings::add(&self.timings.search, started);
        let candidates: Vec<CandidateReply> = candidates.iter().map(candidate_reply).collect();
        Ok(Reply {
            candidate_list: Some(CandidateList {
                count: candidates.len().to_string(),
                candidates,
            }),
            ..Reply::success(id, request_id)
        })
    }

    /// The search: against the named gallery (every member compared 1:1 at FMR = FPIR / its
    /// size; one not enrolled is failure 12) or the whole gallery; never the probe itself; best
    /// first, at most `max_results`.
    async fn search(
        &self,
        probe: Record,
        probe_id: Option<&str>,
        gallery: Option<&[String]>,
        max_results: usize,
        fpir: f64,
    ) -> Result<Vec<Candidate>, Failure> {
        let mut candidates = match gallery {
            Some(members) => {
                let mut members: Vec<&str> = members
                    .iter()
                    .map(String::as_str)
                    .filter(|m| Some(*m) != probe_id)
                    .collect();
                members.sort_unstable();
                members.dedup();
                let references: Vec<ReferenceId> = members
                    .iter()
                    .map(|m| reference(m))
                    .collect::<Result<_, _>>()?;
                let fmr = (fpir / references.len().max(1) as f64).clamp(1e-300, 0.5);
                let mut found = Vec::new();
                for r in references {
                    if let Some(candidate) = self.gallery.verify(probe.clone(), r, fmr).await? {
                        found.push(candidate);
                    }
                }
                found
            }
            None => self
                .gallery
                .identify(probe, max_results + 1, fpir.min(0.999))
                .await?
                .into_iter()
                .filter(|c| Some(c.reference_id.as_str()) != probe_id)
                .collect(),
        };
        candidates.sort_by(|a, b| b.fused_score.total_cmp(&a.fused_score));
        candidates.truncate(max_results);
        Ok(candidates)
    }
}

/// A request as received (`body`; `oversized` when it was over the limit and dropped), read
/// and checked.
pub fn read(body: &[u8], oversized: Option<usize>) -> Result<Request, request::Refusal> {
    match oversized {
        Some(size) => Err(request::Refusal {
            id: String::new(),
            request_id: String::new(),
            reason: FailureReason::InvalidStructure,
            detail: format!("a request of {size} bytes, over {}", request::MAX_REQUEST),
        }),
        None => request::parse(body),
    }
}

fn candidate_reply(candidate: &Candidate) -> CandidateReply {
    let mut modalities = Vec::new();
    for (kind, of) in [
        ("FIR", &[Modality::Fingers][..]),
        ("IIR", &[Modality::IrisLeft, Modality::IrisRight][..]),
        ("FID", &[Modality::Face][..]),
    ] {
        let scores: Vec<f64> = candidate
            .scores
            .iter()
            .filter(|s| of.contains(&s.modality))
            .map(|s| s.score)
            .collect();
        if !scores.is_empty() {
            modalities.push(ModalityAnalytics {
                biometric_type: kind,
                analytics: Analytics::of_score(scores.iter().sum()),
            });
        }
    }
    CandidateReply {
        reference_id: candidate.reference_id.as_str().to_owned(),
        analytics: Analytics::of_score(candidate.fused_score),
        modalities,
    }
}

fn reference(id: &str) -> Result<ReferenceId, Failure> {
    ReferenceId::new(id).map_err(|e| failure(FailureReason::InvalidStructure, e.to_string()))
}

/// The broker side.
#[derive(Debug, Clone)]
pub struct QueueOptions {
    /// How to reach the broker.
    pub connect: ConnectOptions,
    /// The queue MOSIP sends to (`mosip-to-abis`).
    pub inbound: String,
    /// The queue MOSIP reads (`abis-to-mosip`).
    pub outbound: String,
    /// Requests the broker may hand over before they are answered.
    pub prefetch: usize,
}

/// Consumes the inbound queue until the process ends, reconnecting (with backoff) when the
/// broker goes away; `ready` is called each time the subscription is in place.
pub async fn run<G: Gallery>(
    adapter: Arc<Adapter<G>>,
    options: QueueOptions,
    ready: impl Fn() + Send,
) {
    // Replies older than the retention are dropped at start and every hour (the task ends with
    // the runtime).
    {
        let adapter = adapter.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tick.tick().await;
                let before =
                    crate::store::unix_now().saturating_sub(adapter.reply_retention.as_secs());
                let store = adapter.store.clone();
                match tokio::task::spawn_blocking(move || store.purge_replies(before)).await {
                    Ok(Ok(0)) => {}
                    Ok(Ok(n)) => tracing::info!("{n} replies past their retention dropped"),
                    Ok(Err(e)) => tracing::warn!("purging old replies: {e}"),
                    Err(e) => tracing::warn!("purging old replies: {e}"),
                }
            }
        });
    }
    let first = Duration::from_millis(200);
    let mut backoff = first;
    loop {
        let started = std::time::Instant::now();
        match session(&adapter, &options, &ready).await {
            Ok(()) => tracing::warn!("the broker closed the connection"),
            Err(e) => tracing::warn!("broker session ended: {e}"),
        }
        // A session that lasted was healthy: reconnect quickly; repeated failures back off.
        if started.elapsed() > Duration::from_secs(60) {
            backoff = first;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// One broker session: subscribe, answer each request in order, until the connection ends.
async fn session<G: Gallery>(
    adapter: &Arc<Adapter<G>>,
    options: &QueueOptions,
    ready: &(impl Fn() + Send),
) -> Result<(), StompError> {
    // Oversized requests are read to their end and answered 4.
    let session = stomp::connect(&options.connect, request::MAX_REQUEST).await?;
    let mut reader = session.reader;
    let writer = Arc::new(tokio::sync::Mutex::new(session.writer));
    // Heart-beats as agreed, so an idle connection is neither dropped by the broker nor by a
    // firewall between; the reader fails when the broker's stop.
    let beating = session.heart_beats.send.map(|every| {
        let writer = writer.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                if writer.lock().await.beat().await.is_err() {
                    return;
                }
            }
        })
    });
    writer
        .lock()
        .await
        .send(
            &Frame::new("SUBSCRIBE")
                .header("id", "0")
                .header("destination", format!("/queue/{}", options.inbound))
                .header("ack", "client-individual")
                .header("activemq.exclusive", "true")
                .header("activemq.prefetchSize", options.prefetch.max(1).to_string())
                .header("receipt", "subscribed"),
        )
        .await?;
    let receipts = Arc::new(Mutex::new(Receipts::default()));
    let subscribed = receipts
        .lock()
        .expect("not poisoned")
        .expect("subscribed".into());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Frame>();
    let reading = {
        let receipts = receipts.clone();
        let adapter = adapter.clone();
        tokio::spawn(async move {
            loop {
                let frame = match reader.next().await {
                    Ok(Some(frame)) => frame,
                    Ok(None) => return Ok(()),
                    Err(e) => return Err(e),
                };
                match frame.command.as_str() {
                    "MESSAGE" => {
                        adapter.pending.fetch_add(1, Ordering::SeqCst);
                        if tx.send(frame).is_err() {
                            return Ok(());
                        }
                    }
                    "RECEIPT" => {
                        if let Some(id) = frame.get("receipt-id") {
                            receipts.lock().expect("not poisoned").arrived(id);
                        }
                    }
                    "ERROR" => return Err(StompError::Broker(stomp::error_text(&frame))),
                    _ => {}
                }
            }
        })
    };
    let outcome = async {
        tokio::time::timeout(Duration::from_secs(10), subscribed)
            .await
            .map_err(|_| StompError::Protocol("no receipt for SUBSCRIBE".into()))?
            .map_err(|_| StompError::Protocol("closed before subscribing".into()))?;
        ready();
        let mut transaction = 0u64;
        while let Some(message) = rx.recv().await {
            let result = handle(
                adapter,
                options,
                &writer,
                &receipts,
                &message,
                &mut transaction,
            )
            .await;
            adapter.pending.fetch_sub(1, Ordering::SeqCst);
            result?;
        }
        Ok::<(), StompError>(())
    };
    let result = tokio::select! {
        r = outcome => r,
        r = reading => r.unwrap_or_else(|e| Err(StompError::Protocol(e.to_string()))),
    };
    if let Some(beating) = beating {
        beating.abort();
    }
    // Whatever was received and not answered is the broker's to redeliver.
    adapter.pending.store(0, Ordering::SeqCst);
    result
}

/// Answers one request: the stored reply if it was answered before, else a new one, stored
/// before it is sent; then reply and acknowledgement in one transaction.
async fn handle<G: Gallery>(
    adapter: &Adapter<G>,
    options: &QueueOptions,
    writer: &tokio::sync::Mutex<stomp::Writer>,
    receipts: &Mutex<Receipts>,
    message: &Frame,
    transaction: &mut u64,
) -> Result<(), StompError> {
    let message_type = match message.get("content-length") {
        Some(_) => MessageType::Bytes,
        None => MessageType::Text,
    };
    let parsed = read(&message.body, message.oversized);
    let request_id = parsed.as_ref().ok().map(|r| r.request_id.clone());
    let stored = match &request_id {
        Some(rid) => adapter.store.reply(rid).unwrap_or_else(|e| {
            tracing::error!("reading the reply store: {e}");
            None
        }),
        None => None,
    };
    let reply = match stored {
        Some(stored) => {
            tracing::info!(request_id = ?request_id, "redelivered: sending the stored reply");
            stored
        }
        None => {
            let reply = adapter.answer(parsed).await;
            let stored = StoredReply {
                message_type,
                body: reply.to_json(),
                answered_at: crate::store::unix_now(),
            };
            if let Some(rid) = &request_id {
                if let Err(e) = adapter.store.answer(rid, &stored) {
                    // Not stored: not sent either; the broker will redeliver.
                    return Err(StompError::Protocol(format!("storing the reply: {e}")));
                }
            }
            stored
        }
    };
    *transaction += 1;
    let tx = format!("tx-{}-{transaction}", std::process::id());
    let ack = message.get("ack").or_else(|| message.get("message-id"));
    let mut send = Frame::new("SEND")
        .header("destination", format!("/queue/{}", options.outbound))
        .header("transaction", tx.clone())
        .header("persistent", "true")
        .header("content-type", "application/json;charset=utf-8");
    if reply.message_type == MessageType::Bytes {
        send = send.header("content-length", reply.body.len().to_string());
    }
    send.body = reply.body.into_bytes();
    let receipt_id = format!("commit-{tx}");
    let committed = receipts
        .lock()
        .expect("not poisoned")
        .expect(receipt_id.clone());
    {
        let mut writer = writer.lock().await;
        writer
            .send(&Frame::new("BEGIN").header("transaction", tx.clone()))
            .await?;
        writer.send(&send).await?;
        if let Some(ack) = ack {
            writer
                .send(
                    &Frame::new("ACK")
                        .header("id", ack)
                        .header("transaction", tx.clone()),
                )
                .await?;
        }
        writer
            .send(
                &Frame::new("COMMIT")
                    .header("transaction", tx)
                    .header("receipt", receipt_id),
            )
            .await?;
    }
    tokio::time::timeout(Duration::from_secs(30), committed)
        .await
        .map_err(|_| StompError::Protocol("no receipt for COMMIT".into()))?
        .map_err(|_| StompError::Protocol("closed before the commit's receipt".into()))?;
    Ok(())
}
