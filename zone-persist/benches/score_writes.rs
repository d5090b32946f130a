//! Score persistence under load: can the database keep up with 1,000
//! kills a second across realms, and what does recording a kill cost the
//! zone's own loop (which never touches the disk)?

use std::collections::BTreeMap;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use zone_persist::{spawn, Persist, StatsWrite, Store};

/// One second of 1,000 kills among 400 players, as the write batch the zone
/// sends: every player touched gets its three interval maps rewritten.
fn one_second_batch() -> Vec<StatsWrite> {
    let mut touched = std::collections::BTreeSet::new();
    for k in 0..1000u32 {
        touched.insert(k % 400);
        touched.insert((k * 7 + 3) % 400);
    }
    let mut batch = Vec::new();
    for p in touched {
        let stats: BTreeMap<u16, i64> = [(0, 1000 + p as i64), (2, 10), (3, 7)]
            .into_iter()
            .collect();
        for (scope, interval) in [("(public)", 0), ("(public)", 1), ("0", 5)] {
            batch.push(StatsWrite {
                player: format!("player{p}"),
                scope: scope.to_string(),
                interval,
                stats: stats.clone(),
            });
        }
    }
    batch
}

fn database(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("zone-persist-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut store = Store::open(&dir.join("bench.db")).unwrap();
    let batch = one_second_batch();
    let mut g = c.benchmark_group("database");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("write one second of 1000 kills", |b| {
        b.iter(|| store.write(&batch).unwrap())
    });
    g.finish();
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

fn zone_side(c: &mut Criterion) {
    let (tx, _replies) = spawn(Store::in_memory().unwrap()).unwrap();
    let mut persist = Persist::new(tx);
    // Only loaded players' stats change: load (as empty) the 400 used.
    for n in 0..400 {
        persist.fill(&format!("player{n}"), "(public)", "0", Default::default());
    }
    let mut g = c.benchmark_group("zone loop");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("record 1000 kills and hand the batch over", |b| {
        b.iter_batched(
            || (),
            |_| {
                for k in 0..1000u32 {
                    let killer = format!("player{}", k % 400);
                    let killed = format!("player{}", (k * 7 + 3) % 400);
                    persist.add(&killer, "(public)", "0", 0, 10);
                    persist.add(&killer, "(public)", "0", 2, 1);
                    persist.add(&killed, "(public)", "0", 3, 1);
                }
                persist.flush();
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, database, zone_side);
criterion_main!(benches);
