//! The wire scenario's load: what a request carries ([`Work`]), the pacer
//! threads that decide when each request is due, the connection tasks that
//! send them through `trove_client::Client`, and the counters and histograms
//! of one stream of requests ([`Stream`]).
//!
//! Open loop: a pacer is a plain OS thread (its timer slack set to 1 ns)
//! that sleeps with `std::thread::sleep` until the next request is due,
//! then hands every request due by now, with its intended send time, to the
//! connection queues in turn (bounded; a request that finds its queue full
//! is *shed* and counted). A connection task sends each request as soon as
//! it receives it (pipelined: the reply is awaited by a spawned task), so a
//! slow server shows as latency from the intended time, not as a slower
//! generator. At most `max_in_flight` requests per connection are
//! unanswered; one due while none is free waits in the client, and the wait
//! counts in its latency.
//!
//! Closed loop (claims only): each connection runs `in_flight` workers, each
//! sending its next claim as soon as the previous one is answered.

use crate::hist::lat_hist;
use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use trove_client::{Client, ClientError};
use trove_protocol::{ClaimReply, ClaimRequest, ClaimStatus, EventKind, EventsReply, EventsRequest, GameEvent, Op};

/// The pacer threads' nice value, when allowed (they sleep almost always).
const PACER_NICE: libc::c_int = -10;
/// Free-text locations and interaction kinds of the telemetry events.
const LOCATIONS: [&str; 4] = ["gate-1", "gate-2", "harbour", "lighthouse"];
const INTERACTIONS: [&str; 3] = ["tap", "scan", "open-map"];

/// What every request is made of: the hunt, its names, and sizes.
pub(super) struct Work {
    pub(super) hunt: String,
    pub(super) sku: String,
    pub(super) players: Vec<String>,
    pub(super) clues: Vec<String>,
    pub(super) batch: usize,
    pub(super) seed: u64,
    /// Ends every claim id: ids are scoped to the player, not the hunt, so
    /// a second run against the same server must not reuse them.
    run: String,
    customs: Box<RawValue>,
}

impl Work {
    /// `run` makes the claim ids of this run unique (e.g. the unix ms).
    pub(super) fn new(
        hunt: String,
        sku: String,
        players: usize,
        clues: Vec<String>,
        batch: usize,
        seed: u64,
        run: String,
    ) -> Work {
        Work {
            run,
            hunt,
            sku,
            players: (0..players).map(|i| format!("p{i}")).collect(),
            clues,
            batch,
            seed,
            customs: RawValue::from_string(r#"{"country":"NL"}"#.to_owned()).expect("valid JSON"),
        }
    }

    /// The generator of connection `conn` of a stream (`stream` keeps the
    /// claims' and the events' sequences apart).
    pub(super) fn rng(&self, stream: u64, conn: usize) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.seed ^ (stream << 32) ^ (conn as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    /// Claim `c{conn}-{n}.{run}` of a random player for the product.
    fn claim(&self, rng: &mut ChaCha8Rng, conn: usize, n: u64) -> Op<'_> {
        let p = rng.gen_range(0..self.players.len());
        Op::Claim(ClaimRequest {
            claim_id: Cow::Owned(format!("c{conn}-{n}.{}", self.run)),
            player: Cow::Borrowed(&self.players[p]),
            hunt: Cow::Borrowed(&self.hunt),
            sku: Cow::Borrowed(&self.sku),
            customs: Some(&self.customs),
        })
    }

    /// A batch of `batch` events of random players: a third each clue
    /// found, check-in and interaction.
    fn events(&self, rng: &mut ChaCha8Rng) -> Op<'_> {
        let events = (0..self.batch)
            .map(|_| {
                let kind = match rng.gen_range(0..3u8) {
                    0 => EventKind::ClueFound {
                        clue: Cow::Borrowed(&self.clues[rng.gen_range(0..self.clues.len())]),
                    },
                    1 => EventKind::Checkin {
                        location: Cow::Borrowed(LOCATIONS[rng.gen_range(0..LOCATIONS.len())]),
                    },
                    _ => EventKind::Interaction {
                        kind: Cow::Borrowed(INTERACTIONS[rng.gen_range(0..INTERACTIONS.len())]),
                    },
                };
                GameEvent {
                    player: Cow::Borrowed(&self.players[rng.gen_range(0..self.players.len())]),
                    hunt: Cow::Borrowed(&self.hunt),
                    kind,
                }
            })
            .collect();
        Op::Events(EventsRequest { events })
    }
}

/// One request to send: its number in the stream and when it is due.
#[derive(Clone, Copy, Debug)]
pub(super) struct Job {
    n: u64,
    intended: Instant,
    /// When the pacer handed it to the connection's queue.
    handed: Instant,
}

/// What one answered request gave.
enum Answer {
    Claim(ClaimReply<'static>),
    Events(EventsReply),
}

/// Counters and histograms of a stream, under one lock (taken once per answer).
#[derive(Clone)]
pub(super) struct Tally {
    /// Requests answered without error.
    pub(super) ok: u64,
    /// Claims: granted; events: events accepted.
    pub(super) units: u64,
    /// Rejected claims by reason.
    pub(super) rejected: BTreeMap<String, u64>,
    /// Answers with `duplicate: true`.
    pub(super) duplicates: u64,
    /// Failed requests by error code (the server's, or the client's kind).
    pub(super) errors: BTreeMap<String, u64>,
    /// The last error's message.
    pub(super) last_error: Option<String>,
    /// Successful answers, from the intended send time (closed loop: from the send).
    pub(super) lat: Histogram<u64>,
    /// Successful answers, from the actual send.
    pub(super) service: Histogram<u64>,
    /// Actual send minus intended send, every sent request.
    pub(super) lag: Histogram<u64>,
    /// The pacer's part of it: hand-off to the queue minus intended send.
    pub(super) pace_lag: Histogram<u64>,
    /// When the last answer (or error) came.
    pub(super) last: Option<Instant>,
}

/// One stream of requests (the claims or the events).
pub(super) struct Stream {
    /// Requests due in the window (open loop) or sent (closed loop).
    pub(super) offered: AtomicU64,
    /// Due, but the connection's queue was full: never sent.
    pub(super) shed: AtomicU64,
    /// Handed to the client and not answered yet.
    pub(super) in_flight: AtomicU64,
    pub(super) tally: Mutex<Tally>,
}

/// A stream's numbers frozen at one moment (the end of the drain).
pub(super) struct Snapshot {
    pub(super) offered: u64,
    pub(super) shed: u64,
    /// Sent and never answered (nor failed).
    pub(super) lost: u64,
    pub(super) tally: Tally,
}

impl Stream {
    /// The numbers now; answers that come later are not in it.
    pub(super) fn snapshot(&self) -> Snapshot {
        let tally = self.tally.lock().expect("tally lock").clone();
        Snapshot {
            offered: self.offered.load(Ordering::Acquire),
            shed: self.shed.load(Ordering::Acquire),
            lost: self.in_flight.load(Ordering::Acquire),
            tally,
        }
    }

    pub(super) fn new() -> Arc<Stream> {
        Arc::new(Stream {
            offered: AtomicU64::new(0),
            shed: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            tally: Mutex::new(Tally {
                ok: 0,
                units: 0,
                rejected: BTreeMap::new(),
                duplicates: 0,
                errors: BTreeMap::new(),
                last_error: None,
                lat: lat_hist(),
                service: lat_hist(),
                lag: lat_hist(),
                pace_lag: lat_hist(),
                last: None,
            }),
        })
    }

    /// Records one request's end: answered at `now`, sent at `sent`, due at `intended`.
    /// `handed` is when the pacer queued it (open loop; closed loop: `intended`).
    fn done(&self, intended: Instant, handed: Instant, sent: Instant, r: Result<Answer, ClientError>) {
        let now = Instant::now();
        let us = |a: Instant, b: Instant| b.saturating_duration_since(a).as_micros() as u64;
        let mut t = self.tally.lock().expect("tally lock");
        t.last = Some(t.last.map_or(now, |l| l.max(now)));
        match r {
            Ok(a) => {
                t.ok += 1;
                match a {
                    Answer::Claim(c) => {
                        t.duplicates += u64::from(c.duplicate);
                        match (c.status, c.reason) {
                            (ClaimStatus::Granted, _) => t.units += 1,
                            (ClaimStatus::Rejected, reason) => {
                                let key = reason.map_or("unknown".to_owned(), |r| format!("{r:?}"));
                                *t.rejected.entry(key).or_default() += 1;
                            }
                        }
                    }
                    Answer::Events(e) => t.units += e.accepted,
                }
                t.lat.saturating_record(us(intended, now));
                t.service.saturating_record(us(sent, now));
            }
            Err(e) => {
                *t.errors.entry(error_name(&e)).or_default() += 1;
                t.last_error = Some(e.to_string());
            }
        }
        t.lag.saturating_record(us(intended, sent));
        t.pace_lag.saturating_record(us(intended, handed));
        drop(t);
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The server's error code, or the kind of the client's failure.
fn error_name(e: &ClientError) -> String {
    if let Some(code) = e.code() {
        return code.to_string();
    }
    match e {
        ClientError::Timeout(_) => "timeout",
        ClientError::Disconnected => "disconnected",
        ClientError::Overloaded(_) => "client_overloaded",
        ClientError::Closed => "closed",
        ClientError::WebSocket(_) => "websocket",
        ClientError::Decode(_) | ClientError::Codec(_) => "decode",
        _ => "other",
    }
    .to_owned()
}

/// When and how a pacer sends.
#[derive(Clone, Copy, Debug)]
pub(super) struct Pace {
    /// Requests per second.
    pub(super) rate: f64,
    /// The first request is due then.
    pub(super) start: Instant,
    /// No request is due from then on.
    pub(super) end: Instant,
    /// Wakes at most once per quantum (0: at every request's time). Each
    /// wake costs a context switch or two; a quantum trades them for up to
    /// a quantum of send lag (which the latencies include).
    pub(super) quantum: Duration,
}

/// CPU seconds the calling thread has used.
fn thread_cpu_secs() -> f64 {
    // SAFETY: rusage is plain integers (all-zero is a valid value), and
    // getrusage writes only into the struct it is given.
    let ok = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        (libc::getrusage(libc::RUSAGE_THREAD, &mut ru) == 0).then_some(ru)
    };
    let Some(ru) = ok else {
        return 0.0;
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(ru.ru_utime) + secs(ru.ru_stime)
}

/// Starts a pacer thread: requests due every `1/rate` s from `start` until
/// `end`, handed round-robin to `queues` (see the module's doc). The thread
/// answers the CPU seconds it used.
pub(super) fn pacer(
    name: &str,
    pace: Pace,
    queues: Vec<mpsc::Sender<Job>>,
    stream: Arc<Stream>,
) -> std::io::Result<std::thread::JoinHandle<f64>> {
    let Pace {
        rate,
        start,
        end,
        quantum,
    } = pace;
    std::thread::Builder::new().name(name.to_owned()).spawn(move || {
        // SAFETY: prctl(PR_SET_TIMERSLACK) only changes this thread's timer
        // slack (1 ns: sleeps end as close to their deadline as the kernel
        // can); setpriority(PRIO_PROCESS, tid) only this thread's nice value
        // (a higher priority, so that it runs as soon as it wakes; refused
        // without the privilege, then it stays at 0).
        unsafe {
            libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
            libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, PACER_NICE);
        }
        let interval = 1.0 / rate;
        let mut n = 0u64;
        let mut woke = start.checked_sub(quantum).unwrap_or(start);
        loop {
            let intended = start + Duration::from_secs_f64(n as f64 * interval);
            if intended >= end {
                break;
            }
            let now = Instant::now();
            if intended > now {
                // Nothing due: sleep until the next one is, but not sooner
                // than a quantum after the last wake.
                std::thread::sleep(intended.max(woke + quantum) - now);
                woke = Instant::now();
                continue;
            }
            stream.offered.fetch_add(1, Ordering::Relaxed);
            let job = Job {
                n,
                intended,
                handed: now,
            };
            if queues[n as usize % queues.len()].try_send(job).is_err() {
                stream.shed.fetch_add(1, Ordering::Relaxed);
            }
            n += 1;
        }
        thread_cpu_secs()
    })
}

/// Which requests a connection task sends.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    Claims,
    Events,
}

/// Open loop: sends every job of `jobs` on `client` as soon as it arrives
/// and awaits its reply in a spawned task; ends when the pacer is done.
pub(super) async fn open_conn(
    kind: Kind,
    client: Client,
    mut jobs: mpsc::Receiver<Job>,
    conn: usize,
    work: Arc<Work>,
    stream: Arc<Stream>,
) {
    let mut rng = work.rng(kind as u64, conn);
    while let Some(job) = jobs.recv().await {
        stream.in_flight.fetch_add(1, Ordering::AcqRel);
        let s = Arc::clone(&stream);
        match kind {
            Kind::Claims => match client
                .send::<ClaimReply<'static>>(&work.claim(&mut rng, conn, job.n))
                .await
            {
                Ok(reply) => {
                    let sent = Instant::now();
                    tokio::spawn(async move { s.done(job.intended, job.handed, sent, reply.await.map(Answer::Claim)) });
                }
                Err(e) => s.done(job.intended, job.handed, Instant::now(), Err(e)),
            },
            Kind::Events => match client.send::<EventsReply>(&work.events(&mut rng)).await {
                Ok(reply) => {
                    let sent = Instant::now();
                    tokio::spawn(
                        async move { s.done(job.intended, job.handed, sent, reply.await.map(Answer::Events)) },
                    );
                }
                Err(e) => s.done(job.intended, job.handed, Instant::now(), Err(e)),
            },
        }
    }
}

/// Closed loop: worker `worker` of `workers` on connection `conn` sends a
/// claim, awaits its answer, and sends the next, until `end`.
pub(super) async fn closed_claims(
    client: Client,
    conn: usize,
    worker: usize,
    workers: usize,
    end: Instant,
    work: Arc<Work>,
    stream: Arc<Stream>,
) {
    let mut rng = work.rng(2 + worker as u64, conn);
    let mut i = 0u64;
    while Instant::now() < end {
        let n = i * workers as u64 + worker as u64;
        i += 1;
        stream.offered.fetch_add(1, Ordering::Relaxed);
        stream.in_flight.fetch_add(1, Ordering::AcqRel);
        let op = work.claim(&mut rng, conn, n);
        let t = Instant::now();
        let r = match client.send::<ClaimReply<'static>>(&op).await {
            Ok(reply) => reply.await,
            Err(e) => Err(e),
        };
        stream.done(t, t, t, r.map(Answer::Claim));
    }
}
