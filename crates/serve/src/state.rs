//! What every request reads: the store, the loaded model and pages computed once at start-up.
//! Nothing in it changes after construction, so requests can never change server state.

use std::sync::Arc;

use esteira_core::ArtifactStore;

use crate::card::model_card;
use crate::load::LoadedModel;
use crate::rows::InputSchema;
use crate::{ServeError, form};

/// The default request body limit: 2 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// The default limit on rows per request (`POST /api/predict` and `POST /api/predict.csv`):
/// more get 413 before any row is checked, so the memory and time of one request stay bounded
/// whatever its body holds. `esteira predict` scores files of any size.
pub const DEFAULT_MAX_ROWS: usize = 10_000;

/// The server's immutable state; cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn ArtifactStore>,
    pub(crate) loaded: LoadedModel,
    pub(crate) inputs: InputSchema,
    /// The model card, serialised once.
    pub(crate) card: Vec<u8>,
    /// The calibration's part of every predict answer, built once.
    pub(crate) calibration_card: serde_json::Value,
    /// The empty form page, rendered once.
    pub(crate) form_page: String,
    pub(crate) body_limit: usize,
    pub(crate) max_rows: usize,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.inner.store.describe())
            .field("model", &self.inner.loaded.hash)
            .field("run", &self.inner.loaded.run_id)
            .field("body_limit", &self.inner.body_limit)
            .field("max_rows", &self.inner.max_rows)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Loads the model to serve (see [`LoadedModel::load`]) and prepares the state.
    pub fn load(store: Arc<dyn ArtifactStore>, run: Option<&str>, model: Option<&str>) -> Result<Self, ServeError> {
        Self::load_with(store, run, model, true)
    }

    /// [`AppState::load`], reading the calibrator only when `calibrate` (see
    /// [`LoadedModel::load_with`]).
    pub fn load_with(
        store: Arc<dyn ArtifactStore>,
        run: Option<&str>,
        model: Option<&str>,
        calibrate: bool,
    ) -> Result<Self, ServeError> {
        let loaded = LoadedModel::load_with(store.as_ref(), run, model, calibrate)?;
        Ok(Self::new(store, loaded))
    }

    /// State serving an already loaded model; the store backs the run browser and downloads.
    pub fn new(store: Arc<dyn ArtifactStore>, loaded: LoadedModel) -> Self {
        let inputs = InputSchema::new(&loaded.model);
        let card = model_card(&loaded, &inputs.columns);
        let form_page = form::render(&loaded, &inputs.columns, &std::collections::BTreeMap::new(), &[], None);
        let calibration_card = loaded.calibration.card();
        let inner = Inner {
            store,
            loaded,
            inputs,
            card,
            calibration_card,
            form_page,
            body_limit: DEFAULT_BODY_LIMIT,
            max_rows: DEFAULT_MAX_ROWS,
        };
        Self { inner: Arc::new(inner) }
    }

    /// A copy of the state with one setting changed.
    fn with(self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            store: shared.store.clone(),
            loaded: shared.loaded.clone(),
            inputs: shared.inputs.clone(),
            card: shared.card.clone(),
            calibration_card: shared.calibration_card.clone(),
            form_page: shared.form_page.clone(),
            body_limit: shared.body_limit,
            max_rows: shared.max_rows,
        });
        change(&mut inner);
        Self { inner: Arc::new(inner) }
    }

    /// Sets the largest request body accepted (bigger ones get 413).
    #[must_use]
    pub fn with_body_limit(self, bytes: usize) -> Self {
        self.with(|i| i.body_limit = bytes)
    }

    /// Sets the most rows one request may carry (more get 413); default [`DEFAULT_MAX_ROWS`].
    #[must_use]
    pub fn with_max_rows(self, rows: usize) -> Self {
        self.with(|i| i.max_rows = rows)
    }

    /// The served model and where it came from.
    pub fn model(&self) -> &LoadedModel {
        &self.inner.loaded
    }

    /// The request body limit in bytes.
    pub fn body_limit(&self) -> usize {
        self.inner.body_limit
    }

    /// The most rows one request may carry.
    pub fn max_rows(&self) -> usize {
        self.inner.max_rows
    }
}
