//! What `POST /invocations` does with a CSV body, without the server: parse the table, check
//! it, and score its last date with a model.
//!
//! ```sh
//! cargo run -p momentum-serve --example score_csv
//! ```

use momentum_engine::StrategyParams;
use momentum_scanner::Model;
use momentum_scanner::model::{Registration, Stage};
use momentum_serve::{Frame, Predictions, score};

fn main() -> Result<(), momentum_serve::ApiError> {
    let model = Model {
        params: StrategyParams {
            lookback: 2,
            skip: 0,
            holding: 20,
            top_k: 1,
            cost_bps: 10.0,
        },
        universe: vec!["AAA".into(), "BBB".into()],
        data_digest: None,
        stage: Stage::Registered(Registration {
            version: "1".into(),
            promoted_at: "2026-12-01T00:00:00Z".into(),
        }),
    };
    let csv = "Date,AAA,BBB\n2024-01-02,10,20\n2024-01-03,11,19\n2024-01-04,12,18\n";
    let picks = score(&Frame::from_csv(csv.as_bytes())?, &model)?;
    let answer = serde_json::to_string_pretty(&Predictions::from(&picks)).expect("JSON");
    println!("{answer}");
    // AAA +20 % over two days, BBB -10 %: AAA is held.
    assert_eq!(picks.selected().collect::<Vec<_>>(), ["AAA"]);
    // A close of zero is refused with the ticker and the date.
    let err = Frame::from_csv(b"Date,AAA,BBB\n2024-01-02,0,20\n")
        .and_then(|bad| score(&bad, &model))
        .unwrap_err();
    assert_eq!(err.code, "INVALID_PARAMETER_VALUE");
    println!("{}: {}", err.code, err.message);
    Ok(())
}
