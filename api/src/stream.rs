//! Streaming a response produced by blocking code (the audit export) without
//! letting a client pin the blocking thread.
//!
//! The producer writes into a [`ChunkSink`] (an [`io::Write`]) on a blocking
//! thread; the response body reads the chunks from a bounded channel. A chunk
//! that finds the channel full waits at most [`STALL_TIMEOUT`] for the client
//! to take one, then the write fails with [`io::ErrorKind::TimedOut`] and the
//! producer gives up: a client that stops reading costs one thread for that
//! long, never forever. A client that disconnects makes the next write fail
//! with [`io::ErrorKind::BrokenPipe`]. A body whose producer stopped without
//! [`ChunkSink::finish`] ends with an error, so the client sees a truncated
//! response as incomplete (no final chunk), never as a short complete one.

use actix_web::web::Bytes;
use futures_util::Stream;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long one chunk waits for a client that does not read.
pub(crate) const STALL_TIMEOUT: Duration = Duration::from_secs(10);

type Item = Result<Bytes, io::Error>;

/// The producer's end. Cheap to clone; every clone feeds the same body.
#[derive(Clone)]
pub(crate) struct ChunkSink {
    tx: mpsc::Sender<Item>,
    runtime: tokio::runtime::Handle,
    finished: Arc<AtomicBool>,
    timeout: Duration,
}

/// A bounded channel of `chunks` chunks: the sink for a blocking producer and
/// the body for `HttpResponse::streaming`. Call inside the runtime.
pub(crate) fn chunked(chunks: usize) -> (ChunkSink, impl Stream<Item = Item> + 'static) {
    chunked_with_timeout(chunks, STALL_TIMEOUT)
}

pub(crate) fn chunked_with_timeout(
    chunks: usize,
    timeout: Duration,
) -> (ChunkSink, impl Stream<Item = Item> + 'static) {
    let (tx, rx) = mpsc::channel(chunks.max(1));
    let finished = Arc::new(AtomicBool::new(false));
    let sink = ChunkSink {
        tx,
        runtime: tokio::runtime::Handle::current(),
        finished: finished.clone(),
        timeout,
    };
    let body = futures_util::stream::unfold(Some((rx, finished)), |state| async move {
        let (mut rx, finished) = state?;
        match rx.recv().await {
            Some(item) => Some((item, Some((rx, finished)))),
            None if finished.load(Ordering::SeqCst) => None,
            None => Some((
                Err(io::Error::other("the response was cut short; it is incomplete")),
                None,
            )),
        }
    });
    (sink, body)
}

impl ChunkSink {
    /// Whether the client went away (the body was dropped).
    pub(crate) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Marks the body complete: once every sink is dropped, it ends normally.
    pub(crate) fn finish(&self) {
        self.finished.store(true, Ordering::SeqCst);
    }

    /// Sends one item, waiting at most the stall timeout. Blocking: call from
    /// a blocking thread only.
    pub(crate) fn send(&self, item: Item) -> io::Result<()> {
        let sent = self
            .runtime
            .block_on(async { tokio::time::timeout(self.timeout, self.tx.send(item)).await });
        match sent {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(io::Error::new(io::ErrorKind::BrokenPipe, "client went away")),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "client too slow: it read nothing for the stall timeout",
            )),
        }
    }
}

impl io::Write for ChunkSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.send(Ok(Bytes::copy_from_slice(buf)))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
