//! Experiments, runs, searches and metric histories.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};

use super::filter::{filter_string, ident};
use super::transport::{Body, Inner};
use super::wire::{ApiMetric, ApiRun, ApiRunInfo, ServerExperiment};
use crate::error::{Result, TrackingError};
use crate::model::{Filter, MetricPoint, OrderBy, Run, RunQuery, TAG_PARENT_RUN_ID};

impl Inner {
    pub(super) async fn experiment_id(&self, name: &str) -> Result<String> {
        crate::model::validate_name("experiment name", name)?;
        if let Some(id) = self
            .experiments
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            return Ok(id.clone());
        }
        let id = match self.experiment_by_name(name).await? {
            Some(e) => e.experiment_id,
            None => match self
                .call(
                    Method::POST,
                    "experiments/create",
                    Body::Json(json!({"name": name})),
                )
                .await
            {
                Ok(v) => self.decode("experiments/create", v, "experiment_id")?,
                Err(TrackingError::Api {
                    code: Some(code), ..
                }) if code == "RESOURCE_ALREADY_EXISTS" => self
                    .experiment_by_name(name)
                    .await?
                    .map(|e| e.experiment_id)
                    .ok_or_else(|| TrackingError::Decode {
                        url: self.base.to_string(),
                        reason: format!("experiment {name:?} vanished"),
                    })?,
                Err(e) => return Err(e),
            },
        };
        self.experiments
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), id.clone());
        Ok(id)
    }

    pub(super) async fn experiment_by_name(&self, name: &str) -> Result<Option<ServerExperiment>> {
        let q = [("experiment_name", name.to_string())];
        match self
            .call_q(Method::GET, "experiments/get-by-name", &q, Body::None)
            .await
        {
            Ok(v) => {
                let found: ServerExperiment =
                    self.decode("experiments/get-by-name", v, "experiment")?;
                // Every lookup fills the id cache: `sync` checks its experiments, then pushes
                // to them without asking again.
                self.experiments
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(name.to_string(), found.experiment_id.clone());
                Ok(Some(found))
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn get_run(&self, run_id: &str) -> Result<Run> {
        let run = self
            .api_run(run_id)
            .await
            .map_err(|e| e.not_found_as(|| TrackingError::RunNotFound(run_id.to_string())))?;
        Ok(run.into_run())
    }

    pub(super) async fn get_run_info(&self, run_id: &str) -> Result<ApiRunInfo> {
        Ok(self.api_run(run_id).await?.info)
    }

    /// `runs/get`, as the server answers it.
    pub(super) async fn api_run(&self, run_id: &str) -> Result<ApiRun> {
        let v = self
            .call_q(
                Method::GET,
                "runs/get",
                &[("run_id", run_id.to_string())],
                Body::None,
            )
            .await?;
        self.decode("runs/get", v, "run")
    }

    pub(super) async fn search_raw(
        &self,
        experiment_id: &str,
        filter: &str,
        order_by: &[String],
        max: Option<usize>,
    ) -> Result<Vec<ApiRun>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = max.map(|m| (m - out.len()).min(1000)).unwrap_or(1000);
            if page == 0 {
                break;
            }
            let mut body = json!({"experiment_ids": [experiment_id], "filter": filter, "order_by": order_by, "max_results": page});
            if let Some(t) = &token {
                body["page_token"] = json!(t);
            }
            let v = self
                .call(Method::POST, "runs/search", Body::Json(body))
                .await?;
            token = v
                .get("next_page_token")
                .and_then(Value::as_str)
                .map(str::to_string);
            let runs: Option<Vec<ApiRun>> = self.decode("runs/search", v, "runs")?;
            out.extend(runs.unwrap_or_default());
            if token.is_none() {
                break;
            }
        }
        Ok(out)
    }

    pub(super) async fn search_runs(&self, query: &RunQuery) -> Result<Vec<Run>> {
        let Some(ServerExperiment {
            experiment_id: exp_id,
            ..
        }) = self.experiment_by_name(&query.experiment).await?
        else {
            return Ok(Vec::new());
        };
        let (filter, complete) = filter_string(&query.filters)?;
        let order_by = match &query.order_by {
            OrderBy::Metric { key, descending } => vec![format!(
                "{} {}",
                ident("metrics", key)?,
                if *descending { "DESC" } else { "ASC" }
            )],
            OrderBy::StartTime { descending } => vec![format!(
                "attributes.start_time {}",
                if *descending { "DESC" } else { "ASC" }
            )],
        };
        let max = if complete { query.max_results } else { None };
        let runs = self.search_raw(&exp_id, &filter, &order_by, max).await?;
        let runs = runs
            .into_iter()
            .map(|r| {
                let mut run = r.into_run();
                run.experiment = query.experiment.clone();
                run
            })
            .collect();
        Ok(query.apply(runs))
    }

    /// Ids of the runs of experiment `experiment_id` that start with `prefix` (lowercase hex:
    /// checked by the caller, since LIKE reads `%` and `_` as wildcards), at most `max`.
    pub(super) async fn run_ids_with_prefix(
        &self,
        experiment_id: &str,
        prefix: &str,
        max: usize,
    ) -> Result<Vec<String>> {
        let filter = format!("attributes.run_id LIKE '{prefix}%'");
        let runs = self
            .search_raw(experiment_id, &filter, &[], Some(max))
            .await?;
        Ok(runs.into_iter().map(|r| r.info.run_id).collect())
    }

    /// The runs tagged as children of `run_id`, searched in its experiment.
    pub(super) async fn children_of(&self, run_id: &str) -> Result<Vec<Run>> {
        let experiment_id = self.get_run_info(run_id).await?.experiment_id;
        let (filter, _) = filter_string(&[Filter::ParentRunId(run_id.to_owned())])?;
        let children = self.search_raw(&experiment_id, &filter, &[], None).await?;
        Ok(children.into_iter().map(ApiRun::into_run).collect())
    }

    /// The number of runs of experiment `experiment_id` tagged as children of each run, by the
    /// parent's server id: one paged search of the runs that carry the parent tag.
    pub(super) async fn child_counts(
        &self,
        experiment_id: &str,
    ) -> Result<BTreeMap<String, usize>> {
        let filter = format!("tags.`{TAG_PARENT_RUN_ID}` LIKE '%'");
        let mut counts = BTreeMap::new();
        for run in self.search_raw(experiment_id, &filter, &[], None).await? {
            if let Some(parent) = run
                .data
                .tags
                .into_iter()
                .find(|t| t.key == TAG_PARENT_RUN_ID)
            {
                *counts.entry(parent.value).or_insert(0) += 1;
            }
        }
        Ok(counts)
    }

    pub(super) async fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>> {
        let query = [
            ("run_id", run_id.to_string()),
            ("metric_key", key.to_string()),
            ("max_results", "25000".to_string()),
        ];
        let metrics: Vec<ApiMetric> = self
            .get_all_pages("metrics/get-history", &query, "metrics")
            .await?;
        Ok(metrics
            .into_iter()
            .map(|m| MetricPoint {
                value: m.value,
                timestamp: m.timestamp,
                step: m.step,
            })
            .collect())
    }
}
