//! MLflow's JSON shapes, as the server sends them (`Api*`), and their conversion to and from
//! the crate's types ([`Run`], [`ModelVersion`], metric points).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::model::{
    DatasetInput, MetricPoint, ModelVersion, Run, RunStatus, TAG_PARENT_RUN_ID, TAG_RUN_NAME,
    f64_lenient,
};

#[derive(Deserialize)]
pub(super) struct ApiRun {
    pub(super) info: ApiRunInfo,
    #[serde(default)]
    pub(super) data: ApiRunData,
    #[serde(default)]
    pub(super) inputs: ApiInputs,
}

#[derive(Deserialize)]
pub(super) struct ApiRunInfo {
    pub(super) run_id: String,
    pub(super) experiment_id: String,
    #[serde(default)]
    pub(super) run_name: String,
    pub(super) status: String,
    #[serde(default)]
    pub(super) start_time: Option<i64>,
    #[serde(default)]
    pub(super) end_time: Option<i64>,
    #[serde(default)]
    pub(super) artifact_uri: String,
}

#[derive(Deserialize, Default)]
pub(super) struct ApiRunData {
    #[serde(default)]
    pub(super) metrics: Vec<ApiMetric>,
    #[serde(default)]
    pub(super) params: Vec<Kv>,
    #[serde(default)]
    pub(super) tags: Vec<Kv>,
}

#[derive(Deserialize)]
pub(super) struct ApiMetric {
    pub(super) key: String,
    #[serde(with = "f64_lenient")]
    pub(super) value: f64,
    #[serde(default)]
    pub(super) timestamp: i64,
    #[serde(default)]
    pub(super) step: i64,
}

#[derive(Deserialize)]
pub(super) struct Kv {
    pub(super) key: String,
    #[serde(default)]
    pub(super) value: String,
}

#[derive(Deserialize, Default)]
pub(super) struct ApiInputs {
    #[serde(default)]
    pub(super) dataset_inputs: Vec<ApiDatasetInput>,
}

#[derive(Deserialize)]
pub(super) struct ApiDatasetInput {
    #[serde(default)]
    pub(super) tags: Vec<Kv>,
    pub(super) dataset: ApiDataset,
}

#[derive(Deserialize)]
pub(super) struct ApiDataset {
    pub(super) name: String,
    #[serde(default)]
    pub(super) digest: String,
    #[serde(default)]
    pub(super) source_type: String,
    #[serde(default)]
    pub(super) source: String,
    #[serde(default)]
    pub(super) schema: Option<String>,
    #[serde(default)]
    pub(super) profile: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ApiModelVersion {
    pub(super) name: String,
    pub(super) version: String,
    #[serde(default)]
    pub(super) run_id: String,
    #[serde(default)]
    pub(super) source: String,
    #[serde(default)]
    pub(super) description: String,
    #[serde(default)]
    pub(super) creation_timestamp: i64,
    #[serde(default)]
    pub(super) aliases: Vec<String>,
    #[serde(default)]
    pub(super) tags: Vec<Kv>,
}

impl From<ApiModelVersion> for ModelVersion {
    fn from(v: ApiModelVersion) -> Self {
        ModelVersion {
            name: v.name,
            version: v.version,
            run_id: v.run_id,
            source: v.source,
            description: v.description,
            creation_timestamp: v.creation_timestamp,
            aliases: v.aliases,
            tags: v.tags.into_iter().map(|kv| (kv.key, kv.value)).collect(),
        }
    }
}

impl ApiRun {
    pub(super) fn into_run(self) -> Run {
        let tags: BTreeMap<String, String> = self
            .data
            .tags
            .into_iter()
            .map(|kv| (kv.key, kv.value))
            .collect();
        let mut metrics: BTreeMap<String, Vec<MetricPoint>> = BTreeMap::new();
        for m in self.data.metrics {
            metrics.entry(m.key).or_default().push(MetricPoint {
                value: m.value,
                timestamp: m.timestamp,
                step: m.step,
            });
        }
        let name = if self.info.run_name.is_empty() {
            tags.get(TAG_RUN_NAME).cloned().unwrap_or_default()
        } else {
            self.info.run_name
        };
        Run {
            run_id: self.info.run_id,
            experiment_id: self.info.experiment_id,
            experiment: String::new(),
            name,
            status: self.info.status.parse().unwrap_or(RunStatus::Running),
            start_time: self.info.start_time.unwrap_or_default(),
            end_time: self.info.end_time,
            parent_run_id: tags.get(TAG_PARENT_RUN_ID).cloned(),
            params: self
                .data
                .params
                .into_iter()
                .map(|kv| (kv.key, kv.value))
                .collect(),
            metrics,
            tags,
            inputs: self
                .inputs
                .dataset_inputs
                .into_iter()
                .map(|i| DatasetInput {
                    name: i.dataset.name,
                    digest: i.dataset.digest,
                    source_type: i.dataset.source_type,
                    source: i.dataset.source,
                    schema: i.dataset.schema,
                    profile: i.dataset.profile,
                    context: i
                        .tags
                        .into_iter()
                        .find(|t| t.key == "mlflow.data.context")
                        .map(|t| t.value),
                })
                .collect(),
            remotes: BTreeMap::new(),
        }
    }
}

pub(super) fn kvs<'a>(pairs: impl IntoIterator<Item = (&'a String, &'a String)>) -> Vec<Value> {
    pairs
        .into_iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect()
}

pub(super) fn metric_json(key: &str, p: &MetricPoint) -> Value {
    let value = if p.value.is_nan() {
        json!("NaN")
    } else if p.value.is_infinite() {
        json!(if p.value > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        })
    } else {
        json!(p.value)
    };
    json!({"key": key, "value": value, "timestamp": p.timestamp, "step": p.step})
}

/// What `experiments/get-by-name` says of an experiment.
#[derive(Deserialize)]
pub(super) struct ServerExperiment {
    pub(super) experiment_id: String,
    /// Epoch ms.
    pub(super) creation_time: Option<i64>,
    /// Where its runs' artifacts go (`mlflow-artifacts:/...` when the server proxies them).
    pub(super) artifact_location: Option<String>,
}
