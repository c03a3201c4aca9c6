//! The A/B comparison statistics (issue #23) pinned against the independent numpy
//! implementation in `tests/reference/ab_reference.py` (re-run it to regenerate every literal
//! below), a hand-computed four-day example, the refusals of bad input, determinism across
//! thread counts, and the bootstrap interval's coverage on simulated pairs of equal Sharpe
//! ratio.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use momentum_engine::{
    Arm, ComparisonSpec, EngineError, PairedReturns, compare, diebold_mariano, newey_west_lag,
    sharpe_difference_bootstrap, sharpe_difference_hac,
};

// Printed by ab_reference.py: 120 days of a champion and a challenger with a common factor,
// AR(1) noise (phi 0.4 and 0.2) and different means, from SplitMix64 + Box-Muller, rounded to
// 8 decimals.
#[rustfmt::skip]
const CHAMPION: [f64; 120] = [0.00853703, 0.01482932, 0.00715743, -0.01633104, -0.00363757, -0.02185504, -0.00356896, 0.01057205, -0.00403113, -0.00450789, 0.00352954, -0.0228696, -0.00668923, -0.002358, 0.01183174, -0.01174818, -0.0057537, -0.0070729, 0.01019692, -0.00950617, 0.00600706, -0.00462121, 0.00713691, -0.00326544, -0.00139663, 0.01879838, 0.00553584, 0.00486905, 0.01058726, 0.00623353, -0.01085765, -0.01181227, 0.01920943, -0.00324389, 0.01001553, 0.00506357, -0.00257829, -0.00539535, 0.0036926, 0.00414335, -0.01060884, 0.00666921, 0.00080331, 0.03037021, 0.01264343, 0.01130784, 0.02747129, 0.00792907, 0.00516152, -0.00405469, -0.00732813, -0.00299662, -0.00619126, 0.01325187, -0.00077243, -0.00649976, 0.0115968, 0.01687687, 0.00466276, 0.02087547, -0.00291938, 0.01501063, -0.00243275, 0.00212817, -0.00799239, -0.00514981, -0.01082237, 0.0020816, -0.0127756, -0.01142291, -0.0097895, -0.00190803, 0.00231603, -0.01239863, -0.00346488, 0.02149653, 0.01405691, -0.00884976, -0.00538218, 0.00911061, 0.00497642, -0.00957885, 0.01026863, -0.00182731, -0.00656816, -0.01578796, 0.01678199, -0.0042973, -0.01240639, -0.00350531, -0.00804887, -0.00484682, 0.0158603, -0.00255864, 0.02461977, -0.01031327, -0.00045447, -0.01215316, -0.01196569, -0.00600267, -0.00591114, -0.00403304, -0.00790744, -0.0016461, 0.00162864, -0.00101536, -0.0043058, -0.00216724, -0.00028537, 0.0183163, 0.01038394, 0.01697713, -0.01647464, -0.00474808, 0.00567995, -0.01730306, -0.00206038, 0.00658799, 0.00773732, 0.02631545];
#[rustfmt::skip]
const CHALLENGER: [f64; 120] = [0.00392656, 0.00950782, 0.00106092, -0.00700497, -0.0041216, -0.01609966, 0.01146359, 0.00759728, 0.01279038, -0.01208114, 0.01188584, -0.00831209, 0.00088026, 0.00781629, -0.00325746, 0.00662965, -0.00991624, 0.00447849, 0.00733379, -0.00680096, 0.01535898, 4.277e-05, 0.00633939, -0.02115003, -0.0087432, 0.03025544, 0.02183618, -0.02331488, -0.01441294, 0.01242274, -0.01887111, -0.00731387, 0.00932616, 0.00098962, -0.00684028, 0.01728439, 0.02230788, 0.00431043, 0.01491686, 0.00232076, 0.01243885, -0.00658389, -0.00488997, -0.0021343, 0.00175845, -0.00854062, -0.00935438, 0.01630592, -0.00444044, 0.00529083, -0.01927056, 0.00523654, 0.01191067, 0.01681607, 0.00311489, -0.00230796, 0.00656387, -0.00424408, 0.00099253, -0.00382934, 0.00672886, -0.00944827, -0.00726255, 0.01066022, -0.00374036, 0.00629206, -0.0206172, -0.01663582, 0.00095311, -0.00710963, -0.01492643, 2.23e-05, 0.00772185, -0.00949277, 0.02115744, 0.01114051, 0.00476349, -0.03105677, -0.0039662, 0.01931707, 0.02000871, 0.0128211, 0.00507018, 0.00164636, 0.01214156, 0.01203726, -0.01138762, -0.01162357, -0.01366047, -0.00521697, -0.00764808, 0.01635523, 0.02065578, -0.00894227, 0.03067211, 0.01801324, 0.00535372, -0.00139034, -0.00515411, -0.00448163, -0.01085969, 0.00339914, -0.00603551, 0.01030486, -0.000772, -0.00635873, -0.0027074, 0.00439843, 0.00225595, 0.01220087, 0.00992406, 0.00447976, -0.00404326, 0.00756343, 0.01044529, -0.02094444, 0.01248477, 0.01671314, 0.01590247, 0.01908436];

/// Relative tolerance against the reference: both sides evaluate the same formulas in a
/// different order and agree to rounding (below 1e-15 on every value here).
const TOL: f64 = 1e-12;

/// Relative tolerance of normal p-values: statrs's `erfc` (behind `Phi`) and Python's
/// `math.erfc` differ by up to 1e-10 relative for arguments near 0.5 (measured: 9.8e-11 at
/// p = 0.44); in the tails they agree to 1e-15.
const P_TOL: f64 = 2e-10;

fn pair() -> PairedReturns<'static> {
    PairedReturns::new(&CHAMPION, &CHALLENGER).unwrap()
}

fn spec(block_len: usize, replications: usize, seed: u64) -> ComparisonSpec {
    ComparisonSpec {
        lag: None,
        block_len,
        replications,
        seed,
    }
}

fn assert_close(what: &str, got: f64, want: f64) {
    let tolerance = if what.ends_with("p_value") {
        P_TOL
    } else {
        TOL
    };
    assert!(
        (got - want).abs() <= tolerance * want.abs(),
        "{what}: got {got:e}, want {want:e}"
    );
}

#[test]
fn hac_and_diebold_mariano_match_the_python_reference() {
    assert_eq!(newey_west_lag(CHAMPION.len()), 4);
    // (lag, HAC se, z, p, DM stat, DM p); `None` takes the default lag 4.
    let cases = [
        (
            Some(0),
            0.10398641995492826,
            0.7670725033754798,
            0.4430384092134675,
            0.8655507840072735,
            0.38673655506762344,
        ),
        (
            None,
            0.11608572753877197,
            0.6871225702163918,
            0.49200549239162017,
            0.7752288597934691,
            0.4382044377023752,
        ),
        (
            Some(7),
            0.11860714546688075,
            0.6725153291388668,
            0.5012556846264524,
            0.7654153831547851,
            0.44402423561706333,
        ),
    ];
    for (lag, se, z, p, stat, dm_p) in cases {
        let hac = sharpe_difference_hac(&pair(), lag).unwrap();
        assert_eq!(hac.lag, lag.unwrap_or(4));
        assert_close("hac.se", hac.se, se);
        assert_close("hac.z", hac.z, z);
        assert_close("hac.p_value", hac.p_value, p);
        let dm = diebold_mariano(&pair(), lag).unwrap();
        assert_eq!(dm.lag, hac.lag);
        assert_close("diebold_mariano.stat", dm.stat, stat);
        assert_close("diebold_mariano.p_value", dm.p_value, dm_p);
    }
}

#[test]
fn the_summary_matches_the_python_reference() {
    let ab = compare(&CHAMPION, &CHALLENGER, &spec(5, 199, 7)).unwrap();
    assert_eq!(ab.days, 120);
    assert_close("champion.mean", ab.champion.mean, 0.0007905660000000001);
    assert_close("champion.std", ab.champion.std, 0.010725262417879295);
    assert_close("champion.sharpe", ab.champion.sharpe, 0.07371064401017415);
    assert_close("challenger.mean", ab.challenger.mean, 0.0018073476666666667);
    assert_close("challenger.std", ab.challenger.std, 0.01177611095431069);
    assert_close(
        "challenger.sharpe",
        ab.challenger.sharpe,
        0.1534757674820549,
    );
    assert_close("delta", ab.delta, 0.07976512347188076);
    assert_close(
        "delta_annualised",
        ab.delta_annualised,
        0.07976512347188076 * 252f64.sqrt(),
    );
    assert_close(
        "challenger.sharpe_annualised",
        ab.challenger.sharpe_annualised,
        0.1534757674820549 * 252f64.sqrt(),
    );
    // The parts are the standalone functions' results.
    assert_eq!(ab.hac, sharpe_difference_hac(&pair(), None).unwrap());
    assert_eq!(ab.diebold_mariano, diebold_mariano(&pair(), None).unwrap());
    assert_eq!(
        ab.bootstrap,
        sharpe_difference_bootstrap(&pair(), &spec(5, 199, 7)).unwrap()
    );
}

#[test]
fn bootstrap_matches_the_python_reference() {
    // The script draws the same SplitMix64 block starts, builds each resample explicitly and
    // its natural Psi* from the block means: so interval, p-value and critical value agree
    // to rounding. (block, replications, seed, ci_low, ci_high, p, critical value)
    let cases = [
        (
            5,
            199,
            7,
            -0.15927386288643808,
            0.31880410983019963,
            0.48,
            2.059159135462895,
        ),
        (
            4,
            99,
            12345,
            -0.1716212423316214,
            0.3311514892753829,
            0.46,
            2.165523455237342,
        ),
    ];
    for (block_len, replications, seed, low, high, p, critical) in cases {
        let boot =
            sharpe_difference_bootstrap(&pair(), &spec(block_len, replications, seed)).unwrap();
        assert_eq!(
            (boot.block_len, boot.replications, boot.seed),
            (block_len, replications, seed)
        );
        assert_close("bootstrap.critical_value", boot.critical_value, critical);
        assert_close("bootstrap.ci_low", boot.ci_low, low);
        assert_close("bootstrap.ci_high", boot.ci_high, high);
        assert_close("bootstrap.p_value", boot.p_value, p);
    }
}

#[test]
fn a_clearly_better_challenger_matches_the_python_reference_in_the_tail() {
    // The challenger plus 0.4 % a day (the same IEEE addition as the script's).
    let shifted: Vec<f64> = CHALLENGER.iter().map(|r| r + 0.004).collect();
    let ab = compare(&CHAMPION, &shifted, &spec(5, 199, 7)).unwrap();
    assert_close("delta", ab.delta, 0.4194358361137132);
    assert_close("hac.se", ab.hac.se, 0.12100112844451114);
    assert_close("hac.z", ab.hac.z, 3.4663795412954244);
    assert_close("hac.p_value", ab.hac.p_value, 0.0005275180506013717);
    assert_close(
        "diebold_mariano.stat",
        ab.diebold_mariano.stat,
        3.824964649522706,
    );
    assert_close(
        "diebold_mariano.p_value",
        ab.diebold_mariano.p_value,
        0.00013079085218904542,
    );
    assert_close("bootstrap.ci_low", ab.bootstrap.ci_low, 0.16768161651159852);
    assert_close(
        "bootstrap.ci_high",
        ab.bootstrap.ci_high,
        0.6711900557158279,
    );
    assert_close("bootstrap.p_value", ab.bootstrap.p_value, 0.005);
    assert_close(
        "bootstrap.critical_value",
        ab.bootstrap.critical_value,
        2.080593981547573,
    );
}

#[test]
fn a_four_day_example_by_hand() {
    // champion r1 = (0.01, -0.01, 0.01, -0.01): mu1 = 0, gamma1 = 1e-4, s1 = 0.01, SR1 = 0.
    // challenger r2 = (0.03, -0.01, 0.01, 0.01): mu2 = 0.01, gamma2 = (9 + 1 + 1 + 1)e-4 / 4
    // = 3e-4, s2^2 = 3e-4 - 1e-4 = 2e-4, s2 = 0.01 sqrt(2), SR2 = 1/sqrt(2) = delta.
    let champion = [0.01, -0.01, 0.01, -0.01];
    let challenger = [0.03, -0.01, 0.01, 0.01];
    let pair = PairedReturns::new(&champion, &challenger).unwrap();
    let sqrt2 = 2f64.sqrt();
    // Gradient (-gamma1/s1^3, gamma2/s2^3, mu1/(2 s1^3), -mu2/(2 s2^3)) with s1^3 = 1e-6 and
    // s2^3 = 2 sqrt(2) 1e-6: (-100, 75 sqrt(2), 0, -1250 sqrt(2)).
    // y_t = (r1 - 0, r2 - 0.01, r1^2 - 1e-4 = 0, r2^2 - 3e-4):
    //   t1 (0.01, 0.02, 0, 6e-4), t2 (-0.01, -0.02, 0, -2e-4), t3 (0.01, 0, 0, -2e-4),
    //   t4 (-0.01, 0, 0, -2e-4).
    // u_t = grad . y_t: u1 = -1 + 1.5 sqrt(2) - 0.75 sqrt(2) = -1 + 0.75 sqrt(2),
    //   u2 = 1 - 1.25 sqrt(2), u3 = -1 + 0.25 sqrt(2), u4 = 1 + 0.25 sqrt(2).
    // Lag 0: grad' G0 grad = sum u_t^2 / 4 = ((2.125 - 1.5 sqrt(2)) + (4.125 - 2.5 sqrt(2))
    //   + (1.125 - 0.5 sqrt(2)) + (1.125 + 0.5 sqrt(2))) / 4 = (8.5 - 4 sqrt(2)) / 4,
    //   se^2 = that / T = (8.5 - 4 sqrt(2)) / 16.
    let hac0 = sharpe_difference_hac(&pair, Some(0)).unwrap();
    let se0 = ((8.5 - 4.0 * sqrt2) / 16.0).sqrt();
    assert!((hac0.se - se0).abs() < 1e-14, "{} vs {se0}", hac0.se);
    assert!((hac0.z - (1.0 / sqrt2) / se0).abs() < 1e-13);
    // Lag 1 adds 2 (1 - 1/2) grad' G1 grad = (u2 u1 + u3 u2 + u4 u3) / 4
    //   = ((-2.875 + 2 sqrt(2)) + (-1.625 + 1.5 sqrt(2)) + (-0.875)) / 4
    //   = (-5.375 + 3.5 sqrt(2)) / 4, so se^2 = (3.125 - 0.5 sqrt(2)) / 16.
    let hac1 = sharpe_difference_hac(&pair, Some(1)).unwrap();
    let se1 = ((3.125 - 0.5 * sqrt2) / 16.0).sqrt();
    assert!((hac1.se - se1).abs() < 1e-14, "{} vs {se1}", hac1.se);
    // z = 0.70711 / 0.38874 = 1.81897, p = 2 Phi(-1.81897) = 0.068915 (the script agrees).
    assert!((hac1.z - 1.818973763246355).abs() < 1e-12);
    // (statrs's Phi and Python's erfc differ by a few 1e-12.)
    assert!((hac1.p_value - 0.06891543295520793).abs() < 1e-10);

    // Diebold-Mariano: d = r2 - r1 = (0.02, 0, 0, 0.02), mean 0.01, demeaned
    // (0.01, -0.01, -0.01, 0.01): g0 = 4e-4 / 4 = 1e-4, g1 = (-1 + 1 - 1)e-4 / 4 = -0.25e-4.
    // Lag 0: stat = 0.01 / sqrt(1e-4 / 4) = 2, p = 2 Phi(-2) = 0.0455.
    let dm0 = diebold_mariano(&pair, Some(0)).unwrap();
    assert!((dm0.mean_difference - 0.01).abs() < 1e-17);
    assert!((dm0.stat - 2.0).abs() < 1e-13);
    assert!((dm0.p_value - 0.04550026389635847).abs() < 1e-10);
    // Lag 1: LRV = 1e-4 + 2 (1/2)(-0.25e-4) = 0.75e-4, stat = 0.01 / sqrt(0.75e-4 / 4)
    //   = 4 / sqrt(3).
    let dm1 = diebold_mariano(&pair, Some(1)).unwrap();
    assert!((dm1.stat - 4.0 / 3f64.sqrt()).abs() < 1e-13);
}

#[test]
fn bad_input_is_refused_with_the_reason() {
    let ok = [0.01, -0.02, 0.03, 0.0, 0.01, -0.01, 0.02, 0.0, 0.01, 0.02];
    assert!(matches!(
        PairedReturns::new(&ok, &ok[1..]),
        Err(EngineError::SeriesLengthMismatch {
            champion: 10,
            challenger: 9
        })
    ));
    assert!(matches!(
        PairedReturns::new(&ok[..1], &ok[..1]),
        Err(EngineError::TooFewDays {
            days: 1,
            minimum: 2
        })
    ));
    let mut bad = ok;
    bad[6] = f64::NAN;
    let err = PairedReturns::new(&ok, &bad).unwrap_err();
    assert!(matches!(
        err,
        EngineError::NonFiniteReturn {
            arm: Arm::Challenger,
            day: 6,
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "the challenger's return on day 6 (0-based) is NaN, not a finite number"
    );
    bad[6] = f64::INFINITY;
    assert!(matches!(
        compare(&bad, &ok, &ComparisonSpec::default()),
        Err(EngineError::NonFiniteReturn {
            arm: Arm::Champion,
            day: 6,
            ..
        })
    ));
    // A constant series: its rounded variance need not be 0 (0.01 is not a binary fraction),
    // but it is refused all the same, naming which one.
    let flat = [0.01; 10];
    let err = PairedReturns::new(&ok, &flat).unwrap_err();
    assert!(matches!(
        err,
        EngineError::ConstantSeries {
            arm: Arm::Challenger
        }
    ));
    assert!(
        err.to_string()
            .contains("challenger's returns are constant"),
        "{err}"
    );
    assert!(matches!(
        PairedReturns::new(&flat, &ok),
        Err(EngineError::ConstantSeries { arm: Arm::Champion })
    ));

    let other = ok.map(|r| 0.5 * r + 0.001);
    let pair = PairedReturns::new(&ok, &other).unwrap();
    assert!(matches!(
        sharpe_difference_hac(&pair, Some(10)),
        Err(EngineError::LagTooLong { lag: 10, days: 10 })
    ));
    assert!(matches!(
        diebold_mariano(&pair, Some(12)),
        Err(EngineError::LagTooLong { .. })
    ));
    assert!(sharpe_difference_hac(&pair, Some(9)).is_ok());
    for (block_len, replications, name) in [
        (0, 99, "block_len"),
        (6, 99, "block_len"),
        (5, 18, "replications"),
    ] {
        let err =
            sharpe_difference_bootstrap(&pair, &spec(block_len, replications, 1)).unwrap_err();
        assert!(
            matches!(err, EngineError::InvalidParameter { name: n, .. } if n == name),
            "{block_len} {replications}: {err}"
        );
    }
    assert!(sharpe_difference_bootstrap(&pair, &spec(5, 19, 1)).is_ok());

    // Identical series: delta = 0 with no variation to measure it against.
    let same = PairedReturns::new(&ok, &ok).unwrap();
    assert!(matches!(
        sharpe_difference_hac(&same, None),
        Err(EngineError::ZeroStandardError { test: "hac" })
    ));
    // A constant apart: the mean difference has no variance. (Binary fractions, so that the
    // difference is exactly constant; 0.01 + 0.001 - 0.01 is not exactly 0.001.)
    let dyadic = ok.map(|r| (r * 1024.0).round() / 1024.0);
    let plus_constant = dyadic.map(|r| r + 1.0 / 128.0);
    let ahead = PairedReturns::new(&dyadic, &plus_constant).unwrap();
    assert!(matches!(
        diebold_mariano(&ahead, None),
        Err(EngineError::ZeroStandardError {
            test: "diebold_mariano"
        })
    ));
}

#[test]
fn the_bootstrap_is_the_same_on_one_and_two_threads() {
    let spec = spec(5, 2000, 42);
    let on = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| compare(&CHAMPION, &CHALLENGER, &spec).unwrap())
    };
    let (one, two) = (on(1), on(2));
    assert_eq!(
        serde_json::to_string(&one).unwrap(),
        serde_json::to_string(&two).unwrap()
    );
    assert_eq!(
        one.bootstrap.ci_low.to_bits(),
        two.bootstrap.ci_low.to_bits()
    );
    assert_eq!(
        one.bootstrap.ci_high.to_bits(),
        two.bootstrap.ci_high.to_bits()
    );
    // Another seed, another resample.
    let other = compare(&CHAMPION, &CHALLENGER, &ComparisonSpec { seed: 43, ..spec }).unwrap();
    assert_ne!(other.bootstrap.critical_value, one.bootstrap.critical_value);
}

#[test]
fn a_spec_read_from_settings_defaults_missing_keys_and_refuses_unknown_ones() {
    let spec: ComparisonSpec = serde_json::from_str(r#"{"replications": 999, "lag": 3}"#).unwrap();
    assert_eq!(
        spec,
        ComparisonSpec {
            lag: Some(3),
            replications: 999,
            ..ComparisonSpec::default()
        }
    );
    assert_eq!((spec.block_len, spec.seed), (5, 0));
    assert!(serde_json::from_str::<ComparisonSpec>(r#"{"block": 5}"#).is_err());
}

#[test]
fn the_result_serialises_with_the_issue_field_names() {
    let ab = compare(&CHAMPION, &CHALLENGER, &spec(5, 199, 7)).unwrap();
    let json = serde_json::to_value(ab).unwrap();
    for pointer in [
        "/delta",
        "/delta_annualised",
        "/champion/sharpe",
        "/challenger/sharpe_annualised",
        "/hac/se",
        "/hac/z",
        "/hac/p_value",
        "/hac/lag",
        "/bootstrap/ci_low",
        "/bootstrap/ci_high",
        "/bootstrap/p_value",
        "/diebold_mariano/stat",
        "/diebold_mariano/p_value",
    ] {
        assert!(
            json.pointer(pointer).is_some_and(|v| v.is_number()),
            "{pointer} in {json}"
        );
    }
}

/// Standard normal draws by Box-Muller.
fn normal(rng: &mut StdRng) -> f64 {
    let (u1, u2): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random());
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// `days` returns `0.0005 + 0.01 e_t`, `e_t = phi e_{t-1} + sqrt(1 - phi^2) z_t` started from
/// its stationary distribution: the same Sharpe ratio, 0.05 a day, whatever `phi`.
fn ar1(rng: &mut StdRng, days: usize, phi: f64) -> Vec<f64> {
    let mut e = normal(rng);
    (0..days)
        .map(|_| {
            e = phi * e + (1.0 - phi * phi).sqrt() * normal(rng);
            0.0005 + 0.01 * e
        })
        .collect()
}

#[test]
fn the_bootstrap_interval_covers_a_true_difference_of_zero_about_95_percent_of_the_time() {
    // 300 independent pairs per design, both series of a pair from the same process, so the
    // true delta is 0. With true coverage 95 %, the observed share has sd sqrt(.95 .05 / 300)
    // = 1.26 %: [88 %, 99 %] is more than 3 sd either side of 95 %, and leaves room for the
    // small-sample error of a studentized bootstrap at T = 250.
    const SEEDS: u64 = 300;
    for phi in [0.0, 0.3] {
        let mut covered = 0;
        let mut hac_accepted = 0;
        for seed in 0..SEEDS {
            let mut rng = StdRng::seed_from_u64(1000 * seed + 17);
            let (champion, challenger) = (ar1(&mut rng, 250, phi), ar1(&mut rng, 250, phi));
            let ab = compare(&champion, &challenger, &spec(5, 499, seed)).unwrap();
            covered += usize::from(ab.bootstrap.ci_low <= 0.0 && 0.0 <= ab.bootstrap.ci_high);
            hac_accepted += usize::from(ab.hac.p_value > 0.05);
            // The interval and the p-value decide alike: both ask whether at most
            // floor(500 / 20) - 1 = 24 replications reach |delta| / se.
            assert_eq!(
                ab.bootstrap.p_value <= 0.05,
                !(ab.bootstrap.ci_low <= 0.0 && 0.0 <= ab.bootstrap.ci_high),
                "phi {phi} seed {seed}: {:?}",
                ab.bootstrap
            );
        }
        let coverage = covered as f64 / SEEDS as f64;
        let hac = hac_accepted as f64 / SEEDS as f64;
        assert!(
            (0.88..=0.99).contains(&coverage),
            "phi {phi}: bootstrap coverage {coverage}"
        );
        assert!(
            (0.88..=0.99).contains(&hac),
            "phi {phi}: HAC acceptance {hac}"
        );
    }
}
