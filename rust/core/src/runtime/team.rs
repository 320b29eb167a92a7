//! A team of threads for splitting one kernel call into a few large tasks (the blocks of a
//! matrix product). The calling thread works on the tasks too, and between calls the other
//! threads spin for a short while before they sleep, so a run of calls (the products of a
//! training step) finds them awake: waking a sleeping thread can cost tens to hundreds of
//! microseconds on a virtual machine, as long as a mid-size product takes.
//!
//! The team has `FERROGRAD_NUM_THREADS` threads, by default one per core (the calling thread
//! counts as one). A call
//! made while the team is busy, or from inside a task, runs its tasks on the calling thread.

use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, TryLockError};
use std::time::{Duration, Instant};

/// How long an idle worker spins, waiting for the next call, before it sleeps, unless
/// `FERROGRAD_SPIN_US` says otherwise (in microseconds; 0 sleeps at once).
const SPIN: Duration = Duration::from_millis(2);

fn spin_time() -> Duration {
    std::env::var("FERROGRAD_SPIN_US")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(SPIN, Duration::from_micros)
}

/// The claim word holds the job number above these bits and the next task index below them.
const INDEX_BITS: u32 = 24;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;

/// Most tasks one call may have; larger calls run on the calling thread.
const MAX_TASKS: usize = 1 << 20;

type Task = dyn Fn(usize) + Sync;

struct Team {
    /// How long idle workers spin before they sleep.
    spin: Duration,
    /// Worker threads started (the calling thread is not counted).
    workers: AtomicUsize,
    /// `(job << INDEX_BITS) | next unclaimed task`. A task is only run after a successful
    /// compare-exchange on this word, which also proves its job is still running.
    claim: AtomicU64,
    /// Number of tasks of the current job.
    count: AtomicUsize,
    /// Tasks of the current job not finished yet.
    pending: AtomicUsize,
    /// The first panic of the current job's tasks, raised again by its submitter.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    /// The current job's task; written only by the submitter while no task can be running.
    task: UnsafeCell<Option<&'static Task>>,
    /// Held by the thread whose job the team is running.
    submit: Mutex<()>,
    sleep: Mutex<()>,
    wake: Condvar,
    sleepers: AtomicUsize,
}

// SAFETY: `task` is written only by the holder of `submit` while no task of any job is
// running (see `run`) and read only by threads that have claimed a task of the running job.
unsafe impl Sync for Team {}

thread_local! {
    static IS_WORKER: Cell<bool> = const { Cell::new(false) };
}

static TEAM: OnceLock<&'static Team> = OnceLock::new();

/// Set in a child process forked after the team started: the child has none of its
/// threads (and may hold its locks in whatever state the fork caught them), so it runs
/// everything on the calling thread.
static FORKED: AtomicBool = AtomicBool::new(false);

/// Registers the fork handler once, before the team's threads start.
fn watch_forks() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(register_fork_handler);
}

#[cfg(unix)]
fn register_fork_handler() {
    extern "C" fn in_child() {
        FORKED.store(true, Ordering::Relaxed);
    }
    // The child handler only stores to an atomic (async-signal-safe).
    at_fork(None, None, Some(in_child));
}

/// Registers `fork` handlers with `pthread_atfork`: `prepare` runs in the forking thread
/// before the fork, `parent` and `child` after it in each process. Handlers must not allocate
/// or take locks another thread may hold across a fork.
#[cfg(unix)]
pub(crate) fn at_fork(
    prepare: Option<extern "C" fn()>,
    parent: Option<extern "C" fn()>,
    child: Option<extern "C" fn()>,
) {
    extern "C" {
        fn pthread_atfork(
            prepare: Option<extern "C" fn()>,
            parent: Option<extern "C" fn()>,
            child: Option<extern "C" fn()>,
        ) -> i32;
    }
    // SAFETY: plain function pointers with C linkage; failure only means no handlers.
    unsafe { pthread_atfork(prepare, parent, child) };
}

#[cfg(not(unix))]
fn register_fork_handler() {}

fn team() -> &'static Team {
    TEAM.get_or_init(|| {
        watch_forks();
        let wanted = configured_threads().saturating_sub(1);
        let team: &'static Team = Box::leak(Box::new(Team {
            spin: spin_time(),
            workers: AtomicUsize::new(0),
            claim: AtomicU64::new(0),
            count: AtomicUsize::new(0),
            pending: AtomicUsize::new(0),
            panic: Mutex::new(None),
            task: UnsafeCell::new(None),
            submit: Mutex::new(()),
            sleep: Mutex::new(()),
            wake: Condvar::new(),
            sleepers: AtomicUsize::new(0),
        }));
        let started = (0..wanted)
            .filter(|i| {
                std::thread::Builder::new()
                    .name(format!("ferrograd-team-{}", i + 1))
                    .spawn(move || team.work())
                    .is_ok()
            })
            .count();
        team.workers.store(started, Ordering::Relaxed);
        team
    })
}

/// Threads asked for with `FERROGRAD_NUM_THREADS` (a positive integer), else every core.
fn configured_threads() -> usize {
    std::env::var("FERROGRAD_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Whether the team has been started (by the first call that may split its work). Its size
/// is fixed from then on: `FERROGRAD_NUM_THREADS` is read only once, at that moment.
pub fn started() -> bool {
    TEAM.get().is_some()
}

/// Threads a call to [`run`] may use, the calling thread included.
pub fn threads() -> usize {
    if FORKED.load(Ordering::Relaxed) {
        return 1;
    }
    team().workers.load(Ordering::Relaxed) + 1
}

/// Runs `f(0)`, ..., `f(count - 1)`, spread over the team; returns when all have finished.
/// A panic in any task is raised again here once every task has stopped.
pub fn run<'a>(count: usize, f: &'a (dyn Fn(usize) + Sync + 'a)) {
    let inline = || (0..count).for_each(f);
    if count <= 1 || count > MAX_TASKS || IS_WORKER.with(Cell::get) {
        return inline();
    }
    // Checked before `team()`: a child forked while the team was starting must not wait for it.
    if FORKED.load(Ordering::Relaxed) {
        return inline();
    }
    let team = team();
    if team.workers.load(Ordering::Relaxed) == 0 {
        return inline();
    }
    let _guard: MutexGuard<'_, ()> = match team.submit.try_lock() {
        Ok(g) => g,
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        Err(TryLockError::WouldBlock) => return inline(),
    };
    // SAFETY: the reference is only used until every task has finished, which happens before
    // this function returns (or unwinds: task panics are caught and re-raised after the wait).
    let task: &'static Task =
        unsafe { std::mem::transmute::<&'a (dyn Fn(usize) + Sync + 'a), &'static Task>(f) };
    // SAFETY: holding `submit`, and the previous job's tasks have all finished.
    unsafe { *team.task.get() = Some(task) };
    team.pending.store(count, Ordering::Relaxed);
    // Release: a worker that sees this count also sees the previous job closed (below), so
    // it cannot claim a task of this job under the previous job's number.
    team.count.store(count, Ordering::Release);
    let job = (team.claim.load(Ordering::Relaxed) >> INDEX_BITS) + 1;
    team.claim.store(job << INDEX_BITS, Ordering::SeqCst);
    if team.sleepers.load(Ordering::SeqCst) > 0 {
        let _lock = team.sleep.lock().unwrap_or_else(|p| p.into_inner());
        team.wake.notify_all();
    }
    team.help(job);
    let mut spins = 0u32;
    while team.pending.load(Ordering::Acquire) != 0 {
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(1024) {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
    // Close the job: an index no count reaches, so a worker that read this job's word before
    // the next job's count fails its claim instead of taking a task of the next job.
    team.claim
        .store((job << INDEX_BITS) | INDEX_MASK, Ordering::Release);
    // SAFETY: every task has finished; nobody reads the slot until the next job.
    unsafe { *team.task.get() = None };
    let panic = team.panic.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(payload) = panic {
        std::panic::resume_unwind(payload);
    }
}

/// Tasks per thread when [`for_each`] groups many items: enough to even out uneven items,
/// few enough that claiming tasks costs nothing next to the work.
const TASKS_PER_THREAD: usize = 8;

/// Runs `f` once on each of `items`, spread over the team in runs of consecutive items.
pub fn for_each<I: Send, F: Fn(I) + Sync>(items: Vec<I>, f: F) {
    let slots: Vec<Slot<I>> = items
        .into_iter()
        .map(|i| Slot(UnsafeCell::new(Some(i))))
        .collect();
    let n = slots.len();
    let tasks = n.min(threads() * TASKS_PER_THREAD);
    run(tasks, &|t| {
        for slot in &slots[t * n / tasks..(t + 1) * n / tasks] {
            // SAFETY: `run` calls each task exactly once and the tasks' ranges are disjoint,
            // so no two threads touch one slot.
            if let Some(item) = unsafe { (*slot.0.get()).take() } {
                f(item)
            }
        }
    });
}

/// `f` of each of `items`, in order, computed over the team.
pub fn map<I: Send, R: Send, F: Fn(I) -> R + Sync>(items: Vec<I>, f: F) -> Vec<R> {
    let results: Vec<Slot<R>> = (0..items.len())
        .map(|_| Slot(UnsafeCell::new(None)))
        .collect();
    let numbered: Vec<(usize, I)> = items.into_iter().enumerate().collect();
    for_each(numbered, |(i, item)| {
        let r = f(item);
        // SAFETY: only the task of item `i` writes slot `i`, and nobody reads it until
        // `for_each` has returned.
        unsafe { *results[i].0.get() = Some(r) };
    });
    results
        .into_iter()
        .map(|s| s.0.into_inner().expect("every task ran"))
        .collect()
}

/// One item of [`for_each`], taken by the one task that owns its index.
struct Slot<I>(UnsafeCell<Option<I>>);
// SAFETY: each slot is accessed by one task only (see `for_each`); the item itself is `Send`.
unsafe impl<I: Send> Sync for Slot<I> {}

impl Team {
    /// Claims and runs tasks of `job` until none is left.
    fn help(&self, job: u64) {
        loop {
            let word = self.claim.load(Ordering::Acquire);
            let index = (word & INDEX_MASK) as usize;
            if word >> INDEX_BITS != job || index >= self.count.load(Ordering::Acquire) {
                return;
            }
            if self
                .claim
                .compare_exchange_weak(word, word + 1, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            // SAFETY: a task of `job` is claimed and unfinished, so the job's submitter is
            // still waiting and the slot holds its task.
            let task = unsafe { *self.task.get() };
            if let Some(task) = task {
                if let Err(payload) = catch_unwind(AssertUnwindSafe(|| task(index))) {
                    let mut first = self.panic.lock().unwrap_or_else(|p| p.into_inner());
                    first.get_or_insert(payload);
                }
            }
            self.pending.fetch_sub(1, Ordering::Release);
        }
    }

    /// A worker's life: wait for a job (spinning, then sleeping), help with it, repeat.
    fn work(&self) {
        IS_WORKER.with(|w| w.set(true));
        let mut seen = self.claim.load(Ordering::Acquire) >> INDEX_BITS;
        loop {
            let idle_since = Instant::now();
            let mut spins = 0u32;
            let job = loop {
                let job = self.claim.load(Ordering::Acquire) >> INDEX_BITS;
                if job != seen {
                    break job;
                }
                spins = spins.wrapping_add(1);
                if !spins.is_multiple_of(256) {
                    std::hint::spin_loop();
                } else if idle_since.elapsed() < self.spin {
                    // Let any other thread that wants this core have it.
                    std::thread::yield_now();
                } else {
                    self.sleep_while(seen);
                }
            };
            seen = job;
            self.help(job);
        }
    }

    /// Sleeps until a job other than `seen` is published.
    fn sleep_while(&self, seen: u64) {
        let mut lock = self.sleep.lock().unwrap_or_else(|p| p.into_inner());
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        while self.claim.load(Ordering::SeqCst) >> INDEX_BITS == seen {
            lock = self.wake.wait(lock).unwrap_or_else(|p| p.into_inner());
        }
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn every_task_runs_once() {
        for count in [0, 1, 2, 3, 17, 1000] {
            let hits: Vec<AtomicUsize> = (0..count).map(|_| AtomicUsize::new(0)).collect();
            run(count, &|i| {
                hits[i].fetch_add(1, Ordering::Relaxed);
            });
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
        }
    }

    #[test]
    fn the_team_counts_as_started_after_a_call_that_splits_its_work() {
        run(2, &|_| {});
        assert!(started());
        assert!(threads() >= 1);
    }

    #[test]
    fn for_each_hands_every_item_over_once() {
        let mut data = vec![0u32; 1000];
        for_each(data.chunks_mut(7).collect(), |chunk: &mut [u32]| {
            chunk.iter_mut().for_each(|v| *v += 1)
        });
        assert!(data.iter().all(|&v| v == 1));
    }

    #[test]
    fn map_keeps_the_order() {
        let out = map((0..100).collect(), |i: usize| i * i);
        assert_eq!(out, (0..100).map(|i| i * i).collect::<Vec<_>>());
    }

    #[test]
    fn jobs_of_changing_sizes_back_to_back_run_each_task_once() {
        // A worker still finishing one job must never claim a task of the next, whose task
        // count may be larger.
        for round in 0..20_000usize {
            let count = if round % 2 == 0 { 2 } else { 9 };
            let hits: Vec<AtomicUsize> = (0..count).map(|_| AtomicUsize::new(0)).collect();
            run(count, &|i| {
                hits[i].fetch_add(1, Ordering::Relaxed);
            });
            assert!(
                hits.iter().all(|h| h.load(Ordering::Relaxed) == 1),
                "round {round}"
            );
        }
    }

    #[test]
    fn calls_from_several_threads_and_nested_calls_all_finish() {
        let total = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..200 {
                        run(3, &|_| {
                            run(2, &|_| {
                                total.fetch_add(1, Ordering::Relaxed);
                            })
                        });
                    }
                });
            }
        });
        assert_eq!(total.load(Ordering::Relaxed), 4 * 200 * 3 * 2);
    }

    #[test]
    fn a_panicking_task_is_reported_and_the_team_still_works() {
        let caught = std::panic::catch_unwind(|| {
            run(4, &|i| {
                if i == 3 {
                    panic!("boom");
                }
            })
        });
        let payload = caught.expect_err("the panic is raised again");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
        let n = AtomicUsize::new(0);
        run(5, &|_| {
            n.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(n.load(Ordering::Relaxed), 5);
    }
}
