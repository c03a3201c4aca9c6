//! Combinatorial purged cross-validation against a second implementation written from the
//! definition: every combination's daily returns from a plain `backtest()`, each split's train
//! days listed one by one (purge and embargo applied day by day), Sharpe ratios by two passes
//! over them. Plus the errors, thread-count independence and the CSV.

use momentum_engine::{
    Cpcv, CpcvSpec, EngineError, GridSpec, Objective, PricePanel, StrategyParams, Window, backtest,
    cpcv,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::close_to;
use crate::reference::random_panel;

#[path = "objective.rs"]
mod objective;
use objective::{metric, sharpe};

/// The splits as the definition gives them, from every combination's daily returns.
struct Definition {
    /// Each split's test groups, in lexicographic order.
    tests: Vec<Vec<usize>>,
    /// Each split's train days (a day of a train group is dropped when it lies within purge +
    /// embargo days after the last day of a test group).
    train: Vec<Vec<usize>>,
    /// The days of each group.
    groups: Vec<Vec<usize>>,
    /// `(t0, returns)` of each combination.
    runs: Vec<(usize, Vec<f64>)>,
    paths: usize,
}

impl Definition {
    fn new(panel: &PricePanel, combos: &[StrategyParams], spec: CpcvSpec, window: Window) -> Self {
        let (n, k, embargo) = (spec.groups, spec.test_groups, spec.embargo_days);
        let runs: Vec<(usize, Vec<f64>)> = combos
            .iter()
            .map(|p| {
                let run = backtest(panel, p, window).unwrap();
                (run.t0, run.returns())
            })
            .collect();
        let max_t0 = runs.iter().map(|r| r.0).max().unwrap();
        let g = (window.end - max_t0) / n;
        let first = window.end + 1 - n * g;
        let groups: Vec<Vec<usize>> = (0..n)
            .map(|j| (first + j * g..first + (j + 1) * g).collect())
            .collect();
        let purge = combos.iter().map(|p| p.holding).max().unwrap();
        let mut tests: Vec<Vec<usize>> = (0u32..(1 << n))
            .filter(|mask| mask.count_ones() as usize == k)
            .map(|mask| (0..n).filter(|j| mask >> j & 1 == 1).collect())
            .collect();
        tests.sort();
        let train = tests
            .iter()
            .map(|test| {
                (0..n)
                    .filter(|j| !test.contains(j))
                    .flat_map(|j| groups[j].clone())
                    .filter(|&u| {
                        !test.iter().any(|&j| {
                            let last = groups[j][g - 1];
                            u > last && u <= last + purge + embargo
                        })
                    })
                    .collect()
            })
            .collect();
        Self {
            tests,
            train,
            groups,
            runs,
            paths: spec.paths(),
        }
    }

    fn sharpe_on(&self, c: usize, days: impl Iterator<Item = usize>) -> f64 {
        let (t0, returns) = &self.runs[c];
        sharpe(&days.map(|u| returns[u - 1 - t0]).collect::<Vec<_>>())
    }

    /// Every combination's Sharpe ratio on the train days of split `i`.
    fn train_sharpes(&self, i: usize) -> Vec<f64> {
        self.train_objectives(i, Objective::Sharpe)
    }

    /// Every combination's `objective` on the train days of split `i`, in day order.
    fn train_objectives(&self, i: usize, objective: Objective) -> Vec<f64> {
        self.runs
            .iter()
            .map(|(t0, returns)| {
                let days: Vec<f64> = self.train[i].iter().map(|u| returns[u - 1 - t0]).collect();
                metric(objective, &days)
            })
            .collect()
    }

    /// The Sharpe ratio of combination `c` on the test groups of split `i`.
    fn test_sharpe(&self, i: usize, c: usize) -> f64 {
        let days = self.tests[i].iter().flat_map(|&j| self.groups[j].clone());
        self.sharpe_on(c, days)
    }

    /// The Sharpe ratio of every path when split `i` selected `selected[i]`: path `p` takes
    /// group `j` from the `p`-th split testing it.
    fn path_sharpes(&self, selected: &[usize]) -> Vec<f64> {
        (0..self.paths)
            .map(|p| {
                let returns: Vec<f64> = (0..self.groups.len())
                    .flat_map(|j| {
                        let i = (0..self.tests.len())
                            .filter(|&i| self.tests[i].contains(&j))
                            .nth(p)
                            .unwrap();
                        let (t0, returns) = &self.runs[selected[i]];
                        self.groups[j].iter().map(move |u| returns[u - 1 - t0])
                    })
                    .collect();
                sharpe(&returns)
            })
            .collect()
    }
}

/// A CPCV of a random number of `groups` and of embargo days, testing from one group to all
/// but one.
fn random_spec(
    rng: &mut StdRng,
    groups: std::ops::Range<usize>,
    embargo: std::ops::Range<usize>,
) -> CpcvSpec {
    let (groups, embargo_days) = (rng.random_range(groups), rng.random_range(embargo));
    CpcvSpec {
        groups,
        test_groups: rng.random_range(1..groups),
        embargo_days,
    }
}

#[test]
fn cpcv_matches_its_definition_on_random_panels() {
    let mut rng = StdRng::seed_from_u64(20);
    let mut ties = 0;
    for case in 0..12 {
        let days = rng.random_range(150..260);
        let tickers = rng.random_range(3..8);
        let (_, panel) = random_panel(&mut rng, days, tickers, 0.0);
        let grid = GridSpec {
            lookback: vec![3, rng.random_range(5..15), 20],
            skip: vec![0, 2],
            holding: vec![1, rng.random_range(2..6), rng.random_range(6..10)],
            top_k: vec![1, 2, 4],
        };
        let spec = random_spec(&mut rng, 3..7, 0..4);
        let window = Window {
            start: rng.random_range(0..25),
            end: days - 1 - rng.random_range(0..10),
        };
        let ctx = format!("case {case}: {spec:?} {window:?}");
        let cost = 15.0;
        let got = cpcv(
            &panel,
            (&grid, Objective::Sharpe, cost),
            spec,
            window,
            &|_| {},
        )
        .unwrap_or_else(|err| panic!("{ctx}: {err}"));
        let (combos, _) = grid.combinations(cost).unwrap();
        let want = Definition::new(&panel, &combos, spec, window);
        assert_eq!(got.splits.len(), want.tests.len(), "{ctx}");
        for (i, split) in got.splits.iter().enumerate() {
            let ctx = format!("{ctx}, split {i}");
            assert_eq!(split.test_groups, want.tests[i], "{ctx}");
            assert_eq!(split.train_days, want.train[i].len(), "{ctx}");
            // The best train Sharpe ratio, on the earliest combination that has it; two
            // combinations with the same returns on the train days (a skip that changes no
            // selection there) may differ in the last bits, and either may come first.
            let sharpes = want.train_sharpes(i);
            let max = sharpes.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let c = split.combination;
            assert!(close_to(sharpes[c], max, 1e-9), "{ctx}: {c} {sharpes:?}");
            let first = sharpes
                .iter()
                .position(|&s| close_to(s, max, 1e-9))
                .unwrap();
            ties += usize::from(c != first);
            assert_eq!(split.params, combos[c], "{ctx}");
            assert!(close_to(split.train_sharpe, sharpes[c], 1e-9), "{ctx}");
            assert!(
                close_to(split.test_sharpe, want.test_sharpe(i, c), 1e-9),
                "{ctx}"
            );
        }
        let selected: Vec<usize> = got.splits.iter().map(|s| s.combination).collect();
        let paths = want.path_sharpes(&selected);
        assert_eq!(got.path_sharpes.len(), spec.paths(), "{ctx}");
        for (a, b) in got.path_sharpes.iter().zip(&paths) {
            assert!(close_to(*a, *b, 1e-9), "{ctx}: path {a} vs {b}");
        }
        assert_eq!(got.purge_days, *grid.holding.iter().max().unwrap(), "{ctx}");
        assert_eq!(got.trials, combos.len());
    }
    // Rounding decided a tie in few splits, if any.
    assert!(ties <= 3, "{ties}");
}

#[test]
fn every_split_selects_by_the_grids_objective() {
    // As `cpcv_matches_its_definition_on_random_panels`, by each objective other than the
    // Sharpe ratio: the selection of every split is the best of the objective on its train
    // days (chained in day order), and it is another than the Sharpe ratio's somewhere.
    let mut rng = StdRng::seed_from_u64(21);
    let (mut ties, mut differs) = (0, 0);
    for case in 0..6 {
        let (days, tickers) = (rng.random_range(180..260), rng.random_range(4..8));
        let (_, panel) = random_panel(&mut rng, days, tickers, 0.0);
        let grid = GridSpec {
            lookback: vec![3, rng.random_range(5..15), 20],
            skip: vec![0, 2],
            holding: vec![1, rng.random_range(2..6)],
            top_k: vec![1, 2, 3],
        };
        let spec = random_spec(&mut rng, 3..6, 0..3);
        // The window cut at both ends in every other case: the blocks are cut from each run's
        // curve at the window's offsets.
        let window = if case % 2 == 0 {
            Window::full(days)
        } else {
            Window {
                start: rng.random_range(1..25),
                end: days - 1 - rng.random_range(1..10),
            }
        };
        let (combos, _) = grid.combinations(15.0).unwrap();
        let want = Definition::new(&panel, &combos, spec, window);
        let run = |objective| {
            cpcv(&panel, (&grid, objective, 15.0), spec, window, &|_| {})
                .unwrap_or_else(|err| panic!("case {case}: {err}"))
        };
        let by_sharpe = run(Objective::Sharpe);
        for objective in [Objective::Sortino, Objective::TotalRoi, Objective::Calmar] {
            let got = run(objective);
            assert_eq!(got.objective, objective);
            for (i, split) in got.splits.iter().enumerate() {
                let ctx = format!("case {case} {objective}: {spec:?}, split {i}");
                let values = want.train_objectives(i, objective);
                let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let c = split.combination;
                assert!(close_to(values[c], max, 1e-9), "{ctx}: {c} {values:?}");
                ties += usize::from(values.iter().position(|&v| close_to(v, max, 1e-9)) != Some(c));
                assert!(close_to(split.train_objective, values[c], 1e-9), "{ctx}");
                // The Sharpe ratios reported are still the selection's.
                let sharpes = want.train_sharpes(i);
                assert!(close_to(split.train_sharpe, sharpes[c], 1e-9), "{ctx}");
                assert!(
                    close_to(split.test_sharpe, want.test_sharpe(i, c), 1e-9),
                    "{ctx}"
                );
                differs += usize::from(c != by_sharpe.splits[i].combination);
            }
            let selected: Vec<usize> = got.splits.iter().map(|s| s.combination).collect();
            for (a, b) in got.path_sharpes.iter().zip(want.path_sharpes(&selected)) {
                assert!(
                    close_to(*a, b, 1e-9),
                    "case {case} {objective}: path {a} vs {b}"
                );
            }
        }
    }
    assert!(ties <= 3, "{ties}");
    assert!(
        differs > 0,
        "no split selected otherwise than by the Sharpe ratio"
    );
}

/// A 120-day random panel and a grid of holdings up to 5.
fn small() -> (PricePanel, GridSpec) {
    let (_, panel) = random_panel(&mut StdRng::seed_from_u64(7), 120, 5, 0.0);
    let grid = GridSpec {
        lookback: vec![5, 10],
        skip: vec![0],
        holding: vec![2, 5],
        top_k: vec![1, 2],
    };
    (panel, grid)
}

fn run(spec: CpcvSpec, window: Window) -> Result<Cpcv, EngineError> {
    let (panel, grid) = small();
    cpcv(
        &panel,
        (&grid, Objective::Sharpe, 10.0),
        spec,
        window,
        &|_| {},
    )
}

#[test]
fn a_bad_schedule_is_an_error_naming_its_key() {
    let full = Window::full(120);
    let spec = |groups, test_groups, embargo_days| CpcvSpec {
        groups,
        test_groups,
        embargo_days,
    };
    // 120 days after t0 = 10: 109 returns, 10 groups of 10 days, 4 groups of 27.
    for (bad, window, message) in [
        (
            spec(1, 1, 0),
            full,
            "invalid cpcv.groups = 1: must be at least 2",
        ),
        (
            spec(4, 0, 0),
            full,
            "invalid cpcv.test_groups = 0: must be at least 1",
        ),
        (
            spec(4, 4, 0),
            full,
            "invalid cpcv.test_groups = 4: must be fewer than cpcv.groups",
        ),
        (
            spec(20, 10, 0),
            full,
            "invalid cpcv.test_groups = 10: gives more than 12870 splits C(groups, test_groups)",
        ),
        (
            spec(10, 2, 11),
            full,
            "invalid cpcv.embargo_days = 11: is longer than a group of the evaluation window",
        ),
        // 10-day groups cannot hold a purge of 5 days, an embargo of 4 and two more days.
        (
            spec(10, 2, 4),
            full,
            "invalid cpcv.groups = 10: leaves groups too short for the evaluation window: each \
             needs the grid's largest holding + embargo_days + 2 days",
        ),
        (
            spec(4, 2, 0),
            Window { start: 0, end: 15 },
            "invalid cpcv.groups = 4: leaves groups too short for the evaluation window: each \
             needs the grid's largest holding + embargo_days + 2 days",
        ),
    ] {
        let err = run(bad, window).unwrap_err();
        assert!(
            matches!(err, EngineError::InvalidParameter { .. }),
            "{bad:?}"
        );
        assert_eq!(err.to_string(), message);
    }
    // The limits themselves: 10-day groups hold a purge of 5, an embargo of 3 and 2 days; an
    // embargo of a whole 27-day group (4 groups) is not too long, but leaves no train day
    // after the purge; one of 20 days leaves 2.
    assert!(run(spec(10, 2, 3), full).is_ok());
    assert!(run(spec(10, 9, 3), full).is_ok());
    assert!(run(spec(4, 2, 27), full).is_err());
    assert!(run(spec(4, 2, 20), full).is_ok());
    // A window the lookback does not fit is the grid's error.
    assert!(matches!(
        run(CpcvSpec::default(), Window { start: 0, end: 9 }),
        Err(EngineError::WindowTooShort { lookback: 10, .. })
    ));
}

#[test]
fn cpcv_is_identical_with_one_and_two_threads() {
    let (_, panel) = random_panel(&mut StdRng::seed_from_u64(11), 300, 8, 0.0);
    let grid = GridSpec {
        lookback: vec![5, 10, 20, 40],
        skip: vec![0, 2],
        holding: vec![1, 3, 5, 10],
        top_k: vec![1, 2, 3],
    };
    let spec = CpcvSpec {
        groups: 6,
        test_groups: 2,
        embargo_days: 3,
    };
    // The shared simulation's sums (sharpe) and the recorded runs' blocks (calmar).
    for objective in [Objective::Sharpe, Objective::Calmar] {
        let run = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    cpcv(
                        &panel,
                        (&grid, objective, 10.0),
                        spec,
                        Window::full(300),
                        &|_| {},
                    )
                    .unwrap()
                })
        };
        let (one, two) = (run(1), run(2));
        assert_eq!(one, two, "{objective}");
        let bits = |c: &Cpcv| {
            c.path_sharpes
                .iter()
                .map(|x| x.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&one), bits(&two), "{objective}");
        assert_eq!((one.splits.len(), one.path_sharpes.len()), (15, 5));
        assert_eq!(one.objective, objective);
    }
}

#[test]
fn the_csv_has_a_row_per_split_and_the_json_the_summary() {
    let spec = CpcvSpec {
        groups: 4,
        test_groups: 2,
        embargo_days: 1,
    };
    let result = run(spec, Window::full(120)).unwrap();
    let mut csv = Vec::new();
    result.write_csv(&mut csv).unwrap();
    let text = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "split,test_groups,paths,combination,lookback,skip,holding,top_k,cost_bps,train_days,\
         train_sharpe,test_sharpe,train_objective"
    );
    assert_eq!(lines.len(), 7);
    // 109 returns, 4 groups of 27 from day 12; purge 5 and embargo 1 after each test group.
    let s = &result.splits[0];
    assert_eq!(
        (s.test_groups.as_slice(), s.paths.as_slice()),
        (&[0, 1][..], &[0, 0][..])
    );
    assert_eq!(s.train_days, 27 - 6 + 27);
    let p = s.params;
    assert_eq!(
        lines[1],
        format!(
            "0,0 1,0 0,{},{},{},{},{},10,48,{},{},{}",
            s.combination,
            p.lookback,
            p.skip,
            p.holding,
            p.top_k,
            s.train_sharpe,
            s.test_sharpe,
            s.train_objective
        )
    );
    assert!(lines[6].starts_with("5,2 3,2 2,"));
    assert_eq!(
        result.first_day,
        chrono::NaiveDate::from_ymd_opt(2020, 1, 13).unwrap()
    );
    assert_eq!(result.group_days, 27);

    // metrics.json keeps the summary and the paths' Sharpe ratios, not the splits.
    let json = serde_json::to_value(&result).unwrap();
    assert_eq!(json["spec"]["groups"], 4);
    assert_eq!(json["path_sharpes"].as_array().unwrap().len(), 3);
    assert!(json["paths"]["q50"].is_number() && json.get("splits").is_none());
    let back: Cpcv = serde_json::from_value(json).unwrap();
    assert_eq!(
        back,
        Cpcv {
            splits: Vec::new(),
            ..result.clone()
        }
    );
    assert!(matches!(
        back.write_csv(Vec::new()),
        Err(EngineError::NotRecorded)
    ));
}
