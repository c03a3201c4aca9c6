//! The grid search cut into shards and merged back: the same experiment, value for value and
//! file for file, whatever the cut; shard files that cannot be merged are refused.

use momentum_engine::{
    CpcvSpec, EngineError, Experiment, ExperimentSpec, GridShard, GridSpec, Objective, PricePanel,
    Provenance, Shard, WalkForwardSpec, evaluate_shard, merge_shards, run_experiment,
};
use std::io::{Seek, Write};

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::reference::random_panel;

/// 400 days of 8 tickers; a grid of 3 lookbacks x 2 skips x 3 holdings x 3 sizes (one
/// `(lookback, skip)` left out), with a split, a walk-forward and a CPCV.
fn setup(seed: u64) -> (PricePanel, ExperimentSpec) {
    let mut rng = StdRng::seed_from_u64(seed);
    let (_, panel) = random_panel(&mut rng, 400, 8, 0.01);
    let spec = ExperimentSpec {
        train_fraction: Some(0.7),
        objective: Objective::Sharpe,
        cost_bps: 10.0,
        pbo_blocks: 8,
        grid: GridSpec {
            lookback: vec![5, 20, 2],
            skip: vec![0, 2],
            holding: vec![1, 5, 10],
            top_k: vec![1, 3, 9],
        },
        max_combinations: 1000,
        walk_forward: Some(WalkForwardSpec {
            train_days: 120,
            test_days: 60,
            anchored: false,
        }),
        cpcv: Some(CpcvSpec {
            groups: 6,
            test_groups: 2,
            embargo_days: 2,
        }),
        ..Default::default()
    };
    (panel, spec)
}

fn provenance(spec: &ExperimentSpec) -> Provenance {
    Provenance {
        spec: spec.clone(),
        data_digest: Some("abc".into()),
        code: "test".into(),
    }
}

/// Every shard of `count`, each written and read back: from bytes (its rows copied), or, every
/// other shard, from a file whose rows stay where they are (`read_file`).
fn shards(panel: &PricePanel, spec: &ExperimentSpec, count: usize) -> Vec<GridShard> {
    (0..count)
        .map(|index| {
            let shard = Shard::new(index, count).unwrap();
            let part = evaluate_shard(panel, spec, (shard, provenance(spec)), &|_| {}).unwrap();
            let mut bytes = Vec::new();
            part.write(&mut bytes).unwrap();
            if index % 2 == 1 {
                return read_file(&bytes).unwrap();
            }
            GridShard::read(bytes.as_slice(), bytes.len() as u64).unwrap()
        })
        .collect()
}

/// `bytes` through a temporary file and [`GridShard::read_file`].
fn read_file(bytes: &[u8]) -> Result<GridShard, EngineError> {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(bytes).unwrap();
    file.seek(std::io::SeekFrom::Start(0)).unwrap();
    GridShard::read_file(file)
}

/// Every file the experiment writes, as bytes.
fn files(e: &Experiment) -> Vec<Vec<u8>> {
    let mut out = vec![Vec::new(); 6];
    e.write_metrics_json(&mut out[0]).unwrap();
    e.write_grid_csv(&mut out[1]).unwrap();
    e.write_trades_csv(&mut out[2]).unwrap();
    e.write_equity_csv(&mut out[3]).unwrap();
    e.write_walk_forward_csv(&mut out[4]).unwrap();
    e.cpcv.as_ref().unwrap().write_csv(&mut out[5]).unwrap();
    out
}

#[test]
fn any_cut_merges_into_the_unsharded_experiment() {
    // Calmar: CPCV's splits select from each combination's recorded run, not the sums.
    for (seed, objective) in [(1, Objective::Sharpe), (7, Objective::Calmar)] {
        let (panel, spec) = setup(seed);
        let spec = ExperimentSpec { objective, ..spec };
        let whole = run_experiment(&panel, &spec, Some("abc".into()), &|_| {}).unwrap();
        let trials = whole.selection.trials;
        assert_eq!(trials, 3 * 2 * 3 * 3 - 9);
        // 5 groups: cuts of whole groups, of holding periods (6 to 15 shards) and of single
        // combinations (16 and more), up to one combination a shard.
        for count in [1, 2, 3, 5, 7, 15, 16, trials] {
            let mut parts = shards(&panel, &spec, count);
            // Contiguous, in order, none empty.
            let mut next = 0;
            for part in &parts {
                assert_eq!(part.first, next, "seed {seed}, {count} shards");
                assert!(!part.rows.is_empty());
                next += part.rows.len();
            }
            assert_eq!(next, trials);
            // The order they arrive in does not matter.
            parts.reverse();
            let merged = merge_shards(&panel, &spec, Some("abc".into()), parts).unwrap();
            // (Compared as files: NaN metrics, of the ticker closes of 0, are unequal to
            // themselves.)
            assert!(
                files(&merged) == files(&whole),
                "seed {seed}, {count} shards"
            );
            assert_eq!(
                (merged.grid_rank, merged.params),
                (whole.grid_rank, whole.params)
            );
        }
    }
}

#[test]
fn whole_groups_are_balanced_by_work() {
    let (panel, spec) = setup(3);
    // Lookbacks 5, 20 and 2 with skips 0 and 2 (lookback 2, skip 2 left out): 5 groups of 9.
    let sizes: Vec<usize> = shards(&panel, &spec, 2)
        .iter()
        .map(|s| s.rows.len())
        .collect();
    // A group weighs its 9 combinations times its simulated days, fewer for a longer lookback
    // (lookbacks 5, 5, 20, 20, 2 in grid order): the even cut falls in the third group, nearer
    // its start than its end, so the first shard takes two groups.
    assert_eq!(sizes, [18, 27]);
    let sizes: Vec<usize> = shards(&panel, &spec, 5)
        .iter()
        .map(|s| s.rows.len())
        .collect();
    assert_eq!(sizes, [9; 5]);
}

#[test]
fn shards_that_do_not_make_up_the_grid_are_refused() {
    let (panel, spec) = setup(5);
    let refused = |parts: Vec<GridShard>| match merge_shards(&panel, &spec, None, parts) {
        Err(EngineError::Shards { reason }) => reason,
        other => panic!("{other:?}"),
    };
    // A missing shard.
    let mut parts = shards(&panel, &spec, 3);
    parts.remove(1);
    assert_eq!(refused(parts), "shard 1/3 is missing");
    // A duplicate.
    let mut parts = shards(&panel, &spec, 3);
    parts[2] = parts[1].clone();
    assert_eq!(refused(parts), "shard 1/3 is there twice");
    // Shards of two cuts.
    let mut parts = shards(&panel, &spec, 2);
    parts[1] = shards(&panel, &spec, 3).remove(1);
    assert_eq!(refused(parts), "shards of two cuts: 0/2 and 1/3");
    // None.
    assert!(refused(Vec::new()).contains("hold 0 of the grid's 45 combinations"));
    // More shards than combinations.
    let too_many = Shard::new(0, 1000).unwrap();
    assert!(matches!(
        evaluate_shard(&panel, &spec, (too_many, provenance(&spec)), &|_| {}),
        Err(EngineError::InvalidParameter { name: "shard", .. })
    ));
}

#[test]
fn a_truncated_corrupt_or_foreign_file_is_refused() {
    let (panel, spec) = setup(9);
    let shard = Shard::new(1, 3).unwrap();
    let part = evaluate_shard(&panel, &spec, (shard, provenance(&spec)), &|_| {}).unwrap();
    let mut bytes = Vec::new();
    part.write(&mut bytes).unwrap();
    // Both readers refuse the same files for the same reasons.
    let read = |bytes: &[u8]| {
        let reason = |read: Result<GridShard, EngineError>| match read {
            Err(EngineError::ShardFile { reason }) => reason,
            other => panic!("{other:?}"),
        };
        let copied = reason(GridShard::read(bytes, bytes.len() as u64));
        assert_eq!(reason(read_file(bytes)), copied);
        copied
    };
    assert!(read(&bytes[..bytes.len() - 1]).contains("truncated"));
    assert!(read(&bytes[..40]).contains("truncated") || read(&bytes[..40]).contains("header"));
    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 1;
    assert!(read(&flipped).contains("corrupt"));
    assert!(read(b"date,AAPL\n2024-01-02,1\n").contains("not a momentum shard file"));
    // A shard of another format (format 1 kept two words a CPCV block) is named as such.
    assert!(bytes.starts_with(b"MOMENTUM-SHARD 2\n"));
    let mut older = bytes.clone();
    older[15] = b'1';
    assert_eq!(
        read(&older),
        "a shard of format 1, and this momentum reads format 2: evaluate the shard again with \
         this version"
    );
    assert!(read(b"").contains("too short"));
    // Intact, it reads back as written, by either reader.
    for back in [
        GridShard::read(bytes.as_slice(), bytes.len() as u64).unwrap(),
        read_file(&bytes).unwrap(),
    ] {
        let mut again = Vec::new();
        back.write(&mut again).unwrap();
        assert!(again == bytes);
        assert_eq!(back.provenance, provenance(&spec));
        assert!(back.rows == part.rows);
    }
}

/// `bytes` (a shard file) with its header line passed through `edit` and its sha256 computed
/// again: a file that only its header can give away.
fn with_header(bytes: &[u8], edit: impl Fn(&str) -> String) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let magic = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    let header_end = magic + bytes[magic..].iter().position(|&b| b == b'\n').unwrap();
    let header = std::str::from_utf8(&bytes[magic..header_end]).unwrap();
    let mut out = bytes[..magic].to_vec();
    out.extend_from_slice(edit(header).as_bytes());
    out.extend_from_slice(&bytes[header_end..bytes.len() - 32]);
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    out
}

#[test]
fn a_header_that_lies_is_refused_without_a_panic() {
    let (panel, spec) = setup(11);
    let shard = Shard::new(0, 2).unwrap();
    let part = evaluate_shard(&panel, &spec, (shard, provenance(&spec)), &|_| {}).unwrap();
    let mut bytes = Vec::new();
    part.write(&mut bytes).unwrap();
    let rows = format!("\"rows\":{}", part.rows.len());
    let cases = [
        (
            rows.clone(),
            "\"rows\":18446744073709551615".to_owned(),
            "truncated or extended",
        ),
        (rows, "\"rows\":0".to_owned(), "truncated or extended"),
        (
            "\"index\":0".to_owned(),
            "\"index\":5".to_owned(),
            "must be I/N with 0 <= I < N",
        ),
        (
            "\"folds\":".to_owned(),
            "\"folds\":1".to_owned(),
            "truncated or extended",
        ),
    ];
    for (from, to, message) in cases {
        let lying = with_header(&bytes, |header| header.replacen(&from, &to, 1));
        assert_ne!(lying, bytes, "{to}");
        match GridShard::read(lying.as_slice(), lying.len() as u64) {
            Err(EngineError::ShardFile { reason }) => assert!(reason.contains(message), "{reason}"),
            other => panic!("{to}: {other:?}"),
        }
    }
    // A shard whose selections do not cover its rows: its first row moved.
    let first = format!("\"first\":{}", part.first);
    let moved = with_header(&bytes, |header| header.replacen(&first, "\"first\":1", 1));
    let moved = GridShard::read(moved.as_slice(), moved.len() as u64).unwrap();
    let other = Shard::new(1, 2).unwrap();
    let rest = evaluate_shard(&panel, &spec, (other, provenance(&spec)), &|_| {}).unwrap();
    assert!(matches!(
        merge_shards(&panel, &spec, None, vec![moved, rest]),
        Err(EngineError::Shards { .. })
    ));
}
