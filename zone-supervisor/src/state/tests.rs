//! The zone core driven with a fake clock: no processes, no sockets.

use super::*;

const MS: Duration = Duration::from_millis(1);

/// A zone core under test with its clock and the actions it asked for.
struct Harness {
    core: ZoneState,
    now: Instant,
    actions: Vec<Action>,
}

fn group(name: &str) -> String {
    format!("g-{name}")
}

impl Harness {
    fn new(keeps_scores: bool) -> Self {
        let policy = RealmPolicy {
            idle_stop: Duration::from_secs(30),
            heartbeat: Duration::from_millis(500),
            heartbeat_timeout: Duration::from_secs(3),
            restart_limit: 3,
            restart_window: Duration::from_secs(60),
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(2),
            default_arena: "0".into(),
            max_ipc_bytes_per_sec: 1000,
            ipc_queue_max_bytes: 1 << 20,
        };
        Harness {
            core: ZoneState::new(policy, keeps_scores),
            now: Instant::now(),
            actions: Vec::new(),
        }
    }

    /// Moves the clock and runs the periodic duties.
    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.core.tick(self.now);
    }

    /// The actions asked for since the last call.
    fn take(&mut self) -> Vec<Action> {
        let mut buf = Vec::new();
        self.core.drain_actions(&mut buf);
        self.actions.extend(buf.iter().cloned());
        buf
    }

    /// A logged-in player.
    fn login(&mut self, pid: i16) {
        self.core.connected(pid);
        self.core.set_login_state(pid, Place::LoggedIn);
    }

    fn go(&mut self, pid: i16, arena: &str) -> Result<SlotId, String> {
        self.core.go_to(self.now, pid, arena, group)
    }

    /// The worker the last `SpawnWorker` for `realm` started.
    fn spawned(&mut self, realm: &str) -> WorkerId {
        self.take();
        self.actions
            .iter()
            .rev()
            .find_map(|a| match a {
                Action::SpawnWorker { worker, realm: r } if r == realm => Some(*worker),
                _ => None,
            })
            .expect("no worker spawned")
    }

    /// A logged-in player in a realm whose worker is running.
    fn in_running_realm(&mut self, pid: i16, realm: &str) -> WorkerId {
        self.login(pid);
        self.go(pid, realm).unwrap();
        let w = self.spawned(realm);
        self.start(w);
        w
    }

    /// Hello and ready from a worker.
    fn start(&mut self, worker: WorkerId) {
        assert!(self.core.worker_hello(self.now, worker, true));
        self.core.worker_ready(self.now, worker);
    }

    fn exit(
        &mut self,
        worker: WorkerId,
        cause: ExitCause,
    ) -> Option<(String, WorkerEnd, ExitCause)> {
        self.core.worker_exited(self.now, worker, cause, group)
    }

    /// Answers the latest heartbeat sent to `worker` (as a live one does).
    fn beat(&mut self, worker: WorkerId) {
        let seq = seq_of(&self.take(), worker);
        self.core.heartbeat_ack(self.now, worker, seq);
    }

    fn slot(&self, name: &str) -> &RealmSlot {
        self.core.registry.by_name(name).expect("no such realm")
    }
}

fn entered_pids(actions: &[Action]) -> Vec<(i16, bool)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::EnterPlayer { pid, reentry, .. } => Some((*pid, *reentry)),
            _ => None,
        })
        .collect()
}

fn spawn_count(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::SpawnWorker { .. }))
        .count()
}

#[test]
fn a_player_enters_once_the_worker_is_ready() {
    let mut h = Harness::new(false);
    h.login(0);
    let slot = h.go(0, "duel").unwrap();
    let w = h.spawned("duel");
    assert!(entered_pids(&h.actions).is_empty(), "entered before ready");
    h.start(w);
    let acts = h.take();
    assert_eq!(entered_pids(&acts), vec![(0, false)]);
    assert_eq!(h.core.members.realm_of(0), Some(slot));
    assert!(!h.core.members.entered(0));
    h.core.player_entered(w, 0);
    assert!(h.core.members.entered(0));
    assert_eq!(h.core.members.players_in(slot), &[0]);
}

#[test]
fn restarts_back_off_doubling_and_start_over_after_the_window() {
    let mut h = Harness::new(false);
    h.login(0);
    h.go(0, "duel").unwrap();
    let mut w = h.spawned("duel");
    h.start(w);
    // First crash: immediate restart.
    let (_, end, cause) = h.exit(w, ExitCause::Exited(3)).unwrap();
    assert_eq!(end, WorkerEnd::Restarting { planned: false });
    assert_eq!(cause, ExitCause::Exited(3));
    assert_eq!(spawn_count(&h.take()), 1, "first restart is immediate");
    w = h.spawned("duel");
    // Second and third crashes: 250 ms, then 500 ms.
    for delay in [250u64, 500] {
        h.start(w);
        h.exit(w, ExitCause::Signaled("SIGSEGV".into())).unwrap();
        assert_eq!(spawn_count(&h.take()), 0, "restarted before the back-off");
        h.advance(MS * (delay - 1) as u32);
        assert_eq!(spawn_count(&h.take()), 0, "restarted before {delay} ms");
        h.advance(MS);
        assert_eq!(spawn_count(&h.take()), 1, "not restarted after {delay} ms");
        w = h.spawned("duel");
    }
    assert_eq!(h.slot("duel").restarts, 3);
    // A quiet minute: the crash count starts over, the next restart is
    // immediate again.
    h.start(w);
    for _ in 0..130 {
        h.advance(MS * 500);
        h.beat(w);
    }
    h.exit(w, ExitCause::Exited(1)).unwrap();
    assert_eq!(spawn_count(&h.take()), 1, "back-off did not reset");
}

/// The sequence number of the last heartbeat sent to `worker` (0 if none).
fn seq_of(actions: &[Action], worker: WorkerId) -> u32 {
    actions
        .iter()
        .rev()
        .find_map(|a| match a {
            Action::ToWorker {
                worker: w,
                msg: WorkerMsg::Heartbeat { seq },
            } if *w == worker => Some(*seq),
            _ => None,
        })
        .unwrap_or(0)
}

#[test]
fn backoff_is_capped_and_planned_restarts_are_immediate() {
    let p = RealmPolicy {
        backoff_base: Duration::from_millis(250),
        backoff_max: Duration::from_secs(2),
        ..RealmPolicy::default()
    };
    assert_eq!(registry::restart_delay(&p, 1, false), Duration::ZERO);
    assert_eq!(registry::restart_delay(&p, 2, false), MS * 250);
    assert_eq!(registry::restart_delay(&p, 4, false), MS * 1000);
    assert_eq!(registry::restart_delay(&p, 9, false), MS * 2000);
    assert_eq!(registry::restart_delay(&p, 9, true), Duration::ZERO);
}

/// Crashes a realm's workers until it fails; returns the players' actions
/// of the last crash.
fn crash_until_failed(h: &mut Harness, realm: &str) -> Vec<Action> {
    loop {
        let w = h.spawned(realm);
        h.start(w);
        h.take();
        let (_, end, _) = h.exit(w, ExitCause::Exited(3)).unwrap();
        if end == WorkerEnd::Failed {
            return h.take();
        }
        // Let any back-off pass.
        h.advance(Duration::from_secs(2));
    }
}

#[test]
fn a_crash_loop_fails_the_realm_and_moves_its_players_to_the_default_arena() {
    let mut h = Harness::new(false);
    for pid in [0, 1] {
        h.login(pid);
        h.go(pid, "duel").unwrap();
    }
    let acts = crash_until_failed(&mut h, "duel");
    assert_eq!(h.slot("duel").state, RealmState::Failed);
    assert_eq!(
        h.slot("duel").restarts,
        4,
        "limit 3: the fourth crash fails it"
    );
    let zero = h.slot("0").id;
    for pid in [0, 1] {
        assert!(acts.contains(&Action::Notice {
            pid,
            text: "Arena duel keeps failing; moving you to arena 0.".into()
        }));
        assert_eq!(
            h.core.members.realm_of(pid),
            Some(zero),
            "pid {pid} not moved"
        );
    }
    // They enter arena 0 once it is ready.
    let w0 = h.spawned("0");
    h.start(w0);
    assert_eq!(entered_pids(&h.take()), vec![(0, false), (1, false)]);
    // Asking for the failed arena by name is refused with a reason.
    h.login(2);
    let err = h.go(2, "duel").unwrap_err();
    assert!(err.contains("has failed"), "{err}");
    assert_eq!(h.core.members.place(2), Some(Place::LoggedIn));
    // An operator brings it back.
    h.core.operator_restart(h.now, "duel").unwrap();
    assert_eq!(spawn_count(&h.take()), 1);
    assert_eq!(h.slot("duel").state, RealmState::Starting);
}

#[test]
fn a_failed_default_arena_does_not_strand_anyone() {
    let mut h = Harness::new(false);
    h.login(0);
    h.go(0, "0").unwrap();
    let acts = crash_until_failed(&mut h, "0");
    assert!(acts.contains(&Action::Notice {
        pid: 0,
        text: "Arena 0 keeps failing; moving you to arena 1.".into()
    }));
    let one = h.slot("1").id;
    assert_eq!(h.core.members.realm_of(0), Some(one));
    // A newcomer asking for the default arena lands in arena 1 too.
    h.login(1);
    assert_eq!(h.go(1, "0"), Ok(one));
    let w1 = h.spawned("1");
    h.start(w1);
    assert_eq!(entered_pids(&h.take()), vec![(0, false), (1, false)]);
}

#[test]
fn a_silent_worker_is_killed_as_unresponsive_and_replaced() {
    let mut h = Harness::new(false);
    let w = h.in_running_realm(0, "duel");
    h.take();
    // Heartbeats go out every 500 ms; answering them keeps it alive.
    for _ in 0..10 {
        h.advance(MS * 500);
        let seq = seq_of(&h.take(), w);
        assert!(seq > 0, "no heartbeat sent");
        h.core.heartbeat_ack(h.now, w, seq);
    }
    assert!(!h.actions.contains(&Action::KillWorker { worker: w }));
    // A stale answer does not count; silence for 3 s kills it.
    h.advance(MS * 500);
    h.core.heartbeat_ack(h.now, w, 1);
    h.advance(MS * 2500);
    assert!(h.take().contains(&Action::KillWorker { worker: w }));
    // The kill's own exit status is reported with the real cause.
    let (_, end, cause) = h.exit(w, ExitCause::Signaled("SIGKILL".into())).unwrap();
    assert_eq!(cause, ExitCause::Unresponsive);
    assert_eq!(end, WorkerEnd::Restarting { planned: false });
    assert_eq!(h.slot("duel").last_exit, Some(ExitCause::Unresponsive));
    // The player is told, sent back to the arena view, and re-entered.
    let acts = h.take();
    assert!(acts.contains(&Action::WhoAmI { pid: 0 }));
    let w2 = h.spawned("duel");
    h.start(w2);
    assert_eq!(entered_pids(&h.take()), vec![(0, true)]);
}

#[test]
fn an_empty_realm_stops_after_the_idle_time_and_is_removed() {
    let mut h = Harness::new(false);
    let w = h.in_running_realm(0, "duel");
    h.core.leave_realm(0);
    assert!(h.take().contains(&Action::ToWorker {
        worker: w,
        msg: WorkerMsg::PlayerLeave { pid: 0 }
    }));
    let mut waited = Duration::ZERO;
    while waited < Duration::from_secs(40) {
        h.advance(MS * 500);
        waited += MS * 500;
        h.beat(w);
        if h.slot("duel").state == RealmState::Stopping {
            break;
        }
    }
    assert!(waited >= Duration::from_secs(30), "stopped early");
    assert!(h.actions.contains(&Action::ToWorker {
        worker: w,
        msg: WorkerMsg::Shutdown
    }));
    let (_, end, _) = h.exit(w, ExitCause::Exited(0)).unwrap();
    assert_eq!(end, WorkerEnd::Removed);
    assert!(h.core.registry.by_name("duel").is_none());
}

#[test]
fn a_stopping_worker_that_hangs_is_killed() {
    let mut h = Harness::new(false);
    let w = h.in_running_realm(0, "duel");
    h.core.leave_realm(0);
    // It answers heartbeats, but never exits after the shutdown.
    for _ in 0..(30_000 + 5_000) / 500 + 1 {
        h.advance(MS * 500);
        h.beat(w);
    }
    assert!(h.actions.contains(&Action::KillWorker { worker: w }));
    let (_, end, cause) = h.exit(w, ExitCause::Signaled("SIGKILL".into())).unwrap();
    assert_eq!((end, cause), (WorkerEnd::Removed, ExitCause::DidNotStop));
}

#[test]
fn a_realm_wanted_while_stopping_comes_back_with_a_fresh_worker() {
    let mut h = Harness::new(false);
    let w = h.in_running_realm(0, "duel");
    h.core.leave_realm(0);
    for _ in 0..61 {
        h.advance(MS * 500);
        h.beat(w);
    }
    assert_eq!(h.slot("duel").state, RealmState::Stopping);
    let slot = h.go(0, "duel").unwrap();
    assert_eq!(h.slot("duel").id, slot);
    let (_, end, _) = h.exit(w, ExitCause::Exited(0)).unwrap();
    assert_eq!(end, WorkerEnd::Restarting { planned: true });
    let w2 = h.spawned("duel");
    assert_ne!(w, w2);
    h.start(w2);
    assert_eq!(entered_pids(&h.take()), vec![(0, true)]);
}

#[test]
fn events_of_a_replaced_worker_are_ignored() {
    let mut h = Harness::new(false);
    h.login(0);
    h.go(0, "duel").unwrap();
    let old = h.spawned("duel");
    h.start(old);
    h.core.operator_restart(h.now, "duel").unwrap();
    assert!(h.take().contains(&Action::KillWorker { worker: old }));
    let (_, end, cause) = h.exit(old, ExitCause::Signaled("SIGKILL".into())).unwrap();
    assert_eq!(end, WorkerEnd::Restarting { planned: true });
    assert_eq!(cause, ExitCause::RestartRequested);
    let new = h.spawned("duel");
    h.take();
    // The old worker's late words change nothing.
    assert!(!h.core.worker_hello(h.now, old, true));
    h.core.worker_ready(h.now, old);
    h.core.player_entered(old, 0);
    assert!(!h.core.worker_bytes(h.now, old, 10));
    assert!(h.exit(old, ExitCause::Exited(0)).is_none());
    assert!(h.take().is_empty(), "old worker's events caused actions");
    assert_eq!(h.slot("duel").state, RealmState::Starting);
    assert!(!h.core.members.entered(0));
    assert_eq!(h.slot("duel").restarts, 1);
    h.start(new);
    assert_eq!(entered_pids(&h.take()), vec![(0, true)]);
}

#[test]
fn a_player_leaving_during_a_restart_is_not_entered_again() {
    let mut h = Harness::new(false);
    for pid in [0, 1] {
        h.login(pid);
        h.go(pid, "duel").unwrap();
    }
    let w = h.spawned("duel");
    h.start(w);
    h.core.player_entered(w, 0);
    h.core.player_entered(w, 1);
    h.exit(w, ExitCause::Exited(9)).unwrap();
    h.take();
    // Player 1 leaves the zone while no worker runs: nobody to tell.
    h.core.player_gone(1);
    let acts = h.take();
    assert!(
        !acts.iter().any(|a| matches!(a, Action::ToWorker { .. })),
        "{acts:?}"
    );
    let w2 = h.spawned("duel");
    h.start(w2);
    assert_eq!(entered_pids(&h.take()), vec![(0, true)]);
    let slot = h.slot("duel").id;
    assert_eq!(h.core.members.players_in(slot), &[0]);
}

#[test]
fn misbehaving_and_flooding_workers_are_killed_with_the_reason() {
    let mut h = Harness::new(false);
    h.login(0);
    h.go(0, "duel").unwrap();
    let w = h.spawned("duel");
    assert!(
        !h.core.worker_hello(h.now, w, false),
        "wrong version accepted"
    );
    assert!(h.take().contains(&Action::KillWorker { worker: w }));
    let (_, _, cause) = h.exit(w, ExitCause::Exited(0)).unwrap();
    assert!(matches!(cause, ExitCause::Misbehaved(_)), "{cause:?}");
    let w = h.spawned("duel");
    h.start(w);
    assert!(h.core.worker_bytes(h.now, w, 600));
    assert!(!h.core.worker_bytes(h.now, w, 600), "flood not caught");
    let (_, _, cause) = h.exit(w, ExitCause::Exited(0)).unwrap();
    assert_eq!(cause, ExitCause::Flooded(1200));
}

#[test]
fn entry_waits_for_the_scores_and_a_failed_load_never_enters() {
    let mut h = Harness::new(true);
    h.login(0);
    let slot = h.go(0, "duel").unwrap();
    let w = h.spawned("duel");
    assert!(h.actions.contains(&Action::LoadScores { pid: 0, slot }));
    h.start(w);
    assert!(entered_pids(&h.take()).is_empty(), "entered without scores");
    // Two failures: retried a second later each time.
    for _ in 0..SCORE_LOAD_ATTEMPTS - 1 {
        h.core.scores_failed(h.now, 0, slot);
        h.advance(SCORE_LOAD_RETRY - MS);
        assert!(!h.take().contains(&Action::LoadScores { pid: 0, slot }));
        h.advance(MS);
        assert!(h.take().contains(&Action::LoadScores { pid: 0, slot }));
    }
    // The last one: told and disconnected, never entered.
    h.core.scores_failed(h.now, 0, slot);
    let acts = h.take();
    assert!(acts.contains(&Action::Disconnect { pid: 0 }));
    assert!(entered_pids(&h.actions).is_empty());
    // A player whose load works enters at once.
    h.login(1);
    h.go(1, "duel").unwrap();
    h.core.scores_loaded(1, slot);
    assert_eq!(entered_pids(&h.take()), vec![(1, false)]);
}

#[test]
fn a_late_score_answer_for_another_realm_is_ignored() {
    let mut h = Harness::new(true);
    h.login(0);
    let duel = h.go(0, "duel").unwrap();
    let w = h.spawned("duel");
    h.start(w);
    let zero = h.go(0, "0").unwrap();
    h.core.scores_loaded(0, duel);
    assert!(entered_pids(&h.take()).is_empty());
    assert_eq!(h.core.members.realm_of(0), Some(zero));
}

// ----- rolling upgrades (docs/upgrades.md §2) ---------------------------

/// The successor the last `SpawnSuccessor` for `realm` started.
fn successor_of(actions: &[Action], realm: &str) -> Option<WorkerId> {
    actions.iter().rev().find_map(|a| match a {
        Action::SpawnSuccessor { worker, realm: r } if r == realm => Some(*worker),
        _ => None,
    })
}

fn asked_to_hand_over(actions: &[Action], worker: WorkerId) -> bool {
    actions.iter().any(|a| {
        *a == Action::ToWorker {
            worker,
            msg: WorkerMsg::HandOver,
        }
    })
}

#[test]
fn a_roll_hands_each_realm_over_in_turn_and_players_stay_in() {
    let mut h = Harness::new(false);
    let old_a = h.in_running_realm(0, "a");
    h.core.player_entered(old_a, 0);
    let old_b = h.in_running_realm(1, "b");
    h.core.player_entered(old_b, 1);
    h.take();
    h.core.start_roll(h.now).unwrap();
    let acts = h.take();
    let new_a = successor_of(&acts, "a").expect("successor for a");
    assert!(successor_of(&acts, "b").is_none(), "one realm at a time");
    assert!(h.core.start_roll(h.now).is_err(), "one roll at a time");
    // The successor starts; the old worker serves on.
    assert_eq!(h.core.registry.slot_of_worker(old_a), Some(h.slot("a").id));
    assert!(h.core.successor_hello(h.now, new_a, true));
    h.core.successor_ready(h.now, new_a);
    let acts = h.take();
    assert!(asked_to_hand_over(&acts, old_a));
    assert!(acts.iter().any(
        |a| matches!(a, Action::BeginHandOver { old, new, .. } if *old == old_a && *new == new_a)
    ));
    // The hand-over completes: the successor is the realm's worker.
    assert!(h.core.handed_over(h.now, old_a));
    let acts = h.take();
    assert!(acts.contains(&Action::ToWorker {
        worker: old_a,
        msg: WorkerMsg::Shutdown
    }));
    assert_eq!(h.slot("a").worker_id(), Some(new_a));
    assert_eq!(h.slot("a").ready_worker(), Some(new_a));
    assert_eq!(h.core.registry.slot_of_worker(old_a), None);
    // The old worker's exit is a non-event.
    assert!(h.exit(old_a, ExitCause::Exited(0)).is_none());
    assert!(h.core.members.entered(0), "the player never left");
    assert!(
        entered_pids(&h.take()).is_empty(),
        "no entry sequence again"
    );
    // Then the next realm.
    let new_b = successor_of(&acts, "b").expect("successor for b");
    assert!(h.core.successor_hello(h.now, new_b, true));
    h.core.successor_ready(h.now, new_b);
    assert!(asked_to_hand_over(&h.take(), old_b));
    assert!(h.core.handed_over(h.now, old_b));
    let roll = h.core.roll.clone().unwrap();
    assert!(roll.finished && roll.failed.is_none(), "{roll:?}");
    assert_eq!(roll.upgraded, vec!["a".to_string(), "b".to_string()]);
    assert_eq!(h.slot("b").worker_id(), Some(new_b));
    assert!(h.core.members.entered(1));
}

#[test]
fn a_successor_that_exits_at_start_leaves_the_old_worker_and_stops_the_roll() {
    let mut h = Harness::new(false);
    let old_a = h.in_running_realm(0, "a");
    let old_b = h.in_running_realm(1, "b");
    h.take();
    h.core.start_roll(h.now).unwrap();
    let new_a = successor_of(&h.take(), "a").unwrap();
    let (slot, cause) = h
        .core
        .successor_exited(h.now, new_a, ExitCause::Exited(3))
        .expect("a successor");
    assert_eq!(slot, h.slot("a").id);
    assert_eq!(cause, ExitCause::Exited(3));
    let acts = h.take();
    assert!(successor_of(&acts, "b").is_none(), "the roll stopped");
    assert!(!asked_to_hand_over(&acts, old_a));
    assert_eq!(h.slot("a").ready_worker(), Some(old_a));
    assert_eq!(h.slot("b").ready_worker(), Some(old_b));
    let roll = h.core.roll.clone().unwrap();
    assert!(roll.finished);
    assert_eq!(roll.failed, Some(("a".into(), "exit code 3".into())));
    assert!(
        roll.summary().contains("realm a keeps its old worker"),
        "{}",
        roll.summary()
    );
    assert!(
        roll.summary().contains("not upgraded: b"),
        "{}",
        roll.summary()
    );
    // The old worker's heartbeat goes on as ever.
    h.advance(600 * MS);
    assert!(seq_of(&h.take(), old_a) > 0);
}

#[test]
fn a_successor_that_never_gets_ready_is_killed_and_reported() {
    let mut h = Harness::new(false);
    let old = h.in_running_realm(0, "a");
    h.take();
    h.core.start_roll(h.now).unwrap();
    let new = successor_of(&h.take(), "a").unwrap();
    assert!(h.core.successor_hello(h.now, new, true));
    for _ in 0..12 {
        h.advance(Duration::from_secs(1));
        h.beat(old);
    }
    assert!(h.actions.contains(&Action::KillWorker { worker: new }));
    h.core
        .successor_exited(h.now, new, ExitCause::Signaled("SIGKILL".into()));
    let roll = h.core.roll.clone().unwrap();
    assert_eq!(roll.failed, Some(("a".into(), "not ready in time".into())));
    assert_eq!(h.slot("a").ready_worker(), Some(old));
}

#[test]
fn an_old_worker_dying_during_the_hand_over_restarts_the_realm_as_after_a_crash() {
    let mut h = Harness::new(false);
    let old = h.in_running_realm(0, "a");
    h.core.player_entered(old, 0);
    h.take();
    h.core.start_roll(h.now).unwrap();
    let new = successor_of(&h.take(), "a").unwrap();
    assert!(h.core.successor_hello(h.now, new, true));
    h.core.successor_ready(h.now, new);
    h.take();
    h.exit(old, ExitCause::Signaled("SIGSEGV".into()));
    let acts = h.take();
    assert!(acts.contains(&Action::KillWorker { worker: new }));
    assert!(
        acts.contains(&Action::WhoAmI { pid: 0 }),
        "re-entered as after a crash"
    );
    assert_eq!(spawn_count(&acts), 1, "a fresh worker starts");
    let (_, cause) = h
        .core
        .successor_exited(h.now, new, ExitCause::Signaled("SIGKILL".into()))
        .unwrap();
    assert!(matches!(cause, ExitCause::UpgradeAborted(_)), "{cause:?}");
    let roll = h.core.roll.clone().unwrap();
    assert!(
        roll.finished && roll.failed.is_none() && roll.skipped.len() == 1,
        "{roll:?}"
    );
}

#[test]
fn a_successor_dying_during_the_hand_over_restarts_the_old_realm() {
    let mut h = Harness::new(false);
    let old = h.in_running_realm(0, "a");
    h.take();
    h.core.start_roll(h.now).unwrap();
    let new = successor_of(&h.take(), "a").unwrap();
    assert!(h.core.successor_hello(h.now, new, true));
    h.core.successor_ready(h.now, new);
    h.take();
    h.core.successor_exited(h.now, new, ExitCause::Exited(1));
    // The old worker was asked to hand over and serves nobody: replaced.
    assert!(h.take().contains(&Action::KillWorker { worker: old }));
    assert!(h.core.roll.clone().unwrap().failed.is_some());
}

#[test]
fn a_realm_that_stops_idle_during_its_upgrade_is_skipped_and_the_roll_goes_on() {
    let mut h = Harness::new(false);
    // "a" is empty and about to stop; "b" has a player.
    h.login(0);
    h.go(0, "a").unwrap();
    let old_a = h.spawned("a");
    h.start(old_a);
    h.core.player_entered(old_a, 0);
    h.core.leave_realm(0);
    let old_b = h.in_running_realm(1, "b");
    h.take();
    h.core.registry.policy.idle_stop = Duration::from_secs(5);
    h.core.start_roll(h.now).unwrap();
    let new_a = successor_of(&h.take(), "a").unwrap();
    // "a" idles out before its successor is ready.
    for _ in 0..6 {
        h.advance(Duration::from_secs(1));
        h.beat(old_a);
        h.beat(old_b);
    }
    assert_eq!(h.slot("a").state, RealmState::Stopping);
    let ended = h.exit(old_a, ExitCause::Exited(0));
    assert!(
        matches!(ended, Some((_, WorkerEnd::Removed, _))),
        "{ended:?}"
    );
    let acts = h.take();
    assert!(acts.contains(&Action::KillWorker { worker: new_a }));
    assert!(successor_of(&acts, "b").is_some(), "the roll went on to b");
    let roll = h.core.roll.clone().unwrap();
    assert_eq!(
        roll.skipped,
        vec![("a".to_string(), "the realm stopped".to_string())]
    );
    assert_eq!(roll.current.as_deref(), Some("b"));
    // The successor's own exit is then a non-event.
    assert!(h
        .core
        .successor_exited(h.now, new_a, ExitCause::Signaled("SIGKILL".into()))
        .is_none());
}
