//! The model registry: registered models, versions and aliases.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::transport::{Body, Inner};
use super::wire::{ApiModelVersion, kvs};
use crate::error::{Result, TrackingError};
use crate::model::ModelVersion;

impl Inner {
    pub(super) async fn create_registered_model(&self, name: &str) -> Result<()> {
        crate::model::validate_name("model name", name)?;
        match self
            .call(
                Method::POST,
                "registered-models/create",
                Body::Json(json!({"name": name})),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(TrackingError::Api {
                code: Some(code), ..
            }) if code == "RESOURCE_ALREADY_EXISTS" => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn create_model_version(
        &self,
        name: &str,
        run_id: &str,
        source: &str,
        description: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<ModelVersion> {
        let body = json!({"name": name, "source": source, "run_id": run_id, "description": description, "tags": kvs(tags)});
        let v = self
            .call(Method::POST, "model-versions/create", Body::Json(body))
            .await
            .map_err(|e| e.not_found_as(|| TrackingError::ModelNotFound(name.to_string())))?;
        let mv: ApiModelVersion = self.decode("model-versions/create", v, "model_version")?;
        Ok(mv.into())
    }

    pub(super) async fn get_version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<Option<ModelVersion>> {
        let q = [("name", name.to_string()), ("alias", alias.to_string())];
        match self
            .call_q(Method::GET, "registered-models/alias", &q, Body::None)
            .await
        {
            Ok(v) => {
                let mv: ApiModelVersion =
                    self.decode("registered-models/alias", v, "model_version")?;
                Ok(Some(mv.into()))
            }
            Err(e) if e.is_not_found() => Err(TrackingError::ModelNotFound(name.to_string())),
            Err(TrackingError::Api {
                status: 400,
                code: Some(code),
                ..
            }) if code == "INVALID_PARAMETER_VALUE" => {
                // MLflow answers 400 for a missing alias; tell it apart from a bad alias name.
                crate::model::validate_alias(alias)?;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    pub(super) async fn list_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        #[derive(Deserialize)]
        struct Alias {
            alias: String,
            version: String,
        }
        let v = self
            .call_q(
                Method::GET,
                "registered-models/get",
                &[("name", name.to_string())],
                Body::None,
            )
            .await
            .map_err(|e| e.not_found_as(|| TrackingError::ModelNotFound(name.to_string())))?;
        let model = v.get("registered_model").cloned().unwrap_or_default();
        let aliases: Vec<Alias> =
            serde_json::from_value(model.get("aliases").cloned().unwrap_or(json!([])))
                .unwrap_or_default();
        let query = [
            ("filter", format!("name='{name}'")),
            ("max_results", "1000".to_string()),
        ];
        let versions: Vec<ApiModelVersion> = self
            .get_all_pages("model-versions/search", &query, "model_versions")
            .await?;
        let mut out: Vec<ModelVersion> = versions.into_iter().map(ModelVersion::from).collect();
        for v in &mut out {
            v.aliases = aliases
                .iter()
                .filter(|a| a.version == v.version)
                .map(|a| a.alias.clone())
                .collect();
            v.aliases.sort();
        }
        out.sort_by_key(|v| v.version.parse::<u64>().unwrap_or(u64::MAX));
        Ok(out)
    }
}
