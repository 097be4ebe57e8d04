//! The data folder a scenario builds in: `--data DIR` (must be empty) or a
//! fresh temp folder under /tmp; removed at the end unless `--keep`.

use crate::cli::Common;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;

/// A scenario's data folder.
pub(crate) struct DataDir {
    pub(crate) path: PathBuf,
    temp: Option<tempfile::TempDir>,
    remove: bool,
}

impl DataDir {
    /// Creates the folder `--data` names (refusing a non-empty one) or a temp folder.
    pub(crate) fn create(o: &Common) -> Result<DataDir> {
        if let Some(d) = &o.data {
            let fresh = !d.exists()
                || std::fs::read_dir(d)
                    .with_context(|| d.display().to_string())?
                    .next()
                    .is_none();
            if !fresh {
                bail!(
                    "--data {} is not empty; give a fresh folder (or --reuse it for recovery)",
                    d.display()
                );
            }
            std::fs::create_dir_all(d).with_context(|| format!("create {}", d.display()))?;
            return Ok(DataDir {
                path: d.clone(),
                temp: None,
                remove: !o.keep,
            });
        }
        let t = tempfile::Builder::new()
            .prefix("trove-bench-")
            .tempdir_in("/tmp")
            .context("temp dir")?;
        Ok(DataDir {
            path: t.path().to_path_buf(),
            temp: Some(t),
            remove: !o.keep,
        })
    }

    /// Removes the folder, or says where it was kept.
    pub(crate) fn finish(mut self) {
        if self.remove {
            if let Some(t) = self.temp.take() {
                let _ = t.close();
            } else {
                let _ = std::fs::remove_dir_all(&self.path);
            }
        } else {
            if let Some(t) = self.temp.take() {
                let _ = t.keep();
            }
            println!("data folder kept: {}", self.path.display());
        }
    }
}
