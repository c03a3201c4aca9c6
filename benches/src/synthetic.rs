//! A deterministic synthetic stock universe at index scale, for benchmarks that the 20-stock
//! sample is too small for (issue #21: 500 tickers, 25 years; issue #26: memory).
//!
//! Prices follow a one-factor model: every day a market return (Gaussian, 0.03 % drift, 1 %
//! volatility) and, per ticker, a beta in `[0.5, 1.5]`, an idiosyncratic volatility in
//! `[1 %, 3 %]` and a drift in `[-0.02 %, 0.06 %]` a day, so cross-sectional momentum has
//! something to find. The universe changes as an index does: a share of the tickers list late
//! (empty cells before their first day), a share are delisted (empty cells after their last),
//! and any priced day is missing with a small probability (a halt or a data gap). Trading days
//! are weekdays from 2000-01-03.
//!
//! The random numbers come from the engine's [`SplitMix64`], whose output is fixed by its
//! definition, so the bytes of a universe depend only on its [`Universe`] value, whatever the
//! dependency versions.

use std::io::{self, Write};

use chrono::{Datelike, NaiveDate, Weekday};
use momentum_engine::SplitMix64;

/// The shape of a synthetic universe. [`Universe::sp500`] is the issue's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Universe {
    /// Number of tickers, named `S000`, `S001`, ...
    pub tickers: usize,
    /// Number of trading days (weekdays from 2000-01-03).
    pub days: usize,
    /// Share of tickers listed after the first day, each at a uniform day of the first 80 %.
    pub late_listing: f64,
    /// Share of tickers delisted before the last day, each at a uniform day of the last 50 %.
    pub delisting: f64,
    /// Probability that a priced ticker-day is missing.
    pub missing_day: f64,
    /// The generator's seed.
    pub seed: u64,
}

impl Universe {
    /// 500 tickers over 25 years of trading days (6,300), 20 % listed late, 10 % delisted, 0.2 %
    /// of days missing: about an S&P 500's history.
    pub fn sp500() -> Self {
        Self {
            tickers: 500,
            days: 25 * 252,
            late_listing: 0.2,
            delisting: 0.1,
            missing_day: 0.002,
            seed: 20_261_205,
        }
    }

    /// The trading days: `days` weekdays from 2000-01-03.
    pub fn dates(&self) -> Vec<NaiveDate> {
        let mut day = NaiveDate::from_ymd_opt(2000, 1, 3).expect("a valid date");
        let mut dates = Vec::with_capacity(self.days);
        while dates.len() < self.days {
            if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
                dates.push(day);
            }
            day = day.succ_opt().expect("dates stay in range");
        }
        dates
    }

    /// Writes the universe as a wide CSV (`date,S000,S001,...`, a close with four decimals per
    /// cell, an empty cell where a ticker has no price): what `momentum fetch --source csv`
    /// reads.
    ///
    /// # Errors
    /// The writer's.
    pub fn write_wide_csv(&self, mut out: impl Write) -> io::Result<()> {
        let mut rng = SplitMix64::new(self.seed);
        let days = self.days;
        let tickers: Vec<Ticker> = (0..self.tickers)
            .map(|_| Ticker::draw(&mut rng, self))
            .collect();
        write!(out, "date")?;
        for i in 0..self.tickers {
            write!(out, ",S{i:03}")?;
        }
        writeln!(out)?;
        let mut price: Vec<f64> = tickers.iter().map(|t| t.start_price).collect();
        for (t, date) in self.dates().into_iter().enumerate() {
            let market = 0.0003 + 0.01 * gaussian(&mut rng);
            write!(out, "{date}")?;
            for (i, ticker) in tickers.iter().enumerate() {
                let r =
                    ticker.drift + ticker.beta * market + ticker.volatility * gaussian(&mut rng);
                // A day's loss is capped at 90 %: prices stay positive.
                price[i] *= 1.0 + r.max(-0.9);
                let listed = (ticker.first..=ticker.last.min(days - 1)).contains(&t);
                if listed && rng.uniform() >= self.missing_day {
                    write!(out, ",{:.4}", price[i])?;
                } else {
                    write!(out, ",")?;
                }
            }
            writeln!(out)?;
        }
        Ok(())
    }
}

/// One ticker's parameters.
struct Ticker {
    start_price: f64,
    drift: f64,
    beta: f64,
    volatility: f64,
    first: usize,
    last: usize,
}

impl Ticker {
    fn draw(rng: &mut SplitMix64, universe: &Universe) -> Self {
        let days = universe.days;
        let start_price = 10.0 + 190.0 * rng.uniform();
        let drift = -0.0002 + 0.0008 * rng.uniform();
        let beta = 0.5 + rng.uniform();
        let volatility = 0.01 + 0.02 * rng.uniform();
        let first = if rng.uniform() < universe.late_listing {
            1 + day_within(rng, days * 4 / 5)
        } else {
            0
        };
        let last = if rng.uniform() < universe.delisting {
            days / 2 + day_within(rng, days - days / 2)
        } else {
            days - 1
        };
        Self {
            start_price,
            drift,
            beta,
            volatility,
            first,
            last: last.max(first),
        }
    }
}

/// A uniform day in `0..span` (0 for an empty span).
fn day_within(rng: &mut SplitMix64, span: usize) -> usize {
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "a day count far below 2^52, and uniform() < 1"
    )]
    let day = (rng.uniform() * span as f64) as usize;
    day.min(span.saturating_sub(1))
}

/// Standard normal by Box-Muller (one of the pair).
fn gaussian(rng: &mut SplitMix64) -> f64 {
    let u = 1.0 - rng.uniform(); // in (0, 1]: ln is finite
    let v = rng.uniform();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Universe {
        Universe {
            tickers: 40,
            days: 600,
            late_listing: 0.25,
            delisting: 0.25,
            missing_day: 0.01,
            seed: 7,
        }
    }

    fn csv(universe: &Universe) -> String {
        let mut out = Vec::new();
        universe.write_wide_csv(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // The first outputs for seed 1234567 of the reference C code (Vigna's splitmix64.c).
        let mut rng = SplitMix64::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn the_same_universe_gives_the_same_bytes_and_another_seed_others() {
        let universe = small();
        assert_eq!(csv(&universe), csv(&universe));
        assert_ne!(
            csv(&universe),
            csv(&Universe {
                seed: 8,
                ..universe
            })
        );
    }

    #[test]
    fn tickers_list_late_delist_and_miss_days_and_prices_stay_positive() {
        let universe = small();
        let text = csv(&universe);
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert_eq!(header.len(), 41);
        assert_eq!((header[0], header[1], header[40]), ("date", "S000", "S039"));
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        assert_eq!(rows.len(), 600);
        assert_eq!(rows[0][0], "2000-01-03");
        // 600 weekdays from Monday 2000-01-03: 120 weeks, the last day a Friday.
        assert_eq!(rows[599][0], "2002-04-19");
        let (mut late, mut delisted, mut gaps) = (0, 0, 0);
        for column in 1..=40 {
            let cells: Vec<&str> = rows.iter().map(|row| row[column]).collect();
            let priced: Vec<usize> = (0..600).filter(|&t| !cells[t].is_empty()).collect();
            let (first, last) = (priced[0], priced[priced.len() - 1]);
            late += usize::from(first > 5);
            delisted += usize::from(last < 594);
            gaps += (last - first + 1) - priced.len();
            for &t in &priced {
                assert!(cells[t].parse::<f64>().unwrap() > 0.0);
            }
        }
        assert!(
            late > 0 && delisted > 0 && gaps > 0,
            "{late} {delisted} {gaps}"
        );
    }
}
