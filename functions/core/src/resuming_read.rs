//! A long read that survives a broken connection: when the stream stops with an error part way,
//! the rest is asked for again from the byte reached (`reopen`, e.g. a ranged GetObject of the
//! same object version), a bounded number of times with jittered waits. So a read of gigabytes
//! (a score file, a data file) is neither restarted nor failed for one reset connection.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};

use crate::backoff::full_jitter;
use crate::ports::ObjectStream;

/// Resumptions of one stream at most.
pub const MAX_RESUMES: u32 = 5;
/// The first wait before a resumption, and the longest, in milliseconds.
const RESUME_BASE_MS: u64 = 200;
const RESUME_CAP_MS: u64 = 5_000;

type Reopening = Pin<Box<dyn Future<Output = io::Result<ObjectStream>> + Send>>;

/// Asks for the rest of the object from a byte offset.
pub trait Reopen: Send + 'static {
    fn reopen(&self, position: u64) -> Reopening;
}

impl<F> Reopen for F
where
    F: Fn(u64) -> Reopening + Send + 'static,
{
    fn reopen(&self, position: u64) -> Reopening {
        self(position)
    }
}

enum State {
    Reading(ObjectStream),
    Waiting(Pin<Box<tokio::time::Sleep>>),
    Reopening(Reopening),
}

/// `stream` (the object from byte `position`), resumed through `reopen` when it breaks.
pub struct ResumingRead<R> {
    reopen: R,
    position: u64,
    resumes: u32,
    state: State,
    /// What to say if the resumptions run out: the first error.
    first_error: Option<io::Error>,
    /// Waits before a resumption: from `base` doubling up to `cap`, in milliseconds, jittered.
    waits: (u64, u64),
}

impl<R: Reopen> ResumingRead<R> {
    pub fn new(stream: ObjectStream, position: u64, reopen: R) -> Self {
        Self {
            reopen,
            position,
            resumes: 0,
            state: State::Reading(stream),
            first_error: None,
            waits: (RESUME_BASE_MS, RESUME_CAP_MS),
        }
    }

    /// Other waits before a resumption (milliseconds).
    pub fn with_waits(mut self, base_ms: u64, cap_ms: u64) -> Self {
        self.waits = (base_ms, cap_ms);
        self
    }

    fn wait(&self) -> State {
        let (base, cap) = self.waits;
        let wait = full_jitter(base, self.resumes, cap);
        State::Waiting(Box::pin(tokio::time::sleep(Duration::from_millis(wait))))
    }
}

impl<R: Reopen + Unpin> AsyncRead for ResumingRead<R> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Reading(stream) => {
                    let before = buf.filled().len();
                    match stream.as_mut().poll_read(cx, buf) {
                        Poll::Ready(Ok(())) => {
                            this.position += (buf.filled().len() - before) as u64;
                            return Poll::Ready(Ok(()));
                        }
                        Poll::Ready(Err(err)) => {
                            if this.resumes >= MAX_RESUMES {
                                return Poll::Ready(Err(this.first_error.take().unwrap_or(err)));
                            }
                            this.resumes += 1;
                            tracing::warn!(
                                position = this.position,
                                resume = this.resumes,
                                error = %err,
                                "the stream broke; asking for the rest"
                            );
                            this.first_error.get_or_insert(err);
                            this.state = this.wait();
                        }
                        Poll::Pending => return Poll::Pending,
                    }
                }
                State::Waiting(sleep) => match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => this.state = State::Reopening(this.reopen.reopen(this.position)),
                    Poll::Pending => return Poll::Pending,
                },
                State::Reopening(reopening) => match reopening.as_mut().poll(cx) {
                    Poll::Ready(Ok(stream)) => this.state = State::Reading(stream),
                    Poll::Ready(Err(err)) if this.resumes < MAX_RESUMES => {
                        this.resumes += 1;
                        tracing::warn!(position = this.position, error = %err, "asking for the rest failed");
                        this.state = this.wait();
                    }
                    Poll::Ready(Err(err)) => return Poll::Ready(Err(this.first_error.take().unwrap_or(err))),
                    Poll::Pending => return Poll::Pending,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::io::AsyncReadExt;

    use super::*;

    /// `data` from `at`, failing once it reaches `breaks_at` (if given).
    struct Breaking {
        data: Arc<Vec<u8>>,
        at: usize,
        breaks_at: Option<usize>,
    }

    impl AsyncRead for Breaking {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            if self.breaks_at == Some(self.at) {
                return Poll::Ready(Err(io::Error::other("connection reset")));
            }
            let end = self.breaks_at.unwrap_or(self.data.len()).min(self.data.len());
            let n = (end - self.at).min(buf.remaining()).min(7);
            let at = self.at;
            buf.put_slice(&self.data[at..at + n]);
            self.at += n;
            Poll::Ready(Ok(()))
        }
    }

    /// A store whose streams break every `every` bytes, `breaks` times in all; the offsets it
    /// was asked to resume at.
    fn store(
        data: &Arc<Vec<u8>>,
        every: usize,
        breaks: usize,
    ) -> (ResumingRead<impl Reopen + Unpin>, Arc<Mutex<Vec<u64>>>) {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let left = Arc::new(Mutex::new(breaks));
        let open = {
            let (data, left) = (data.clone(), left.clone());
            move |from: u64| -> ObjectStream {
                let mut left = left.lock().unwrap();
                let breaks_at = (*left > 0).then(|| (from as usize + every).min(data.len()));
                *left = left.saturating_sub(1);
                Box::pin(Breaking {
                    data: data.clone(),
                    at: from as usize,
                    breaks_at,
                })
            }
        };
        let first = open(0);
        let recorded = asked.clone();
        let reopen = move |from: u64| -> Reopening {
            recorded.lock().unwrap().push(from);
            let stream = open(from);
            Box::pin(async move { Ok(stream) })
        };
        (ResumingRead::new(first, 0, reopen).with_waits(1, 2), asked)
    }

    #[tokio::test]
    async fn a_stream_that_breaks_is_read_to_its_end_from_where_it_broke() {
        let data: Arc<Vec<u8>> = Arc::new((0..1000u32).map(|i| (i % 251) as u8).collect());
        let (mut read, asked) = store(&data, 300, 3);
        let mut out = Vec::new();
        read.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, *data, "every byte once, in order");
        assert_eq!(*asked.lock().unwrap(), [300, 600, 900]);
    }

    #[tokio::test]
    async fn a_stream_that_keeps_breaking_fails_with_its_first_error() {
        let data: Arc<Vec<u8>> = Arc::new(vec![1; 1000]);
        let (mut read, asked) = store(&data, 10, 100);
        let err = read.read_to_end(&mut Vec::new()).await.unwrap_err();
        assert_eq!(err.to_string(), "connection reset");
        assert_eq!(asked.lock().unwrap().len(), MAX_RESUMES as usize, "bounded");
    }
}
