//! The grid search sharded and merged through the real binary on the sample: `--shard I/N`
//! (and `auto/N` as a Kubernetes Indexed Job runs it) then `--merge` writes the unsharded
//! backtest's files byte for byte; the merge refuses, naming the file, every shard that does
//! not belong, and writes nothing then.

#[allow(dead_code)]
mod common;

use std::path::Path;

use common::{command, fails, momentum, ok, sample_project as project};

/// What a backtest writes, by name.
const OUTPUTS: [&str; 10] = [
    "reports/metrics.json",
    "reports/grid.csv",
    "reports/trades.csv",
    "reports/equity_curve.csv",
    "reports/equity_curve.png",
    "reports/report.html",
    "reports/walk_forward.csv",
    "reports/walk_forward.png",
    "reports/cpcv.csv",
    "models/candidate.json",
];

fn outputs(root: &Path) -> Vec<Vec<u8>> {
    OUTPUTS
        .iter()
        .map(|name| std::fs::read(root.join(name)).unwrap_or_else(|_| panic!("{name}")))
        .collect()
}

/// Shard `index` of `count` into `dir`, the index from JOB_COMPLETION_INDEX as a Kubernetes
/// Indexed Job gives it.
fn indexed_job(root: &Path, index: usize, count: usize, dir: &str) {
    let auto = format!("auto/{count}");
    let out = command(
        root,
        None,
        &["backtest", "--shard", &auto, "--shard-out", dir],
    )
    .env("JOB_COMPLETION_INDEX", index.to_string())
    .output()
    .unwrap();
    ok(out);
}

#[test]
fn sharded_and_merged_the_sample_writes_the_unsharded_files_byte_for_byte() {
    let root = project();
    let root = root.path();
    ok(momentum(
        root,
        None,
        &["backtest", "--no-track", "--reproducible"],
    ));
    let whole = outputs(root);
    for count in [1, 3, 7] {
        for name in OUTPUTS {
            std::fs::remove_file(root.join(name)).unwrap();
        }
        let dir = format!("shards-{count}");
        for index in 0..count {
            indexed_job(root, index, count, &dir);
        }
        // A shard run writes its file and nothing else.
        assert!(!root.join("reports/metrics.json").exists());
        let files = std::fs::read_dir(root.join(&dir)).unwrap().count();
        assert_eq!(files, count);
        let merge = ["backtest", "--merge", &dir, "--no-track", "--reproducible"];
        ok(momentum(root, None, &merge));
        for (name, (got, want)) in OUTPUTS.iter().zip(outputs(root).iter().zip(&whole)) {
            assert!(got == want, "{name} differs with {count} shards");
        }
    }
    // A merged run is tracked like any other.
    ok(momentum(root, None, &["backtest", "--merge", "shards-3"]));
    let list = ok(momentum(root, None, &["runs", "list", "--top-level"]));
    assert_eq!(list.lines().count(), 2, "{list}");
}

#[test]
fn a_shard_that_does_not_belong_is_refused_by_name_and_nothing_is_written() {
    let root = project();
    let root = root.path();
    for index in 0..3 {
        indexed_job(root, index, 3, "shards");
    }
    let merge = ["backtest", "--merge", "shards", "--no-track"];
    let refused = |message: &str| {
        fails(momentum(root, None, &merge), message);
        assert!(!root.join("reports").exists() && !root.join("models").exists());
    };
    let shard = |i: usize| root.join(format!("shards/shard-{i}-of-3.shard"));
    let keep = std::fs::read(shard(1)).unwrap();

    // Missing, truncated, foreign, corrupt.
    std::fs::remove_file(shard(1)).unwrap();
    refused("the shards in shards: shard 1/3 is missing (2 of 3 found)");
    std::fs::write(shard(1), &keep[..keep.len() - 10]).unwrap();
    refused("shard file shards/shard-1-of-3.shard: ");
    refused("truncated");
    std::fs::write(shard(1), b"lookback,skip\n20,0\n").unwrap();
    refused("shard-1-of-3.shard: not a momentum shard file");
    let mut flipped = keep.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    std::fs::write(shard(1), &flipped).unwrap();
    refused("shard-1-of-3.shard: its sha256 does not match");
    std::fs::write(shard(1), &keep).unwrap();

    // A second copy of a shard under another name.
    std::fs::write(root.join("shards/copy.shard"), &keep).unwrap();
    refused("shards/shard-1-of-3.shard: is shard 1/3, as shards/copy.shard is");
    std::fs::remove_file(root.join("shards/copy.shard")).unwrap();

    // Evaluated with other parameters: the merge's flags differ.
    fails(
        momentum(root, None, &[&merge[..], &["--cost-bps", "5"]].concat()),
        "evaluated with another backtest block: backtest.cost_bps = 10.0 there, 5.0 in this \
         merge (params.yaml or the flags differ from this merge's)",
    );
    // A shard of another cut.
    ok(command(
        root,
        None,
        &["backtest", "--shard", "1/2", "--shard-out", "other"],
    )
    .output()
    .unwrap());
    std::fs::copy(
        root.join("other/shard-1-of-2.shard"),
        root.join("shards/x.shard"),
    )
    .unwrap();
    refused("is shard 1/2 but");
    std::fs::remove_file(root.join("shards/x.shard")).unwrap();

    // On other prices: the sample without its last month.
    let fewer = [
        "fetch",
        "--end",
        "2022-11-30",
        "--out",
        "fewer/prices.parquet",
    ];
    ok(momentum(root, None, &fewer));
    let shard0 = [
        "backtest",
        "--shard",
        "0/3",
        "--shard-out",
        "elsewhere",
        "--prices",
        "fewer/prices.parquet",
    ];
    ok(momentum(root, None, &shard0));
    std::fs::copy(root.join("elsewhere/shard-0-of-3.shard"), shard(0)).unwrap();
    refused("shard-0-of-3.shard: evaluated on other prices (data digest ");

    // No shard at all, and a bad --shard.
    std::fs::create_dir(root.join("empty")).unwrap();
    fails(
        momentum(root, None, &["backtest", "--merge", "empty", "--no-track"]),
        "the shards in empty: no shard file (*.shard)",
    );
    fails(
        momentum(
            root,
            None,
            &["backtest", "--shard", "3/3", "--shard-out", "x"],
        ),
        "--shard 3/3",
    );
    fails(
        momentum(
            root,
            None,
            &["backtest", "--shard", "0/99999", "--shard-out", "x"],
        ),
        "error: invalid --shard 0/99999: more shards than combinations in the grid",
    );
    let unset = command(
        root,
        None,
        &["backtest", "--shard", "auto/3", "--shard-out", "x"],
    )
    .env_remove("JOB_COMPLETION_INDEX")
    .output()
    .unwrap();
    fails(unset, "JOB_COMPLETION_INDEX is not set");
}
