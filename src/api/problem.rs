//! Errors as RFC 9457 problem details (`application/problem+json`), Vietnamese first then
//! English, with field-level problems for bad input. A response never carries a stack trace,
//! SQL or a database message: those go to the log (without personal data) and the caller gets
//! a request id to quote.

use axum::body::Body;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// One field that was wrong, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: String,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    pub detail: String,
    pub errors: Vec<FieldProblem>,
    /// Seconds, for 429 and 503.
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = std::result::Result<T, Problem>;

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 400 naming one field.
    pub fn field(field: &str, reason: impl Into<String>) -> Problem {
        Problem::fields(vec![FieldProblem {
            field: field.to_string(),
            reason: reason.into(),
        }])
    }

    /// 400 naming every field that was wrong.
    pub fn fields(errors: Vec<FieldProblem>) -> Problem {
        Problem {
            errors,
            ..Problem::bad_request("dữ liệu không hợp lệ / invalid input: see errors")
        }
    }

    pub fn unauthorized() -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "cần khóa API hợp lệ (Authorization: Bearer KHÓA) hoặc phiên đăng nhập trang cán bộ / a valid API key (Authorization: Bearer KEY) or a staff session is required",
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::CONFLICT, detail)
    }

    /// A failure inside: logged here, without the caller's data; the response says only
    /// "try again".
    pub fn internal(context: &str, e: impl std::fmt::Display) -> Problem {
        tracing::error!(context, error = %e, "request failed");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "lỗi hệ thống, vui lòng thử lại sau / internal error, please try again later",
        )
    }

    pub fn retry(mut self, seconds: u64) -> Problem {
        self.retry_after = Some(seconds);
        self
    }

    fn title(&self) -> &'static str {
        match self.status.as_u16() {
            400 => "Dữ liệu không hợp lệ / Bad request",
            401 => "Chưa xác thực / Unauthorized",
            403 => "Không có quyền / Forbidden",
            404 => "Không tìm thấy / Not found",
            405 => "Phương thức không được phép / Method not allowed",
            408 => "Quá thời gian / Request timeout",
            409 => "Xung đột / Conflict",
            413 => "Nội dung quá lớn / Content too large",
            415 => "Kiểu nội dung không hỗ trợ / Unsupported media type",
            422 => "Dữ liệu không hợp lệ / Unprocessable content",
            429 => "Quá nhiều yêu cầu / Too many requests",
            _ if self.status.is_server_error() => "Lỗi hệ thống / Server error",
            _ => "Lỗi / Error",
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "type": "about:blank",
            "title": self.title(),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if !self.errors.is_empty() {
            v["errors"] = serde_json::to_value(&self.errors).expect("strings");
        }
        v
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut res = Response::new(Body::from(self.to_json().to_string()));
        *res.status_mut() = self.status;
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(s) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

impl From<crate::store::StoreError> for Problem {
    fn from(e: crate::store::StoreError) -> Problem {
        match e {
            crate::store::StoreError::Conflict(m) => Problem::conflict(m),
            e => Problem::internal("store", e),
        }
    }
}

/// A JSON body whose rejections are problem details: 413 over the limit, 415 without
/// `Content-Type: application/json`, 400 for syntax or a field of the wrong type.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;
    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(r) => Err(json_rejection(r)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> Problem {
    let status = r.status();
    match r {
        JsonRejection::MissingJsonContentType(_) => Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "cần Content-Type: application/json / Content-Type: application/json is required",
        ),
        JsonRejection::JsonDataError(e) => Problem::field(
            "body",
            format!(
                "dữ liệu JSON sai kiểu / JSON of the wrong shape: {}",
                e.body_text()
            ),
        ),
        JsonRejection::JsonSyntaxError(_) => {
            Problem::field("body", "JSON không đúng cú pháp / malformed JSON")
        }
        _ if status == StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        _ => Problem::bad_request("không đọc được nội dung / cannot read the request body"),
    }
}

pub fn too_large() -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "nội dung vượt quá {} KiB / the body is over the {} KiB limit",
            super::BODY_LIMIT / 1024,
            super::BODY_LIMIT / 1024
        ),
    )
}

/// Query parameters whose rejections are problem details.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(Problem::field(
                "query",
                format!(
                    "tham số không hợp lệ / bad query parameter: {}",
                    e.body_text()
                ),
            )),
            Err(_) => Err(Problem::field(
                "query",
                "tham số không hợp lệ / bad query parameters",
            )),
        }
    }
}

/// Path parameters whose rejections are problem details.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Problem;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(PathRejection::FailedToDeserializePathParams(_)) => Err(Problem::field(
                "path",
                "tham số đường dẫn không hợp lệ / bad path parameter",
            )),
            Err(_) => Err(Problem::bad_request("đường dẫn không hợp lệ / bad path")),
        }
    }
}

/// Turns what the framework and the tower layers answer on their own (unknown route 404, 405,
/// 413 from the body limit, 408 from the timeout) into problem details too, so a client sees
/// one error format. Responses that already have a content type are left alone.
pub async fn problems_everywhere(req: Request, next: axum::middleware::Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let typed = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/problem+json") || t.starts_with("text/html"));
    if typed {
        return res;
    }
    let detail = match status.as_u16() {
        404 => "không có địa chỉ này / no such resource (see /openapi.json)",
        405 => "phương thức không được phép / method not allowed on this resource",
        408 => "xử lý quá thời gian cho phép / the request took too long",
        413 => return too_large().into_response(),
        _ => "yêu cầu không được xử lý / the request could not be handled",
    };
    let mut p = Problem::new(status, detail).into_response();
    if let Some(allow) = res.headers().get(header::ALLOW) {
        p.headers_mut().insert(header::ALLOW, allow.clone());
    }
    p
}
