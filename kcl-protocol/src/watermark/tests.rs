//! The watermark on its own: marking in any order, and the property that the checkpoint target
//! never passes a record not marked done and reaches the last record once all are.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;
use crate::record::SequenceNumber;

/// A delivered record with delivery index `index` and sequence number `100 + index`.
fn record(index: u64) -> Record {
    let mut record = Record::new(
        Vec::new(),
        "k",
        (100 + index).to_string().parse::<SequenceNumber>().unwrap(),
        0,
        None,
    );
    record.set_delivery(index);
    record
}

/// The delivery index a target position stands for.
fn target_index(watermark: &Watermark) -> Option<u64> {
    watermark.target().map(|(low, position)| {
        let index: u64 = position.sequence_number.as_str().parse::<u64>().unwrap() - 100;
        assert_eq!(index + 1, low, "the target is the record just below `low`");
        index
    })
}

#[test]
fn out_of_order_marks_never_pass_a_gap() {
    let watermark = Watermark::new(0, 5);
    let tickets: Vec<Ticket> = (0..5).map(|i| watermark.track(&record(i))).collect();
    tickets[1].done();
    tickets[2].done();
    assert_eq!(target_index(&watermark), None, "record 0 is outstanding");
    assert_eq!(watermark.outstanding(), 3);
    tickets[0].done();
    assert_eq!(target_index(&watermark), Some(2));
    assert_eq!(watermark.outstanding(), 2);
    tickets[4].done();
    assert_eq!(target_index(&watermark), Some(2), "record 3 is outstanding");
    tickets[3].done_up_to();
    assert_eq!(target_index(&watermark), Some(4));
    assert_eq!(watermark.outstanding(), 0);
    // Marking again, or below the watermark, changes nothing.
    tickets[1].done();
    tickets[4].done_up_to();
    assert_eq!(target_index(&watermark), Some(4));
}

#[test]
fn done_up_to_covers_records_never_marked_and_later_batches_stay_outstanding() {
    let watermark = Watermark::new(10, 13);
    watermark.track(&record(12)).done_up_to();
    assert_eq!(target_index(&watermark), Some(12));
    watermark.deliver(13, 15);
    assert_eq!(watermark.outstanding(), 2);
    watermark.track(&record(14)).done();
    assert_eq!(target_index(&watermark), Some(12));
    watermark.track(&record(13)).done();
    assert_eq!(target_index(&watermark), Some(14));
}

#[test]
fn records_not_tracked_mark_nothing() {
    let watermark = Watermark::new(5, 6);
    // Built by hand, delivered before the watermark existed, or not delivered yet.
    let by_hand = Record::new(b"x".to_vec(), "k", "7".parse().unwrap(), 0, None);
    watermark.track(&by_hand).done_up_to();
    watermark.track(&record(4)).done_up_to();
    watermark.track(&record(9)).done_up_to();
    assert_eq!(watermark.outstanding(), 1);
    assert_eq!(target_index(&watermark), None);
}

#[test]
fn a_successful_checkpoint_is_not_repeated() {
    let watermark = Watermark::new(0, 2);
    watermark.track(&record(0)).done();
    let (low, _) = watermark.target().unwrap();
    watermark.checkpointed(low);
    assert!(
        watermark.target().is_none(),
        "coalesced: nothing new to checkpoint"
    );
    watermark.track(&record(1)).done();
    assert_eq!(target_index(&watermark), Some(1));
}

#[test]
fn the_processors_own_checkpoints_may_not_pass_outstanding_records() {
    let watermark = Watermark::new(0, 3);
    let position = |index: u64| Position {
        sequence_number: (100 + index).to_string().parse().unwrap(),
        sub_sequence_number: 0,
    };
    assert_eq!(watermark.permits(None), Err(3));
    assert_eq!(watermark.permits(Some(&position(0))), Err(3));
    watermark.track(&record(0)).done();
    assert_eq!(watermark.permits(Some(&position(0))), Ok(()));
    assert_eq!(watermark.permits(Some(&position(1))), Err(2));
    watermark.track(&record(2)).done_up_to();
    assert_eq!(watermark.permits(None), Ok(()));
}

#[test]
fn waiting_ends_when_everything_is_done_or_at_the_deadline() {
    let watermark = Watermark::new(0, 2);
    let ticket = watermark.track(&record(1));
    let marker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        ticket.done_up_to();
    });
    assert!(watermark.wait_until_settled(Instant::now() + Duration::from_secs(10)));
    marker.join().unwrap();

    watermark.deliver(2, 3);
    let started = Instant::now();
    assert!(!watermark.wait_until_settled(started + Duration::from_millis(30)));
    assert!(started.elapsed() >= Duration::from_millis(30));
}

#[test]
fn the_async_wait_lets_the_runtime_run_the_tasks_that_mark_records() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let watermark = Watermark::new(0, 3);
    let tickets: Vec<Ticket> = (0..3).map(|i| watermark.track(&record(i))).collect();
    let settled = runtime.block_on(async {
        // Tasks on the same (current-thread) runtime: they run only while `settled` yields.
        for ticket in tickets {
            tokio::spawn(async move {
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                }
                ticket.done();
            });
        }
        watermark
            .settled(Instant::now() + Duration::from_secs(10))
            .await
    });
    assert!(settled);
    // With nothing to mark it, the future ends at the deadline (no timer driver needed).
    watermark.deliver(3, 4);
    let started = Instant::now();
    let settled = runtime.block_on(watermark.settled(started + Duration::from_millis(30)));
    assert!(!settled);
    assert!(started.elapsed() >= Duration::from_millis(30));
}

/// One step of an interleaving of deliveries and acknowledgements.
#[derive(Debug, Clone)]
enum Op {
    /// A batch of this many records arrives.
    Deliver(u8),
    /// The record at this position among the delivered ones (modulo their count) is done.
    Done(u16),
    /// ... it and everything before it.
    DoneUpTo(u16),
    /// The engine checkpoints now (the end of a callback).
    Checkpoint,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0u8..6).prop_map(Op::Deliver),
        6 => any::<u16>().prop_map(Op::Done),
        1 => any::<u16>().prop_map(Op::DoneUpTo),
        2 => Just(Op::Checkpoint),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn the_checkpoint_never_passes_an_unacknowledged_record(
        first_batch in 0u8..6,
        ops in proptest::collection::vec(op(), 0..60),
    ) {
        let watermark = Watermark::new(0, u64::from(first_batch));
        let mut delivered = u64::from(first_batch);
        let mut done = BTreeSet::new();
        let mut checkpointed: Option<u64> = None;
        let check = |target: Option<u64>, done: &BTreeSet<u64>| -> Result<(), TestCaseError> {
            if let Some(target) = target {
                for index in 0..=target {
                    prop_assert!(done.contains(&index), "target {} passes record {}", target, index);
                }
            }
            Ok(())
        };
        for op in ops {
            match op {
                Op::Deliver(count) => {
                    watermark.deliver(delivered, delivered + u64::from(count));
                    delivered += u64::from(count);
                }
                Op::Done(at) | Op::DoneUpTo(at) if delivered > 0 => {
                    let index = u64::from(at) % delivered;
                    let ticket = watermark.track(&record(index));
                    if matches!(op, Op::DoneUpTo(_)) {
                        ticket.done_up_to();
                        done.extend(0..=index);
                    } else {
                        ticket.done();
                        done.insert(index);
                    }
                }
                Op::Done(_) | Op::DoneUpTo(_) => {}
                Op::Checkpoint => {
                    let target = target_index(&watermark);
                    check(target, &done)?;
                    if let Some((low, _)) = watermark.target() {
                        prop_assert!(checkpointed.is_none_or(|before| low > before + 1));
                        watermark.checkpointed(low);
                        checkpointed = Some(low - 1);
                    }
                }
            }
            check(target_index(&watermark).or(checkpointed), &done)?;
            let outstanding = (0..delivered).filter(|i| !done.contains(i)).count() as u64;
            prop_assert_eq!(watermark.outstanding(), outstanding);
        }
        // Once everything delivered is done, the watermark reaches the last record.
        watermark.track(&record(delivered.saturating_sub(1))).done_up_to();
        if delivered > 0 {
            let reached = target_index(&watermark).or(checkpointed);
            prop_assert_eq!(reached, Some(delivered - 1));
        }
        prop_assert_eq!(watermark.outstanding(), 0);
    }
}
