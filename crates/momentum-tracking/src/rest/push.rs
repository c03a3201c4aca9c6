//! Bringing local runs to the server: one run's calls ([`PushJob`]), `runs/log-batch` bodies
//! within the server's limits, parallel pushes, and which runs are already there.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::Method;
use serde_json::{Value, json};

use super::transport::{Body, Inner};
use super::wire::{ApiRun, ApiRunInfo, kvs, metric_json};
use crate::error::{Result, TrackingError};
use crate::model::{RemoteRecord, Run, RunStatus, TAG_LOCAL_RUN_ID, TAG_PARENT_RUN_ID, TAG_USER};

/// Most metrics in one `runs/log-batch` call.
pub const MAX_BATCH_METRICS: usize = 1000;
/// Most params in one `runs/log-batch` call.
pub const MAX_BATCH_PARAMS: usize = 100;
/// Most tags in one `runs/log-batch` call.
pub const MAX_BATCH_TAGS: usize = 100;
/// Most metrics + params + tags in one `runs/log-batch` call.
pub const MAX_BATCH_TOTAL: usize = 1000;

/// One local run to bring to the server.
#[derive(Debug, Clone)]
pub(crate) struct PushJob {
    pub run: Run,
    pub experiment_id: String,
    pub remote_parent: Option<String>,
    pub existing: Option<RemoteRecord>,
    pub artifacts: Vec<(String, std::path::PathBuf)>,
    pub now: i64,
}

/// Splits params, metrics and tags into `runs/log-batch` bodies within the server's limits.
fn batches(
    params: Vec<Value>,
    metrics: Vec<Value>,
    tags: Vec<Value>,
) -> Vec<(Vec<Value>, Vec<Value>, Vec<Value>)> {
    let (mut params, mut metrics, mut tags) =
        (params.into_iter(), metrics.into_iter(), tags.into_iter());
    let mut out = Vec::new();
    loop {
        let p: Vec<Value> = params.by_ref().take(MAX_BATCH_PARAMS).collect();
        let t: Vec<Value> = tags.by_ref().take(MAX_BATCH_TAGS).collect();
        let room = (MAX_BATCH_TOTAL - p.len() - t.len()).min(MAX_BATCH_METRICS);
        let m: Vec<Value> = metrics.by_ref().take(room).collect();
        if p.is_empty() && t.is_empty() && m.is_empty() {
            return out;
        }
        out.push((p, m, t));
    }
}

impl Inner {
    pub(super) async fn pushed_runs(
        &self,
        experiment_id: &str,
    ) -> Result<HashMap<String, RemoteRecord>> {
        let filter = format!("tags.`{TAG_LOCAL_RUN_ID}` LIKE '%'");
        let runs = self.search_raw(experiment_id, &filter, &[], None).await?;
        Ok(runs
            .into_iter()
            .filter_map(|r| {
                let local = r
                    .data
                    .tags
                    .iter()
                    .find(|t| t.key == TAG_LOCAL_RUN_ID)?
                    .value
                    .clone();
                let complete = r
                    .info
                    .status
                    .parse::<RunStatus>()
                    .is_ok_and(RunStatus::is_terminal);
                Some((
                    local,
                    RemoteRecord {
                        run_id: r.info.run_id,
                        artifact_uri: r.info.artifact_uri,
                        complete,
                        pushed_at: 0,
                    },
                ))
            })
            .collect())
    }

    /// Brings one local run to the server: runs/create (unless it exists there), log-batch
    /// call(s), log-inputs, artifact PUTs, runs/update. Every step is idempotent on a SQL
    /// backend, so a re-push after a failure completes the run without duplicating it.
    pub(super) async fn push(&self, job: PushJob) -> Result<RemoteRecord> {
        let run = &job.run;
        let fresh = job.existing.is_none();
        let (remote_id, artifact_uri) = match &job.existing {
            Some(rec) => (rec.run_id.clone(), rec.artifact_uri.clone()),
            None => {
                let mut tags: BTreeMap<&String, &String> = run.tags.iter().collect();
                let parent_key = TAG_PARENT_RUN_ID.to_string();
                let local_key = TAG_LOCAL_RUN_ID.to_string();
                if let Some(parent) = &job.remote_parent {
                    tags.insert(&parent_key, parent);
                }
                tags.insert(&local_key, &run.run_id);
                let body = json!({
                    "experiment_id": job.experiment_id,
                    "run_name": run.name,
                    "start_time": run.start_time,
                    "user_id": run.tags.get(TAG_USER).cloned().unwrap_or_default(),
                    "tags": kvs(tags),
                });
                let v = self
                    .call(Method::POST, "runs/create", Body::Json(body))
                    .await?;
                let info: ApiRunInfo = self.decode::<ApiRun>("runs/create", v, "run")?.info;
                (info.run_id, info.artifact_uri)
            }
        };
        let params = kvs(&run.params);
        let metrics: Vec<Value> = run
            .metrics
            .iter()
            .flat_map(|(k, pts)| pts.iter().map(move |p| metric_json(k, p)))
            .collect();
        let mut tags = if fresh { Vec::new() } else { kvs(&run.tags) };
        if !fresh && let Some(parent) = &job.remote_parent {
            tags.push(json!({"key": TAG_PARENT_RUN_ID, "value": parent}));
        }
        for (p, m, t) in batches(params, metrics, tags) {
            let body = json!({"run_id": remote_id, "params": p, "metrics": m, "tags": t});
            self.call(Method::POST, "runs/log-batch", Body::Json(body))
                .await?;
        }
        if !run.inputs.is_empty() {
            let datasets: Vec<Value> = run
                .inputs
                .iter()
                .map(|i| {
                    let mut d = json!({"name": i.name, "digest": i.digest, "source_type": i.source_type, "source": i.source});
                    if let Some(s) = &i.schema {
                        d["schema"] = json!(s);
                    }
                    if let Some(p) = &i.profile {
                        d["profile"] = json!(p);
                    }
                    let tags: Vec<Value> = i.context.iter().map(|c| json!({"key": "mlflow.data.context", "value": c})).collect();
                    json!({"tags": tags, "dataset": d})
                })
                .collect();
            self.call(
                Method::POST,
                "runs/log-inputs",
                Body::Json(json!({"run_id": remote_id, "datasets": datasets})),
            )
            .await?;
        }
        for (rel, path) in &job.artifacts {
            self.put_artifact(&remote_id, &artifact_uri, (rel, path))
                .await?;
        }
        let mut update = json!({"run_id": remote_id, "status": run.status.as_str()});
        if let Some(end) = run.end_time {
            update["end_time"] = json!(end);
        }
        self.call(Method::POST, "runs/update", Body::Json(update))
            .await?;
        Ok(RemoteRecord {
            run_id: remote_id,
            artifact_uri,
            complete: run.status.is_terminal(),
            pushed_at: job.now,
        })
    }

    pub(super) async fn push_all(
        self,
        jobs: Vec<PushJob>,
        concurrency: usize,
        mut on_done: impl FnMut(usize, &Result<RemoteRecord>),
    ) -> Vec<Result<RemoteRecord>> {
        let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency));
        let down = Arc::new(AtomicBool::new(false));
        let mut set = tokio::task::JoinSet::new();
        let n = jobs.len();
        for (i, job) in jobs.into_iter().enumerate() {
            let (client, semaphore, down) = (self.clone(), semaphore.clone(), down.clone());
            set.spawn(async move {
                let _permit = semaphore.acquire_owned().await;
                if down.load(Ordering::Relaxed) {
                    return (
                        i,
                        Err(TrackingError::Unreachable {
                            url: client.base.to_string(),
                        }),
                    );
                }
                let result = client.push(job).await;
                if matches!(result, Err(TrackingError::Http { .. })) {
                    down.store(true, Ordering::Relaxed);
                }
                (i, result)
            });
        }
        let mut out: Vec<Option<Result<RemoteRecord>>> = (0..n).map(|_| None).collect();
        while let Some(joined) = set.join_next().await {
            if let Ok((i, result)) = joined {
                on_done(i, &result);
                out[i] = Some(result);
            }
        }
        out.into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(TrackingError::Decode {
                        url: self.base.to_string(),
                        reason: "push task panicked".into(),
                    })
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_every_limit() {
        let v = |n: usize| (0..n).map(|i| json!(i)).collect::<Vec<_>>();
        let b = batches(v(250), v(2500), v(130));
        for (p, m, t) in &b {
            assert!(
                p.len() <= 100
                    && t.len() <= 100
                    && m.len() <= 1000
                    && p.len() + m.len() + t.len() <= 1000
            );
        }
        let total: usize = b.iter().map(|(p, m, t)| p.len() + m.len() + t.len()).sum();
        assert_eq!(total, 250 + 2500 + 130);
        assert_eq!(b.len(), 3);
        assert!(batches(vec![], vec![], vec![]).is_empty());
    }
}
