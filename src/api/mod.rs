//! The JSON API and staff pages under `vongdoi serve` (issue #6). Mounted by `serve::http`
//! beside `/healthz` and the delivery-report webhook.

use crate::serve::AppState;
use axum::Router;

/// Routes of the API and the staff pages; empty until issue #6 lands.
pub fn router(_state: AppState) -> Router {
    Router::new()
}
