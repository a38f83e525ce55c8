//! `chat … --chart FILE.png --record FILE.md`: the finished consultation's
//! chart and decision record, written from the same view models as the
//! Discord attachments.

use std::path::Path;

use crate::app::ConsultView;
use crate::content::Content;
use crate::present::{chart, record};

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("the consultation has no recommendation")]
    NotFinished,
    #[error(transparent)]
    Chart(#[from] chart::ChartError),
    #[error("writing {path}: {source}")]
    Write { path: String, source: std::io::Error },
}

/// The PNG chart of a finished consultation (private or team).
pub fn chart_png(content: &Content, view: &ConsultView) -> Result<Vec<u8>, FilesError> {
    let rec = view.recommendation.as_ref().ok_or(FilesError::NotFinished)?;
    Ok(chart::of_result(content, &view.session, rec, view.unity.as_ref())?)
}

/// The Markdown decision record of a finished consultation.
pub fn record_markdown(content: &Content, view: &ConsultView) -> Result<String, FilesError> {
    let rec = view.recommendation.as_ref().ok_or(FilesError::NotFinished)?;
    Ok(record::of_result(content, &view.session, rec, view.unity.as_ref()))
}

/// Writes the requested files; both are rendered before either is written,
/// so a failure leaves neither half-done.
pub fn write(
    content: &Content,
    view: &ConsultView,
    chart_path: Option<&Path>,
    record_path: Option<&Path>,
) -> Result<(), FilesError> {
    let png = chart_path.map(|_| chart_png(content, view)).transpose()?;
    let md = record_path.map(|_| record_markdown(content, view)).transpose()?;
    let write = |path: &Path, bytes: &[u8]| {
        std::fs::write(path, bytes).map_err(|source| FilesError::Write {
            path: path.display().to_string(),
            source,
        })
    };
    if let (Some(path), Some(png)) = (chart_path, &png) {
        write(path, png)?;
    }
    if let (Some(path), Some(md)) = (record_path, &md) {
        write(path, md.as_bytes())?;
    }
    Ok(())
}
