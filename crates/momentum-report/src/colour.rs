//! Colours readable by colour-blind people: viridis for values on a scale (the grid's Sharpe
//! ratios), blue against orange for signs (the monthly returns), and one grey for "n/a".

/// The colour of a value that could not be computed (never a colour of the scales).
pub(crate) const MISSING: &str = "#d9d9d9";

/// Viridis at 0, 0.1, ..., 1 (matplotlib's map, as R's `viridis(11)` lists it).
const VIRIDIS: [(u8, u8, u8); 11] = [
    (0x44, 0x01, 0x54),
    (0x48, 0x25, 0x76),
    (0x41, 0x44, 0x87),
    (0x35, 0x60, 0x8d),
    (0x2a, 0x78, 0x8e),
    (0x21, 0x90, 0x8c),
    (0x22, 0xa8, 0x84),
    (0x43, 0xbf, 0x71),
    (0x7a, 0xd1, 0x51),
    (0xbb, 0xdf, 0x27),
    (0xfd, 0xe7, 0x25),
];

/// Strategy and buy and hold lines: blue and orange of the Okabe-Ito palette, told apart in
/// every common form of colour blindness.
pub(crate) const STRATEGY: &str = "#0072b2";
/// See [`STRATEGY`].
pub(crate) const BASELINE: &str = "#e69f00";

/// The viridis colour of `t` in `[0, 1]` (clamped) as `#rrggbb`, linear between the stops;
/// `None` for NaN.
pub(crate) fn viridis(t: f64) -> Option<String> {
    if t.is_nan() {
        return None;
    }
    let t = t.clamp(0.0, 1.0) * 10.0;
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "t is in [0, 10]"
    )]
    let i = (t.floor() as usize).min(9);
    #[expect(clippy::cast_precision_loss, reason = "i <= 9")]
    let f = t - i as f64;
    Some(hex(mix(VIRIDIS[i], VIRIDIS[i + 1], f)))
}

/// Where `value` falls between `lo` and `hi` on a colour scale, `NaN` for a value that is not
/// finite (shown as [`MISSING`]).
pub(crate) fn scale_position(value: f64, (lo, hi): (f64, f64)) -> f64 {
    if !value.is_finite() {
        return f64::NAN;
    }
    if hi > lo {
        (value - lo) / (hi - lo)
    } else {
        0.5
    }
}

/// The background of a return `r`: white at 0, deepening to blue for a gain and to orange for
/// a loss, full at `|r| >= full` (kept light enough for dark text); [`MISSING`] for NaN.
pub(crate) fn signed(r: f64, full: f64) -> String {
    const WHITE: (u8, u8, u8) = (0xff, 0xff, 0xff);
    const GAIN: (u8, u8, u8) = (0x56, 0x9e, 0xd6);
    const LOSS: (u8, u8, u8) = (0xf0, 0x8a, 0x24);
    if !r.is_finite() {
        return MISSING.to_owned();
    }
    let strength = if full > 0.0 {
        (r.abs() / full).min(1.0)
    } else {
        1.0
    };
    hex(mix(WHITE, if r >= 0.0 { GAIN } else { LOSS }, strength))
}

fn mix(a: (u8, u8, u8), b: (u8, u8, u8), f: f64) -> (u8, u8, u8) {
    let channel = |x: u8, y: u8| {
        let v = f64::from(x) + (f64::from(y) - f64::from(x)) * f;
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "between two bytes"
        )]
        let byte = v.round() as u8;
        byte
    };
    (channel(a.0, b.0), channel(a.1, b.1), channel(a.2, b.2))
}

fn hex((r, g, b): (u8, u8, u8)) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_runs_from_dark_purple_to_yellow() {
        assert_eq!(viridis(0.0).unwrap(), "#440154");
        assert_eq!(viridis(1.0).unwrap(), "#fde725");
        assert_eq!(viridis(0.5).unwrap(), "#21908c");
        // Clamped outside [0, 1]; halfway between the first two stops by hand:
        // (0x44+0x48)/2 = 0x46, (0x01+0x25)/2 = 0x13, (0x54+0x76)/2 = 0x65.
        assert_eq!(viridis(-3.0).unwrap(), "#440154");
        assert_eq!(viridis(7.0).unwrap(), "#fde725");
        assert_eq!(viridis(0.05).unwrap(), "#461365");
        assert_eq!(viridis(f64::NAN), None);
    }

    #[test]
    fn a_position_on_the_scale_is_nan_for_a_missing_value() {
        assert!((scale_position(1.5, (1.0, 3.0)) - 0.25).abs() < 1e-12);
        assert!(scale_position(f64::NAN, (1.0, 3.0)).is_nan());
        assert!(scale_position(f64::INFINITY, (1.0, 3.0)).is_nan());
        assert!((scale_position(2.0, (2.0, 2.0)) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn signs_are_blue_and_orange_and_missing_is_grey() {
        assert_eq!(signed(0.0, 0.1), "#ffffff");
        assert_eq!(signed(0.1, 0.1), "#569ed6");
        assert_eq!(signed(0.5, 0.1), "#569ed6");
        assert_eq!(signed(-0.1, 0.1), "#f08a24");
        // Half way to orange: 255 + (240 - 255) / 2 = 247.5 -> 248 (0xf8), (255 + 138) / 2 =
        // 196.5 -> 197 (0xc5), (255 + 36) / 2 = 145.5 -> 146 (0x92).
        assert_eq!(signed(-0.05, 0.1), "#f8c592");
        assert_eq!(signed(f64::NAN, 0.1), MISSING);
    }
}
