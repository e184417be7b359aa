//! Flush workers: `max_parallelism` threads drawing connections from the pool.
//!
//! The workers know nothing of states, totals or logs: whoever starts them passes an
//! [`OnCommit`] callback, run once for every committed job before the job counts as done.
//!
//! Jobs of different tables run in parallel, and so do jobs of different lanes of one table;
//! jobs of one lane run one at a time, in the order they were submitted, so every version of
//! a key (always in the same lane) commits in input order. A barrier job (DDL, statements,
//! the first flush of a new table generation) runs alone: after every job of its table
//! submitted before it and before any submitted after it, so DDL runs once before the rows
//! encoded for it, on any lane. Submitting blocks only while the bytes queued and in flight
//! exceed the memory bound, or while the table already has a job waiting for each lane:
//! that is the backpressure that keeps memory flat while the reader runs ahead of the
//! database.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::db::connect::Pool;
use crate::db::flush::{FlushCounts, FlushJob};
use crate::db::lock_wait::LockWatch;
use crate::error::{Error, Result};

/// Called on the worker's thread after each job commits, with what the job did and how long
/// it took. An error fails the run as a failed flush would.
pub type OnCommit = Box<dyn Fn(&FlushJob, FlushCounts, Duration) -> Result<()> + Send + Sync>;

/// The worker pool.
pub struct Workers {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when a job is queued or the pool shuts down.
    work: Condvar,
    /// Signalled when a job finishes.
    done: Condvar,
    pool: Pool,
    /// Reports flushes that wait for a lock.
    lock_watch: Arc<LockWatch>,
    on_commit: OnCommit,
}

#[derive(Default)]
struct Queue {
    /// Each table's jobs, waiting and running.
    tables: HashMap<usize, TableJobs>,
    /// Tables with waiting jobs, in turn (a table is here exactly when it has some).
    turns: VecDeque<usize>,
    /// Jobs waiting per table before `submit` blocks: one per lane.
    lanes: usize,
    /// Jobs running.
    running: usize,
    /// Bytes of jobs queued or running.
    pending_bytes: usize,
    pending_jobs: usize,
    max_bytes: usize,
    /// Row buffers of finished jobs, for the reader to fill again.
    spare_buffers: Vec<Vec<u8>>,
    /// A finished job's buffer with more room than this (one that held a huge record) is
    /// freed rather than kept: kept, it would hold that memory for the rest of the run.
    spare_capacity_max: usize,
    shutdown: bool,
    failure: Option<Error>,
}

/// One table's jobs.
#[derive(Default)]
struct TableJobs {
    /// Waiting, in submission order.
    waiting: VecDeque<FlushJob>,
    /// Lanes with a job running.
    running_lanes: Vec<usize>,
    /// Whether a barrier job is running.
    barrier_running: bool,
}

impl Workers {
    /// Starts `threads` workers on `pool`, watched by `lock_watch`, running up to `lanes`
    /// jobs of a table at once; `max_bytes` bounds the bytes queued and in flight, and a
    /// finished job's row buffer is kept for reuse when its capacity is at most
    /// `spare_capacity_max`.
    pub fn start(
        pool: Pool,
        lock_watch: Arc<LockWatch>,
        threads: usize,
        lanes: usize,
        bounds: (usize, usize),
        on_commit: OnCommit,
    ) -> Workers {
        let (max_bytes, spare_capacity_max) = bounds;
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                lanes: lanes.max(1),
                max_bytes,
                spare_capacity_max,
                ..Queue::default()
            }),
            work: Condvar::new(),
            done: Condvar::new(),
            pool,
            lock_watch,
            on_commit,
        });
        let threads = (0..threads.max(1))
            .map(|n| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("flush-{n}"))
                    .spawn(move || shared.work_loop())
            })
            .filter_map(|spawned| match spawned {
                Ok(handle) => Some(handle),
                Err(e) => {
                    log::warn!("could not start a flush worker: {e}");
                    None
                }
            })
            .collect();
        Workers { shared, threads }
    }

    /// Queues a job; blocks while the memory bound is exceeded. Fails with the first flush
    /// error once one has happened.
    pub fn submit(&self, job: FlushJob) -> Result<()> {
        let bytes = job.rows.charge();
        let table = job.table_id;
        let mut queue = self.shared.lock();
        // Wait while the memory bound is reached, or while this table already has a job
        // waiting for each of its lanes: a deeper queue for it would only hold memory, not
        // speed anything up.
        while queue.failure.is_none()
            && queue.pending_jobs > 0
            && (queue.pending_bytes + bytes > queue.max_bytes
                || queue
                    .tables
                    .get(&table)
                    .is_some_and(|jobs| jobs.waiting.len() >= queue.lanes))
        {
            queue = self.shared.wait(&self.shared.done, queue);
        }
        if let Some(error) = queue.failure.take() {
            queue.shutdown = true;
            self.shared.work.notify_all();
            return Err(error);
        }
        if self.threads.is_empty() {
            return Err(Error::Internal("no flush worker could be started".into()));
        }
        queue.pending_bytes += bytes;
        queue.pending_jobs += 1;
        let jobs = queue.tables.entry(table).or_default();
        jobs.waiting.push_back(job);
        if jobs.waiting.len() == 1 {
            queue.turns.push_back(table);
        }
        drop(queue);
        self.shared.work.notify_one();
        Ok(())
    }

    /// A row buffer a finished flush left behind, if any.
    pub fn spare_buffer(&self) -> Option<Vec<u8>> {
        self.shared.lock().spare_buffers.pop()
    }

    /// Bytes queued or being flushed.
    pub fn pending_bytes(&self) -> usize {
        self.shared.lock().pending_bytes
    }

    /// Waits until the bytes queued and being flushed are at most `bytes` (or no job is
    /// left): room for a record too big to share the memory bound. Fails with the first
    /// flush error once one has happened.
    pub fn wait_for_pending_at_most(&self, bytes: usize) -> Result<()> {
        let mut queue = self.shared.lock();
        while queue.failure.is_none() && queue.pending_jobs > 0 && queue.pending_bytes > bytes {
            queue = self.shared.wait(&self.shared.done, queue);
        }
        if let Some(error) = queue.failure.take() {
            queue.shutdown = true;
            self.shared.work.notify_all();
            return Err(error);
        }
        Ok(())
    }

    /// The first flush error, if one happened (taken: reported once).
    pub fn take_failure(&self) -> Option<Error> {
        let mut queue = self.shared.lock();
        let failure = queue.failure.take();
        if failure.is_some() {
            queue.shutdown = true;
            self.shared.work.notify_all();
        }
        failure
    }

    /// Waits for every queued job and stops the threads.
    pub fn finish(mut self) -> Result<()> {
        let mut queue = self.shared.lock();
        while queue.pending_jobs > 0 && queue.failure.is_none() {
            queue = self.shared.wait(&self.shared.done, queue);
        }
        queue.shutdown = true;
        let failure = queue.failure.take();
        drop(queue);
        self.shared.work.notify_all();
        for handle in self.threads.drain(..) {
            if handle.join().is_err() {
                return Err(Error::Internal("a flush worker panicked".into()));
            }
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        // On an error path the reader drops us without finish(): stop the threads so the
        // process can exit; queued jobs are abandoned (their states were never written).
        self.shared.lock().shutdown = true;
        self.shared.work.notify_all();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn wait<'a>(&self, condvar: &Condvar, guard: MutexGuard<'a, Queue>) -> MutexGuard<'a, Queue> {
        condvar
            .wait(guard)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn work_loop(&self) {
        loop {
            let mut job = {
                let mut queue = self.lock();
                loop {
                    if queue.shutdown || queue.failure.is_some() {
                        return;
                    }
                    if let Some(job) = queue.take_ready_job() {
                        break job;
                    }
                    queue = self.wait(&self.work, queue);
                }
            };
            let started = Instant::now();
            // The callback hears of the commit before the queue does, so that `finish`
            // cannot return while a committed job's consequences (its states) are pending.
            let outcome = job
                .run(&self.pool, &self.lock_watch)
                .and_then(|counts| (self.on_commit)(&job, counts, started.elapsed()));
            let mut queue = self.lock();
            // Under the queue's lock, so that of the lanes sharing a batch buffer exactly
            // the last one done gets it back and releases its bytes.
            let freed = std::mem::take(&mut job.rows).into_buffer();
            queue.complete(&job, freed.as_ref().map_or(0, Vec::len), outcome);
            match freed {
                Some(mut rows) if queue.keeps_spare(&rows) => {
                    rows.clear();
                    queue.spare_buffers.push(rows);
                    drop(queue);
                }
                rows => {
                    drop(queue);
                    // Freed before the reader hears that the job's bytes are gone.
                    drop(rows);
                }
            }
            self.done.notify_all();
            // A finished barrier may let every lane of its table start.
            self.work.notify_all();
        }
    }
}

impl Queue {
    /// Whether a finished or emptied row buffer is worth keeping for the reader: enough
    /// spares for every connection plus the reader, more would only hold memory.
    fn keeps_spare(&self, buffer: &Vec<u8>) -> bool {
        self.spare_buffers.len() < self.running + 1
            && buffer.capacity() > 0
            && buffer.capacity() <= self.spare_capacity_max
    }

    /// The next job that may start, taking turns between tables.
    fn take_ready_job(&mut self) -> Option<FlushJob> {
        for _ in 0..self.turns.len() {
            let table = self.turns.pop_front()?;
            let Some(jobs) = self.tables.get_mut(&table) else {
                continue;
            };
            let job = jobs.take_startable();
            if !jobs.waiting.is_empty() {
                self.turns.push_back(table);
            }
            if job.is_some() {
                self.running += 1;
                return job;
            }
        }
        None
    }

    /// Marks `job` done; `freed` bytes of row buffers went with it.
    fn complete(&mut self, job: &FlushJob, freed: usize, outcome: Result<()>) {
        if let Some(jobs) = self.tables.get_mut(&job.table_id) {
            jobs.finished(job);
            if jobs.waiting.is_empty() && jobs.is_idle() {
                self.tables.remove(&job.table_id);
            }
        }
        self.running = self.running.saturating_sub(1);
        self.pending_bytes = self.pending_bytes.saturating_sub(freed);
        self.pending_jobs = self.pending_jobs.saturating_sub(1);
        if let Err(error) = outcome {
            if self.failure.is_none() {
                self.failure = Some(error);
            }
        }
    }
}

impl TableJobs {
    /// Takes the first waiting job that may start now: a barrier only when it is first in
    /// line and nothing of the table runs; another job when no barrier runs or waits before
    /// it, and no job of its lane runs or waits before it.
    fn take_startable(&mut self) -> Option<FlushJob> {
        if self.barrier_running {
            return None;
        }
        let mut lanes_before: Vec<usize> = Vec::new();
        let mut found = None;
        for (index, job) in self.waiting.iter().enumerate() {
            if job.barrier {
                if index == 0 && self.running_lanes.is_empty() {
                    found = Some(index);
                }
                break;
            }
            if !self.running_lanes.contains(&job.lane) && !lanes_before.contains(&job.lane) {
                found = Some(index);
                break;
            }
            lanes_before.push(job.lane);
        }
        let job = self.waiting.remove(found?)?;
        if job.barrier {
            self.barrier_running = true;
        } else {
            self.running_lanes.push(job.lane);
        }
        Some(job)
    }

    fn finished(&mut self, job: &FlushJob) {
        if job.barrier {
            self.barrier_running = false;
        } else if let Some(at) = self.running_lanes.iter().position(|&l| l == job.lane) {
            self.running_lanes.swap_remove(at);
        }
    }

    fn is_idle(&self) -> bool {
        !self.barrier_running && self.running_lanes.is_empty()
    }
}
