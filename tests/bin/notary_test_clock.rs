//! `notary-test-clock`: the real notary, serving on a clock the test sets.
//! For the end-to-end tests only: it is built with the tests, never with
//! the notary, so no release build of `notary` can be given a clock.
//!
//! `notary-test-clock DATA START_MS [CALENDAR_DIR]` serves the data
//! directory on 127.0.0.1 (a free port), its clock at `START_MS`. Each line
//! `MS` on standard input sets the clock (it only moves forward) and is
//! answered `clock MS` on standard output once set.

use std::io::BufRead as _;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;

use notary::clock::TimeSource;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (data, start) = match &args[1..] {
        [data, start, ..] => (data.clone(), start.parse::<u64>()?),
        _ => anyhow::bail!("usage: notary-test-clock DATA START_MS [CALENDAR_DIR]"),
    };
    let calendar = match args.get(3) {
        Some(dir) => ledger::calendar::Calendar::with_dir(std::path::Path::new(dir))?,
        None => ledger::calendar::Calendar::built_in(),
    };
    let clock = Arc::new(AtomicU64::new(start));
    let set = clock.clone();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(ms) = line.map(|l| l.trim().parse::<u64>()) else {
                return;
            };
            if let Ok(ms) = ms {
                set.fetch_max(ms, SeqCst);
                println!("clock {}", set.load(SeqCst));
            }
        }
    });
    let config = notary::ingest::IngestConfig {
        time: TimeSource::Set(clock),
        ..Default::default()
    };
    let reads = notary::ReadOptions {
        public_authority: None,
        calendar,
        settings: ledger::findings::Settings::default(),
        witness_policy: None,
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(notary::serve(
            std::path::Path::new(&data),
            "127.0.0.1:0".parse()?,
            config,
            notary::server::Limits::default(),
            reads,
        ))
}
