//! Run artifacts through the server's proxy (`mlflow-artifacts:/` URIs only).

use std::path::Path;

use reqwest::Method;
use serde::Deserialize;

use super::transport::{Body, Inner};
use crate::error::{Result, TrackingError};

/// The scheme of an artifact location behind the server's artifact proxy: the only kind this
/// client reads and writes.
pub(super) const PROXIED_ARTIFACTS: &str = "mlflow-artifacts:";

impl Inner {
    pub(super) async fn list_artifacts(&self, run_id: &str) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct F {
            path: String,
            #[serde(default)]
            is_dir: bool,
        }
        let mut out = Vec::new();
        let mut dirs = vec![String::new()];
        while let Some(dir) = dirs.pop() {
            let mut q = vec![("run_id", run_id.to_string())];
            if !dir.is_empty() {
                q.push(("path", dir));
            }
            let v = self
                .call_q(Method::GET, "artifacts/list", &q, Body::None)
                .await?;
            let files: Option<Vec<F>> = self.decode("artifacts/list", v, "files")?;
            for f in files.unwrap_or_default() {
                if f.is_dir {
                    dirs.push(f.path)
                } else {
                    out.push(f.path)
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// The path under the artifact proxy of artifact `rel` of a run whose artifact root, as the
    /// server gave it, is `artifact_uri`.
    fn artifact_segments(&self, run_id: &str, artifact_uri: &str, rel: &str) -> Result<String> {
        let root = artifact_uri
            .strip_prefix(PROXIED_ARTIFACTS)
            .ok_or_else(|| TrackingError::UnsupportedArtifactUri {
                run_id: run_id.to_string(),
                uri: self.secrets.scrub(artifact_uri),
            })?;
        let root = root.trim_start_matches('/').trim_end_matches('/');
        Ok(format!("{root}/{rel}"))
    }

    /// Uploads the file `file` as artifact `rel` of the run, streamed.
    pub(super) async fn put_artifact(
        &self,
        run_id: &str,
        artifact_uri: &str,
        (rel, file): (&str, &Path),
    ) -> Result<()> {
        let path = self.artifact_segments(run_id, artifact_uri, rel)?;
        self.send(
            Method::PUT,
            &["api/2.0/mlflow-artifacts/artifacts", &path],
            &[],
            Body::File(file.to_path_buf()),
        )
        .await
        .map(drop)
    }

    pub(super) async fn get_artifact(
        &self,
        run_id: &str,
        artifact_uri: &str,
        rel: &str,
    ) -> Result<Vec<u8>> {
        let path = self.artifact_segments(run_id, artifact_uri, rel)?;
        self.send(
            Method::GET,
            &["api/2.0/mlflow-artifacts/artifacts", &path],
            &[],
            Body::None,
        )
        .await
    }

    /// Artifact `rel` of the run into the file `dest`, streamed (see [`Inner::download`]).
    pub(super) async fn get_artifact_to(
        &self,
        run_id: &str,
        artifact_uri: &str,
        (rel, dest): (&str, &Path),
    ) -> Result<u64> {
        let path = self.artifact_segments(run_id, artifact_uri, rel)?;
        self.download(&["api/2.0/mlflow-artifacts/artifacts", &path], dest)
            .await
    }
}
