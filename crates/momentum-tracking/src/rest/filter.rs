//! MLflow's search filter grammar: the typed [`Filter`]s it can express, quoted so a value
//! cannot change the query.

use crate::error::{Result, TrackingError};
use crate::model::{Cmp, Filter, TAG_PARENT_RUN_ID};

fn quote(value: &str) -> Result<String> {
    if value.contains('\'') {
        return Err(TrackingError::InvalidName {
            what: "filter value",
            name: value.into(),
            reason: "single quotes are not supported",
        });
    }
    Ok(format!("'{value}'"))
}

pub(super) fn ident(kind: &str, key: &str) -> Result<String> {
    if key.contains('`') {
        return Err(TrackingError::InvalidKey {
            key: key.into(),
            reason: "backquotes are not supported in filters",
        });
    }
    Ok(format!("{kind}.`{key}`"))
}

/// The MLflow filter string for the filters it can express; the bool says whether all were.
pub(super) fn filter_string(filters: &[Filter]) -> Result<(String, bool)> {
    let mut parts = Vec::new();
    let mut complete = true;
    for f in filters {
        match f {
            Filter::Metric(k, cmp, v) if v.is_finite() => {
                parts.push(format!("{} {} {v:?}", ident("metrics", k)?, cmp.as_str()))
            }
            // MLflow compares params with `=`, `!=` and LIKE only (400 for `<`).
            Filter::Param(k, cmp @ (Cmp::Eq | Cmp::Ne), v) => parts.push(format!(
                "{} {} {}",
                ident("params", k)?,
                cmp.as_str(),
                quote(v)?
            )),
            Filter::Tag(k, cmp @ (Cmp::Eq | Cmp::Ne), v) => parts.push(format!(
                "{} {} {}",
                ident("tags", k)?,
                cmp.as_str(),
                quote(v)?
            )),
            Filter::Status(s) => parts.push(format!("attributes.status = '{}'", s.as_str())),
            Filter::ParentRunId(id) => {
                parts.push(format!("tags.`{TAG_PARENT_RUN_ID}` = {}", quote(id)?))
            }
            // A run without the parent tag (MLflow 3.17 takes `IS NULL` on tags): the server
            // pages the top-level runs alone instead of every child with them.
            Filter::TopLevel => parts.push(format!("tags.`{TAG_PARENT_RUN_ID}` IS NULL")),
            _ => complete = false,
        }
    }
    Ok((parts.join(" and "), complete))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RunStatus;

    #[test]
    fn typed_filters_translate_to_mlflow_grammar() {
        let (s, complete) = filter_string(&[
            Filter::Metric("sharpe".into(), Cmp::Gt, 0.5),
            Filter::Param("lookback".into(), Cmp::Eq, "20".into()),
            Filter::Status(RunStatus::Finished),
            Filter::TopLevel,
        ])
        .unwrap();
        assert_eq!(
            s,
            "metrics.`sharpe` > 0.5 and params.`lookback` = '20' and attributes.status = \
             'FINISHED' and tags.`mlflow.parentRunId` IS NULL"
        );
        assert!(complete);
        assert!(filter_string(&[Filter::Param("p".into(), Cmp::Eq, "it's".into())]).is_err());
        // The server refuses `<` on params: left to the client.
        let (s, complete) =
            filter_string(&[Filter::Param("lookback".into(), Cmp::Gt, "20".into())]).unwrap();
        assert_eq!(s, "");
        assert!(!complete);
    }
}
