//! Faults, drawn from the seed, injected around every port call of the real use cases: an error before the call
//! (throttling), an error after it succeeded (a timeout: the write happened, the caller does not know), a crash
//! before or after it (the invocation dies there: nothing after it happens), and a yield (another invocation runs in
//! between). Every call is traced, so a failing seed can show what led to it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use fsched_core::domain::event::BusEvent;

use crate::ledger::Ledger;
use crate::rng::Rng;

/// How often each fault is drawn, per port call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    pub crash: f64,
    pub fail_before: f64,
    pub fail_after: f64,
    pub yield_now: f64,
    /// Fargate Spot has no capacity for a RunTask on Spot.
    pub no_spot: f64,
}

impl Rates {
    /// The default plan: per port call, a crash 1 in 500, a throttle 1 in 100, a timeout after success 1 in 300,
    /// and another invocation let in between 1 in 20.
    pub const DEFAULT: Rates = Rates {
        crash: 0.002,
        fail_before: 0.01,
        fail_after: 0.003,
        yield_now: 0.05,
        no_spot: 0.1,
    };

    pub const NONE: Rates = Rates {
        crash: 0.0,
        fail_before: 0.0,
        fail_after: 0.0,
        yield_now: 0.0,
        no_spot: 0.0,
    };
}

/// What to do with one call.
enum Go {
    /// The invocation has crashed: this call never returns.
    Hang,
    /// Fail before the call reaches the service.
    Fail,
    Run {
        yield_first: bool,
        crash_after: bool,
        fail_after: bool,
    },
}

tokio::task_local! {
    /// The invocation a port call belongs to: invocations of one simulated minute run concurrently.
    static INVOCATION: u64;
}

fn current() -> u64 {
    INVOCATION.try_with(|i| *i).unwrap_or(0)
}

/// Runs `work` as invocation `id`: `None` when it crashed (dropped at the call where it died). `label` names it in
/// the trace (made only when tracing).
pub async fn invocation<T>(
    faults: &Shared,
    label: impl FnOnce() -> String,
    work: impl Future<Output = T>,
) -> Option<T> {
    let (id, notify) = lock(faults).begin(label);
    let out = INVOCATION
        .scope(id, async {
            tokio::select! {
                biased;
                _ = notify.notified() => None,
                r = work => Some(r),
            }
        })
        .await;
    lock(faults).end(id);
    out
}

/// The fault plan's state, shared by every wrapped port.
pub struct Faults {
    rng: Rng,
    pub rates: Rates,
    crashed: BTreeSet<u64>,
    notifies: BTreeMap<u64, Arc<Notify>>,
    /// Faults injected, by kind.
    pub injected: BTreeMap<&'static str, u64>,
    pub calls: u64,
    /// Invocations started so far.
    pub invocations: u64,
    trace: VecDeque<String>,
    /// Announcements made by each running invocation with no fault after them yet (ledger indexes).
    unfaulted: BTreeMap<u64, Vec<usize>>,
    /// Port calls made by each running invocation so far.
    calls_of: BTreeMap<u64, u64>,
    /// What the invariants watch.
    pub ledger: Ledger,
    /// Whether port calls are traced (a seed runs untraced, then again traced if it broke an invariant).
    pub tracing: bool,
    /// Every traced line to stderr as well (`FSCHED_SIM_LOG=1`: for replaying one seed).
    log: bool,
    /// The trace as it was when the first violation was found.
    pub first_violation_trace: Option<Vec<String>>,
}

pub const TRACE_LEN: usize = 40;

pub type Shared = Arc<Mutex<Faults>>;

pub fn lock(f: &Shared) -> MutexGuard<'_, Faults> {
    f.lock().unwrap_or_else(|e| e.into_inner())
}

impl Faults {
    pub fn new(rng: Rng, rates: Rates) -> Shared {
        Arc::new(Mutex::new(Faults {
            rng,
            rates,
            crashed: BTreeSet::new(),
            notifies: BTreeMap::new(),
            injected: BTreeMap::new(),
            calls: 0,
            invocations: 0,
            trace: VecDeque::new(),
            unfaulted: BTreeMap::new(),
            calls_of: BTreeMap::new(),
            ledger: Ledger::default(),
            first_violation_trace: None,
            tracing: false,
            log: std::env::var_os("FSCHED_SIM_LOG").is_some(),
        }))
    }

    /// Starts an invocation: its id, and the signal its crash gives.
    fn begin(&mut self, label: impl FnOnce() -> String) -> (u64, Arc<Notify>) {
        self.invocations += 1;
        let id = self.invocations;
        let notify = Arc::new(Notify::new());
        self.notifies.insert(id, notify.clone());
        self.note(|| format!("#{id} begins: {}", label()));
        (id, notify)
    }

    fn end(&mut self, id: u64) {
        self.crashed.remove(&id);
        self.notifies.remove(&id);
        self.unfaulted.remove(&id);
        self.calls_of.remove(&id);
    }

    /// Traces a line (made only when tracing).
    pub fn note(&mut self, line: impl FnOnce() -> String) {
        if !self.tracing {
            return;
        }
        let line = line();
        let line = format!("{} {line}", self.ledger.now.format("%m-%dT%H:%M"));
        if self.log {
            eprintln!("{line}");
        }
        if self.trace.len() == TRACE_LEN {
            self.trace.pop_front();
        }
        self.trace.push_back(line);
    }

    /// Keeps the trace that led to the first violation, once there is one.
    pub fn keep_trace(&mut self) {
        if self.first_violation_trace.is_none() && !self.ledger.violations.is_empty() {
            self.first_violation_trace = Some(self.trace());
        }
    }

    pub fn trace(&self) -> Vec<String> {
        self.trace.iter().cloned().collect()
    }

    pub fn count(&mut self, kind: &'static str) {
        *self.injected.entry(kind).or_default() += 1;
        // A fault after an announcement may make it be sent again (its outbox not emptied): a repeat is allowed.
        for i in self.unfaulted.remove(&current()).unwrap_or_default() {
            self.ledger.may_repeat(i);
        }
    }

    /// Events that reached the bus, recorded in the ledger.
    pub fn published(&mut self, events: &[BusEvent]) {
        let now = self.ledger.now;
        let by = current();
        let call = self.calls_of.get(&by).copied().unwrap_or_default();
        for e in events {
            if let Some(i) = self.ledger.announced(e, now, (by, call)) {
                self.unfaulted.entry(current()).or_default().push(i);
            }
        }
    }

    fn go(&mut self, op: impl FnOnce() -> String, writes: bool) -> Go {
        self.calls += 1;
        let id = current();
        *self.calls_of.entry(id).or_default() += 1;
        if self.crashed.contains(&id) {
            return Go::Hang;
        }
        let r = self.rates;
        let crash_before = self.rng.chance(r.crash / 2.0);
        let fail = self.rng.chance(r.fail_before);
        let crash_after = writes && self.rng.chance(r.crash / 2.0);
        let fail_after = writes && self.rng.chance(r.fail_after);
        let yield_first = self.rng.chance(r.yield_now);
        if crash_before {
            self.note(|| format!("#{id} {}: CRASH before", op()));
            self.count("crash");
            self.crash();
            return Go::Hang;
        }
        if fail {
            self.note(|| format!("#{id} {}: FAIL (throttled)", op()));
            self.count("throttle");
            return Go::Fail;
        }
        self.note(|| {
            format!(
                "#{id} {}{}{}",
                op(),
                if crash_after { ": then CRASH" } else { "" },
                if fail_after && !crash_after {
                    ": then TIMEOUT"
                } else {
                    ""
                }
            )
        });
        Go::Run {
            yield_first,
            crash_after,
            fail_after,
        }
    }

    fn crash(&mut self) {
        let id = current();
        self.crashed.insert(id);
        if let Some(n) = self.notifies.get(&id) {
            n.notify_one();
        }
    }

    /// Whether Fargate Spot has no capacity for this RunTask.
    pub fn spot_is_short(&mut self, op: impl FnOnce() -> String) -> bool {
        let short = self.rng.chance(self.rates.no_spot);
        if short {
            self.note(|| format!("#{} {}: no Spot capacity", current(), op()));
            *self.injected.entry("no Spot capacity").or_default() += 1;
        }
        short
    }
}

/// A port wrapped with the fault plan. Clones share the port and the plan.
#[derive(Clone)]
pub struct Chaos<P> {
    pub inner: P,
    pub faults: Shared,
}

impl<P> Chaos<P> {
    pub fn new(inner: P, faults: Shared) -> Self {
        Chaos { inner, faults }
    }

    /// Runs `call` (not started until here) under the plan. `writes`: whether it changes something (only such
    /// calls can crash or time out after succeeding). `error` makes the port's transient error.
    pub async fn guard<T, E>(
        &self,
        op: impl Fn() -> String,
        writes: bool,
        error: impl Fn(String) -> E,
        call: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let go = lock(&self.faults).go(&op, writes);
        match go {
            Go::Hang => std::future::pending().await,
            Go::Fail => Err(error(format!("injected: {} throttled", op()))),
            Go::Run {
                yield_first,
                crash_after,
                fail_after,
            } => {
                if yield_first {
                    tokio::task::yield_now().await;
                    let crashed = lock(&self.faults).crashed.contains(&current());
                    if crashed {
                        return std::future::pending().await;
                    }
                }
                let result = call.await;
                if crash_after {
                    {
                        let mut faults = lock(&self.faults);
                        faults.count("crash");
                        faults.crash();
                    }
                    return std::future::pending().await;
                }
                match result {
                    Ok(_) if fail_after => {
                        lock(&self.faults).count("timeout after success");
                        Err(error(format!(
                            "injected: {} timed out after it succeeded",
                            op()
                        )))
                    }
                    other => other,
                }
            }
        }
    }
}
