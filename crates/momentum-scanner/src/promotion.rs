//! Promotion gates and the `production` block of `params.yaml`.
//!
//! A candidate becomes the production model only when every gate passes. The gates read the
//! out-of-sample (test window) numbers, because the train window is where the grid search chose
//! the candidate and is optimistic by construction.

use std::str::FromStr;

use serde::Serialize;

use crate::ScanError;

/// Thresholds a candidate must meet (`params.yaml` `promotion`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gates {
    /// Minimum out-of-sample `total_roi` (0.20 = +20 %).
    pub min_roi: f64,
    /// Minimum Deflated Sharpe Ratio of the selection (a probability in [0, 1]).
    pub min_dsr: f64,
    /// Maximum out-of-sample `max_drawdown` (0.60 = a 60 % peak-to-trough loss).
    pub max_drawdown: f64,
}

/// The candidate's numbers the gates look at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GateInputs {
    /// Strategy `total_roi` on the test window.
    pub test_roi: f64,
    /// Buy-and-hold `total_roi` on the same window.
    pub test_baseline_roi: f64,
    /// Deflated Sharpe Ratio of the selected combination.
    pub dsr: f64,
    /// Strategy `max_drawdown` on the test window.
    pub test_max_drawdown: f64,
}

/// One gate's verdict, printed by `momentum promote` and logged to tracking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateResult {
    /// Stable name, e.g. `min_roi`.
    pub gate: &'static str,
    /// What the candidate scored.
    pub value: f64,
    /// The threshold it was held to.
    pub threshold: f64,
    /// `>=`, `>` or `<=`: how `value` must compare with `threshold`.
    pub rule: &'static str,
    /// Whether the gate passed. A NaN value never passes.
    pub passed: bool,
}

/// Applies every gate; the candidate is promotable when all of them pass.
pub fn evaluate(gates: &Gates, inputs: &GateInputs) -> Vec<GateResult> {
    // Comparisons are written so that a NaN value fails: `NaN >= x` is false.
    vec![
        GateResult {
            gate: "min_roi",
            value: inputs.test_roi,
            threshold: gates.min_roi,
            rule: ">=",
            passed: inputs.test_roi >= gates.min_roi,
        },
        GateResult {
            gate: "beats_buy_and_hold",
            value: inputs.test_roi,
            threshold: inputs.test_baseline_roi,
            rule: ">",
            passed: inputs.test_roi > inputs.test_baseline_roi,
        },
        GateResult {
            gate: "min_dsr",
            value: inputs.dsr,
            threshold: gates.min_dsr,
            rule: ">=",
            passed: inputs.dsr >= gates.min_dsr,
        },
        GateResult {
            gate: "max_drawdown",
            value: inputs.test_max_drawdown,
            threshold: gates.max_drawdown,
            rule: "<=",
            passed: inputs.test_max_drawdown <= gates.max_drawdown,
        },
    ]
}

/// The `production` block of `params.yaml`: what `momentum scan` serves.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductionModel {
    /// Registry version of the model (e.g. `"3"`).
    pub version: String,
    /// Lookback `L` in trading days.
    pub lookback: usize,
    /// Skip `S` in trading days.
    pub skip: usize,
    /// Holding period `H` in trading days.
    pub holding: usize,
    /// Number of tickers held.
    pub top_k: usize,
    /// One-way cost in basis points the model was validated with.
    pub cost_bps: f64,
    /// The universe the model was trained on, in order.
    pub tickers: Vec<String>,
    /// Digest of the price data the model was trained on.
    pub data_digest: String,
    /// When it was promoted (RFC 3339, UTC).
    pub promoted_at: String,
}

impl ProductionModel {
    /// The parameters the scan and the monitor use.
    pub fn params(&self) -> crate::scan::ModelParams {
        crate::scan::ModelParams {
            lookback: self.lookback,
            skip: self.skip,
            holding: self.holding,
            top_k: self.top_k,
        }
    }
}

/// Returns `yaml` with the top-level `production` mapping set to `model`, everything else kept
/// byte for byte (comments, order, blank lines). The block is created when missing.
pub fn set_production_block(yaml: &str, model: &ProductionModel) -> Result<String, ScanError> {
    let edit_error = |reason: String| ScanError::ParamsEdit {
        what: "params.yaml production block".into(),
        reason,
    };
    // A missing or empty params.yaml (nothing but comments) gets the block as its first key.
    let blank = yaml.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#') || line == "---"
    });
    let seeded;
    let yaml = if blank {
        let gap = if yaml.is_empty() || yaml.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        seeded = format!("{yaml}{gap}production:\n  version: null\n");
        seeded.as_str()
    } else {
        yaml
    };
    let doc = yaml_edit::Document::from_str(yaml).map_err(|err| edit_error(err.to_string()))?;
    let root = doc
        .as_mapping()
        .ok_or_else(|| edit_error("the file is not a mapping".into()))?;
    let block = match root.get_mapping("production") {
        Some(block) => block,
        None => {
            root.set(
                "production",
                yaml_edit::Document::from_str("version: null\n")
                    .map_err(|err| edit_error(err.to_string()))?
                    .as_mapping()
                    .ok_or_else(|| edit_error("internal block".into()))?,
            );
            root.get_mapping("production")
                .ok_or_else(|| edit_error("cannot create the block".into()))?
        }
    };
    block.set("version", model.version.as_str());
    block.set("lookback", model.lookback as i64);
    block.set("skip", model.skip as i64);
    block.set("holding", model.holding as i64);
    block.set("top_k", model.top_k as i64);
    block.set("cost_bps", model.cost_bps);
    let tickers: Vec<yaml_edit::YamlValue> = model
        .tickers
        .iter()
        .map(|t| yaml_edit::YamlValue::from(t.as_str()))
        .collect();
    block.set("tickers", tickers);
    block.set("data_digest", model.data_digest.as_str());
    // Quoted: a bare RFC 3339 time is a YAML timestamp, which DVC cannot hash as a param.
    block.set(
        "promoted_at",
        yaml_edit::ScalarValue::single_quoted(model.promoted_at.as_str()),
    );
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: &str = "# top comment\ndata:\n  source: sample  # inline\n\n# Written by promote.\nproduction:\n  version: null\n  lookback: null\n  skip: null\n  holding: null\n  top_k: null\n  cost_bps: null\n  tickers: []\n  data_digest: null\n  promoted_at: null\n\ntracking:\n  uri: \"\"\n# trailing comment\n";

    fn model() -> ProductionModel {
        ProductionModel {
            version: "3".into(),
            lookback: 120,
            skip: 20,
            holding: 5,
            top_k: 3,
            cost_bps: 10.0,
            tickers: vec!["AAPL".into(), "MSFT".into()],
            data_digest: "abc123".into(),
            promoted_at: "2026-11-27T00:00:00Z".into(),
        }
    }

    #[test]
    fn only_the_production_block_changes() {
        let out = set_production_block(PARAMS, &model()).unwrap();
        println!("{out}");
        let again = set_production_block(&out, &model()).unwrap();
        assert_eq!(again, out);
        let before_block = PARAMS.split("production:").next().unwrap();
        assert!(out.starts_with(before_block), "{out}");
        assert!(
            out.ends_with("\ntracking:\n  uri: \"\"\n# trailing comment\n"),
            "{out}"
        );
        assert!(out.contains("  lookback: 120\n"), "{out}");
        assert!(
            out.contains("  promoted_at: '2026-11-27T00:00:00Z'\n"),
            "{out}"
        );
        assert!(
            out.contains("  version: '3'\n") || out.contains("  version: \"3\"\n"),
            "{out}"
        );
    }

    #[test]
    fn a_missing_or_comment_only_params_yaml_gets_the_block() {
        for (text, kept) in [("", ""), ("# just a comment", "# just a comment\n")] {
            let out = set_production_block(text, &model()).unwrap();
            assert!(out.starts_with(&format!("{kept}production:\n")), "{out}");
            assert!(out.contains("  lookback: 120\n"), "{out}");
            let again = set_production_block(&out, &model()).unwrap();
            assert_eq!(again, out);
        }
    }

    #[test]
    fn gates_fail_on_nan_and_on_each_threshold() {
        let gates = Gates {
            min_roi: 0.2,
            min_dsr: 0.5,
            max_drawdown: 0.3,
        };
        let good = GateInputs {
            test_roi: 0.25,
            test_baseline_roi: 0.1,
            dsr: 0.9,
            test_max_drawdown: 0.2,
        };
        assert!(evaluate(&gates, &good).iter().all(|g| g.passed));
        let nan = GateInputs {
            dsr: f64::NAN,
            ..good
        };
        let failed: Vec<_> = evaluate(&gates, &nan)
            .into_iter()
            .filter(|g| !g.passed)
            .map(|g| g.gate)
            .collect();
        assert_eq!(failed, ["min_dsr"]);
    }
}
