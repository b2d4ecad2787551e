//! `/api/runs`: start a scheduler run for a day (in the background; 202) and list runs. The
//! run is the one `vongdoi run` and the cron schedule start: claiming the day's lease means two
//! requests, or a request and the schedule, never scan the same day twice at once.

use super::auth::Caller;
use super::citizens::parse_date_field;
use super::permissions::Permission;
use super::problem::{ApiJson, ApiQuery, ApiResult, Problem};
use super::ApiState;
use crate::runtime::shutdown::Shutdown;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunInput {
    pub as_of: Option<String>,
}

pub async fn start(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiJson(input): ApiJson<RunInput>,
) -> ApiResult<Response> {
    caller.may(Permission::StartRun)?;
    let as_of = match input.as_of.as_deref() {
        Some(d) => parse_date_field("as_of", d)?,
        None => crate::clock::today_in_vietnam(),
    };
    // Over the API a run is for today: another day is the operator's decision, taken on the
    // command line (`vongdoi run --as-of`), where the scheduler also refuses a day behind the
    // ledger. Missed days need no run of their own: today's run catches their notices up.
    let today = crate::clock::today_in_vietnam();
    if as_of != today {
        return Err(Problem::field(
            "as_of",
            format!("qua API chỉ chạy được cho hôm nay ({today}); ngày khác do người vận hành chạy bằng `vongdoi run --as-of` / over the API a run is for today ({today}) only; the operator runs another day with `vongdoi run --as-of`"),
        ));
    }
    let state = api.app.clone();
    let key = caller.0.name.clone();
    tracing::info!(%as_of, %key, "run started over the API");
    tokio::spawn(async move {
        // Runs to the end even if the service stops; the lease and checkpoint let the next run
        // of the day resume after a restart.
        crate::app::run_day(&state, as_of, Utc::now(), &Shutdown::never()).await;
    });
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, "/api/runs")],
        Json(json!({"as_of": as_of, "status": "started"})),
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunsQuery {
    pub limit: Option<i64>,
}

pub async fn list(
    State(api): State<Arc<ApiState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<RunsQuery>,
) -> ApiResult<Response> {
    caller.may(Permission::ListRuns)?;
    let limit = q.limit.unwrap_or(30);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::field("limit", "1–1000"));
    }
    Ok(Json(api.app.store.runs(limit).await?).into_response())
}
