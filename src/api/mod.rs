//! The JSON API and staff pages under `vongdoi serve` (issue #6). Mounted by `serve::http`
//! beside `/healthz` and the delivery-report webhook.
//!
//! - [`keys`]: roles, areas, key material (the `vongdoi keys …` command is in `src/cli/keys.rs`).
//! - [`auth`]: `Authorization: Bearer KEY` → the key's role and area; per-key rate limit.
//! - [`audit`]: one row per read or change of a person's data, committed before answering.
//! - [`citizens`], [`reports`], [`places`], [`facilities`], [`messages`], [`runs`]: the `/api`
//!   handlers.
//! - [`fair`]: one expensive request per key, a bounded number in all.
//! - [`problem`]: RFC 9457 problem details for every error.
//! - [`openapi`]: the route table that builds both the router and `/openapi.json`.
//! - [`pages`]: server-rendered staff pages (login with a key, session cookie).
//!
//! Hardening is applied here to these routes only: request ids, a trace span per request that
//! names the route template (never the URI, which may hold a personal ID), a body limit, a
//! timeout, security headers, `Cache-Control: no-store` (personal data must not sit in caches).

pub mod accounts;
pub mod alerts;
pub mod audit;
pub mod auth;
pub mod citizens;
pub mod facilities;
pub mod fair;
pub mod inbox;
pub mod keys;
pub mod messages;
pub mod openapi;
pub mod pages;
pub mod permissions;
pub mod places;
pub mod problem;
pub mod reports;
pub mod runs;

use crate::app::AppState;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use keys::Role;
use openapi::{Doc, Routes};
use permissions::Permission;
use std::sync::Arc;
use std::time::Duration;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// The client's address, on the plain and the TLS listener alike: handlers read it as
/// `ConnectInfo<Peer>` (`serve` fills it in for both kinds of listener).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub std::net::SocketAddr);

/// Set by `serve`'s own TLS listener on each request it decrypted, so cookies get `Secure`.
pub const TLS_MARKER: &str = "x-vongdoi-tls";

/// Largest request body accepted (JSON edits and forms are small). A route that takes a file
/// says its own larger limit (`Doc::body_limit`: school places, [`places::UPLOAD_LIMIT`];
/// facilities, [`facilities::UPLOAD_LIMIT`]); the outer limit of every request is the largest
/// of them, [`UPLOAD_LIMIT`].
pub const BODY_LIMIT: usize = 64 * 1024;
/// The largest body any route takes.
pub const UPLOAD_LIMIT: usize = if places::UPLOAD_LIMIT > facilities::UPLOAD_LIMIT {
    places::UPLOAD_LIMIT
} else {
    facilities::UPLOAD_LIMIT
};
/// Longest a request may take; a report over a province's registry fits well within it.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// What the API handlers share: the service's state and what only the API needs.
pub struct ApiState {
    pub app: AppState,
    pub keys: auth::KeyCache,
    pub limiter: auth::RateLimiter,
    /// Wrong passwords per client address (`accounts`).
    pub throttle: accounts::AddressThrottle,
    pub audit: audit::AuditSink,
    /// Slots for the expensive requests (lists, reports): see [`fair`].
    pub heavy: fair::HeavyWork,
    /// The OpenAPI document, built once from the route table.
    pub openapi: serde_json::Value,
    pub docs_page: String,
}

/// Every route with its documentation. The router and `/openapi.json` both come from here.
pub fn routes() -> Routes<Arc<ApiState>> {
    use citizens as c;
    let errors_read: &'static [u16] = &[400, 401, 403, 404, 503];
    let errors_write: &'static [u16] = &[400, 403, 404, 409, 413, 415, 503];
    Routes::new()
        .add(
            Doc { tag: "citizens", roles: Permission::ReadCitizen.roles(), ok: (200, "application/json", Some("Citizen")), errors: errors_read,
                  ..Doc::new("get", "/api/citizens/{pin}", "Một công dân với hộ, người giám hộ, hồ sơ và lịch sử (ETag) / One citizen with household, guardians, records and history (ETag)") },
            c::get_citizen,
        )
        .add(
            Doc { tag: "citizens", roles: Permission::EditRegistry.roles(), body: Some("CitizenInput"), ok: (201, "application/json", None), errors: errors_write,
                  ..Doc::new("post", "/api/citizens", "Thêm công dân (409 nếu đã có) / Register a citizen (409 if registered)") },
            c::create_citizen,
        )
        .add(
            Doc { tag: "citizens", roles: Permission::EditRegistry.roles(), body: Some("CitizenPatch"), errors: errors_write,
                  ..Doc::new("patch", "/api/citizens/{pin}", "Sửa công dân, ghi lịch sử; If-Match chống ghi đè (409) / Edit a citizen with history; If-Match against lost updates (409)") },
            c::patch_citizen,
        )
        .add(
            Doc { tag: "citizens", roles: Permission::RecordDose.roles(), body: Some("ImmunizationInput"), ok: (201, "application/json", None), errors: errors_write,
                  ..Doc::new("post", "/api/citizens/{pin}/immunizations", "Ghi một mũi tiêm (409 nếu đã ghi) / Record a dose (409 if recorded)") },
            c::post_immunization,
        )
        .add(
            Doc { tag: "citizens", roles: Permission::RecordDose.roles(), query: &[("reason", "string", "Lý do xóa (bắt buộc) / why it is removed (required)")],
                  ok: (200, "application/json", None), errors: &[400, 403, 404, 503],
                  ..Doc::new("delete", "/api/citizens/{pin}/immunizations/{vaccine}/{date}", "Xóa một mũi ghi sai, kèm lý do; giữ trong lịch sử và nhật ký / Remove a wrongly recorded dose with its reason; kept in the history and the audit trail") },
            c::delete_immunization,
        )
        .add(
            Doc { tag: "citizens", roles: Permission::RecordIdCard.roles(), body: Some("IdCardInput"), ok: (201, "application/json", None), errors: errors_write,
                  ..Doc::new("post", "/api/citizens/{pin}/id-cards", "Ghi một lần cấp thẻ căn cước / Record an ID card issued") },
            c::post_id_card,
        )
        .add(
            Doc { tag: "citizens", roles: Permission::ReadForecast.roles(), query: &[("as_of", "string", "YYYY-MM-DD (mặc định hôm nay / default today)")],
                  ok: (200, "application/json", Some("Forecast")), errors: errors_read,
                  ..Doc::new("get", "/api/citizens/{pin}/forecast", "Dự báo vòng đời, như `vongdoi forecast --format json` / Lifecycle forecast, as `vongdoi forecast --format json`") },
            c::get_forecast,
        )
        .add(
            Doc { tag: "citizens", roles: Permission::ReadAccessLog.roles(), ok: (200, "application/json", Some("AccessLog")), errors: errors_read,
                  ..Doc::new("get", "/api/citizens/{pin}/access-log", "Ai đã đọc hoặc sửa dữ liệu của người này / Who read or changed this person's data") },
            c::get_access_log,
        )
        .add(
            Doc { tag: "reports", roles: &[Role::Health, Role::Registrar, Role::Education], by_kind: reports::KINDS,
                  query: &[
                      ("province", "array", "Mã tỉnh, lặp lại được / province code, repeatable"),
                      ("commune", "array", "Mã xã, lặp lại được / commune code, repeatable"),
                      ("as_of", "string", "YYYY-MM-DD"),
                      ("format", "string", "json | csv | xlsx | html"),
                      ("lang", "string", "vi | en"),
                      ("status", "array", "vaccination, id-cards: due | overdue"),
                      ("due_within", "integer", "vaccination, id-cards: days"),
                      ("years", "integer", "enrolment: school years"),
                      ("cohort", "string", "coverage: year | month"),
                      ("cohorts", "integer", "coverage: how many cohorts"),
                      ("explain", "boolean", "coverage: list the children counted (health)"),
                  ],
                  ok: (200, "application/json", None), errors: &[400, 403, 404, 503],
                  ..Doc::new("get", "/api/reports/{kind}", "Báo cáo: vaccination (y tế), id-cards (hộ tịch), enrolment, coverage; giới hạn trong địa bàn của khóa / Reports: vaccination (health), id-cards (registrar), enrolment, coverage; limited to the key's area") },
            reports::report,
        )
        .add(
            Doc { tag: "reports", roles: Permission::UploadPlaces.roles(), ok: (200, "application/json", None), errors: &[400, 403, 413],
                  body_limit: Some(places::UPLOAD_LIMIT), file_body: &["text/csv", reports::XLSX, "application/octet-stream"],
                  ..Doc::new("put", "/api/school-places", "Tải lên số chỗ học: tệp CSV hoặc xlsx `commune_code,level,capacity[,school_year][,school]` (tiêu đề tiếng Việt được), các trường của một xã cộng lại; thay số chỗ của các xã trong tệp; dòng sai báo theo dòng và cột, dòng đúng được lưu / Upload school places: the CSV or xlsx file itself as the body, `commune_code,level,capacity[,school_year][,school]` (Vietnamese headers accepted); a commune's schools add up; replaces the places of the communes the file names; bad rows reported by line and field, good rows stored: {stored, communes, errors: [{line, field, reason}]}") },
            places::put_places,
        )
        .add(
            Doc { tag: "reports", roles: Permission::Enrolment.roles(),
                  query: &[("province", "array", "Mã tỉnh / province code"), ("commune", "array", "Mã xã / commune code")],
                  ok: (200, "application/json", None), errors: &[400, 403],
                  ..Doc::new("get", "/api/school-places", "Số chỗ học đã lưu trong địa bàn: theo xã, trường, cấp, năm học; ai tải lên, lúc nào / The stored school places of the area: per commune, school, level and year; who uploaded them, when: {places: [...]}") },
            places::get_places,
        )
        .add(
            Doc { tag: "facilities", roles: Permission::ReadFacilities.roles(),
                  query: &[("province", "array", "Mã tỉnh / province code"), ("commune", "array", "Mã xã / commune code"), ("as_of", "string", "YYYY-MM-DD: next_session on or after (default today)")],
                  ok: (200, "application/json", None), errors: &[400, 403],
                  ..Doc::new("get", "/api/facilities", "Trạm y tế, công an, trường của địa bàn: địa chỉ, điện thoại, giờ làm việc, ngày tiêm, buổi tiêm tới / The area's health stations, police posts and schools: address, phone, hours, session days, next session: {as_of, facilities: [...]}") },
            facilities::get_facilities,
        )
        .add(
            Doc { tag: "facilities", roles: Permission::ManageFacilities.roles(), ok: (200, "application/json", None), errors: &[400, 403, 413, 503],
                  body_limit: Some(facilities::UPLOAD_LIMIT), file_body: &["text/csv", "application/octet-stream"],
                  ..Doc::new("put", "/api/facilities", "Tải lên cơ sở: tệp CSV `commune_code,kind,name,address,phone,hours,session_days` (kind: health, police, school; tiêu đề tiếng Việt được); dòng y tế, công an thay cơ sở của xã, trường theo tên; dòng sai báo theo dòng và cột, dòng đúng được lưu / Upload facilities: the CSV file itself as the body, `commune_code,kind,name,address,phone,hours,session_days` (kind: health, police or school; Vietnamese headers accepted); a health or police row replaces the commune's, schools go by name; bad rows reported by line and field, good rows stored: {stored, changed, communes, errors: [{line, field, reason}]}") },
            facilities::put_facilities,
        )
        .add(
            Doc { tag: "delivery", roles: Permission::Messages.roles(),
                  query: &[("status", "string", "queued | sending | sent | delivered | failed | dead"), ("channel", "string", "sms | email"),
                           ("day", "string", "YYYY-MM-DD"), ("limit", "integer", "1–1000, default 100")],
                  ok: (200, "application/json", Some("Messages")), errors: &[400, 403],
                  ..Doc::new("get", "/api/messages", "Tin nhắn (người nhận che bớt) / Messages (recipients masked)") },
            messages::list,
        )
        .add(
            Doc { tag: "delivery", roles: Permission::Messages.roles(), errors: &[403, 404, 409],
                  ..Doc::new("post", "/api/messages/{id}/retry", "Gửi lại tin nhắn hỏng / Queue a failed or dead message again") },
            messages::retry,
        )
        .add(
            Doc { tag: "delivery", roles: Permission::StartRun.roles(), body: Some("RunInput"), ok: (202, "application/json", None), errors: &[400, 403, 413, 415],
                  ..Doc::new("post", "/api/runs", "Bắt đầu lượt chạy cho một ngày (chạy nền) / Start a run for a day (in the background)") },
            runs::start,
        )
        .add(
            Doc { tag: "delivery", roles: Permission::ListRuns.roles(), query: &[("limit", "integer", "1–1000, default 30")],
                  ok: (200, "application/json", Some("Runs")), errors: &[400, 403],
                  ..Doc::new("get", "/api/runs", "Các lượt chạy gần nhất / Latest runs") },
            runs::list,
        )
        .add(
            Doc { tag: "alerts", roles: Permission::DraftAlerts.roles(), body: Some("AlertDraft"), ok: (201, "application/json", None), errors: errors_write,
                  ..Doc::new("post", "/api/alerts", "Soạn cảnh báo dịch: địa bàn, độ tuổi, điều kiện mũi tiêm; tính ngay danh sách trẻ và tin nhắn (mỗi hộ một tin) / Draft an outbreak alert: area, age band, dose conditions; its audience and messages (one per household) are computed at once: {name, template, as_of, provinces, communes, age_from, age_to, conditions: [{series, valid_doses_below | overdue}], outcome_days}") },
            alerts::create,
        )
        .add(
            Doc { tag: "alerts", roles: Permission::ReadAlerts.roles(), query: &[("limit", "integer", "1–1000, default 100")], ok: (200, "application/json", None), errors: &[400, 403],
                  ..Doc::new("get", "/api/alerts", "Các cảnh báo trong địa bàn, mới nhất trước / The area's alerts, newest first") },
            alerts::list,
        )
        .add(
            Doc { tag: "alerts", roles: Permission::ReadAlerts.roles(), ok: (200, "application/json", None), errors: errors_read,
                  ..Doc::new("get", "/api/alerts/{id}", "Một cảnh báo: trạng thái, các bước (ai soạn, duyệt, huỷ), kết quả gửi / One alert: status, steps (who drafted, approved, cancelled), totals of reach") },
            alerts::get,
        )
        .add(
            Doc { tag: "alerts", roles: Permission::ReadAlerts.roles(), ok: (200, "application/json", None), errors: errors_read,
                  ..Doc::new("get", "/api/alerts/{id}/preview", "Xem trước khi duyệt: số trẻ theo xã, số hộ, trẻ không có liên hệ, tin theo kênh, số phần SMS và chi phí ước tính, tin mẫu, thời gian gửi, số tin ngoài giờ gửi / Before approving: children per commune, households, without contact, messages per channel, SMS parts and estimated cost, sample texts, send time, SMS outside the window: {total, by_commune, without_contact, …}") },
            alerts::preview,
        )
        .add(
            Doc { tag: "alerts", roles: Permission::DraftAlerts.roles(), ok: (200, "application/json", None), errors: &[403, 404, 409],
                  ..Doc::new("post", "/api/alerts/{id}/submit", "Gửi bản nháp để người thứ hai duyệt / Submit a draft for a second person's approval") },
            alerts::submit,
        )
        .add(
            Doc { tag: "alerts", roles: Permission::ApproveAlerts.roles(), ok: (200, "application/json", None), errors: &[403, 404, 409],
                  ..Doc::new("post", "/api/alerts/{id}/approve", "Duyệt và gửi: tài khoản thứ hai có địa bàn gồm mọi xã của cảnh báo; không tự duyệt (403) / Approve and send: a second account whose area covers every commune of the alert; never one's own (403)") },
            alerts::approve,
        )
        .add(
            Doc { tag: "alerts", roles: Permission::DraftAlerts.roles(), ok: (200, "application/json", None), errors: &[400, 403, 404, 409],
                  ..Doc::new("post", "/api/alerts/{id}/cancel", "Huỷ: dừng ngay mọi tin chưa gửi; trả về đã gửi / chưa gửi (chi tiết ở …/messages) / Cancel: stops every message not yet sent at once; answers what was and was not sent (per message at …/messages); body {reason} optional") },
            alerts::cancel,
        )
        .add(
            Doc { tag: "alerts", roles: Permission::ReadAlerts.roles(), query: &[("format", "string", "json | xlsx"), ("lang", "string", "vi | en")], ok: (200, "application/json", None), errors: errors_read,
                  ..Doc::new("get", "/api/alerts/{id}/reach", "Kết quả theo xã: số trẻ, không liên hệ, chờ gửi, đã gửi, đến máy, hỏng, huỷ, đã tiêm trong outcome_days ngày sau khi duyệt / Reach per commune: targeted, no contact, pending, sent, delivered, failed, cancelled, dose recorded within outcome_days of approval") },
            alerts::reach,
        )
        .add(
            Doc { tag: "alerts", roles: Permission::CampaignList.roles(), query: &[("commune", "string", "Mã xã / commune code"), ("format", "string", "json | xlsx"), ("lang", "string", "vi | en")], ok: (200, "application/json", None), errors: errors_read,
                  ..Doc::new("get", "/api/alerts/{id}/worklist", "Danh sách tiêm vét: trẻ, số mũi hợp lệ, người giám hộ và số điện thoại, tin đã gửi chưa (ghi nhật ký truy cập) / The catch-up worklist: children, valid doses, guardian and phone, whether the message went (audited)") },
            alerts::worklist,
        )
        .add(
            Doc { tag: "alerts", roles: Permission::CampaignList.roles(), query: &[("after", "string", "id tin cuối trang trước / last id of the previous page"), ("limit", "integer", "1–10000, default 1000")], ok: (200, "application/json", None), errors: errors_read,
                  ..Doc::new("get", "/api/alerts/{id}/messages", "Từng tin của cảnh báo và kết quả: ai đã được gửi, ai chưa (địa chỉ che bớt) / Each message of the alert and its outcome: who was and was not sent (addresses masked)") },
            alerts::messages,
        )
        .add(
            Doc { tag: "inbox", roles: Permission::Inbox.roles(), query: &[("commune", "string", "Mã xã / commune code"), ("status", "string", "open (mặc định / default) | done | handled | all"), ("limit", "integer", "1–1000, default 100")], ok: (200, "application/json", None), errors: &[400, 403],
                  ..Doc::new("get", "/api/inbox", "Tin nhắn người dân gửi đến xã: nội dung, số (che bớt), tin nó trả lời, trẻ liên quan, đã làm gì; số liệu thời gian trả lời (ghi nhật ký truy cập) / Families' replies to the commune: text, number (masked), the message answered, the child, what was done; response-time figures (audited): {figures, replies}") },
            inbox::list,
        )
        .add(
            Doc { tag: "inbox", roles: Permission::Inbox.roles(), ok: (200, "application/json", None), errors: &[400, 403, 404],
                  ..Doc::new("post", "/api/inbox/{id}/reply", "Trả lời qua SMS (qua hàng đợi gửi, cùng giờ gửi và giới hạn); đánh dấu đã xong / Answer by SMS (through the outbox: the same window and limits); marks it done: {text}") },
            inbox::reply,
        )
        .add(
            Doc { tag: "inbox", roles: Permission::Inbox.roles(), ok: (200, "application/json", None), errors: &[403, 404],
                  ..Doc::new("post", "/api/inbox/{id}/done", "Đánh dấu đã xong, không trả lời / Mark done without answering") },
            inbox::done,
        )
        .add(
            Doc { tag: "inbox", roles: Permission::VaccinationList.roles(), query: &[("commune", "string", "Mã xã / commune code"), ("status", "string", "pending (mặc định / default) | confirmed | rejected")], ok: (200, "application/json", None), errors: &[400, 403],
                  ..Doc::new("get", "/api/reported-doses", "Mũi tiêm gia đình báo (nhắn ĐÃ TIÊM), chờ cán bộ y tế xác nhận; chưa tính là mũi tiêm (ghi nhật ký truy cập) / Doses families reported (texted DA TIEM), waiting for a nurse; not a dose until confirmed (audited): {reported_doses}") },
            inbox::reported,
        )
        .add(
            Doc { tag: "inbox", roles: Permission::RecordDose.roles(), ok: (200, "application/json", None), errors: &[400, 403, 404, 409],
                  ..Doc::new("post", "/api/reported-doses/{id}/confirm", "Xác nhận: ghi mũi tiêm như mọi mũi (cùng kiểm tra) / Confirm: recorded as any dose is (the same checks): {vaccine, date_given, place?, lot?}") },
            inbox::confirm,
        )
        .add(
            Doc { tag: "inbox", roles: Permission::RecordDose.roles(), ok: (200, "application/json", None), errors: &[403, 404, 409],
                  ..Doc::new("post", "/api/reported-doses/{id}/reject", "Không xác nhận: không ghi mũi tiêm / Reject: no dose is recorded") },
            inbox::reject,
        )
        .add(
            Doc { tag: "meta", roles: Permission::SignedIn.roles(), ok: (200, "application/json", Some("Session")), errors: &[401],
                  ..Doc::new("get", "/api/session", "Ai đang đăng nhập và mã X-CSRF-Token của phiên / Who is signed in, and the session's X-CSRF-Token") },
            accounts::get_session,
        )
        .add(
            Doc { tag: "meta", public: true, errors: &[],
                  ..Doc::new("get", "/openapi.json", "Tài liệu OpenAPI 3.1 này / This OpenAPI 3.1 document") },
            openapi_json,
        )
        .add(
            Doc { tag: "meta", public: true, errors: &[], ok: (200, "text/html", None),
                  ..Doc::new("get", "/docs", "Trang tài liệu / Documentation page") },
            docs,
        )
        // Served by `serve::http` beside this router; documented here.
        .external(Doc { tag: "meta", public: true, errors: &[503],
                        ..Doc::new("get", "/healthz", "Tình trạng (cơ sở dữ liệu) / Health (database)") })
        .external(Doc { tag: "delivery", public: true, errors: &[400, 401, 404, 503],
                        ..Doc::new("post", "/webhooks/sms", "Báo cáo gửi từ cổng SMS; cần mã VONGDOI_WEBHOOK_TOKEN (401 nếu thiếu, trừ khi VONGDOI_WEBHOOK_ALLOW_UNSIGNED=1) / SMS gateway delivery report; needs VONGDOI_WEBHOOK_TOKEN (401 without it, unless VONGDOI_WEBHOOK_ALLOW_UNSIGNED=1)") })
        .external(Doc { tag: "inbox", public: true, errors: &[400, 401, 503],
                        ..Doc::new("post", "/webhooks/sms/inbound", "Tin nhắn người dân gửi đến (dạng chung): {id, from, text, received_at}; cần mã VONGDOI_WEBHOOK_TOKEN; cùng id hai lần là một tin / An SMS a family sent (generic shape): {id, from, text, received_at}; needs VONGDOI_WEBHOOK_TOKEN; the same id twice is one message") })
        .external(Doc { tag: "inbox", public: true, errors: &[400, 401, 503], ok: (200, "application/xml", None),
                        ..Doc::new("get", "/webhooks/sms/inbound", "Tin MO của eSMS (đầu số 8x40): sender, content, smsid, receiverTime, cpid, sign (Base64(MD5(cpid+smsid+content+receiverTime+khoá)) khi đặt VONGDOI_ESMS_MO_KEY, không thì cần mã webhook) / eSMS's MO callback (8x40 short codes): sender, content, smsid, receiverTime, cpid, sign (checked with VONGDOI_ESMS_MO_KEY; else the webhook token)") })
        .external(Doc { tag: "delivery", public: true, errors: &[400, 401, 404, 503],
                        ..Doc::new("post", "/webhooks/zalo", "Sự kiện Zalo OA: user_received_message đánh dấu tin ZNS đã đến máy (sự kiện khác: 200, bỏ qua); cần mã VONGDOI_WEBHOOK_TOKEN hoặc chữ ký X-ZEvent-Signature (VONGDOI_ZNS_OA_SECRET) / Zalo OA event: user_received_message marks the ZNS delivered (other events: 200, ignored); needs VONGDOI_WEBHOOK_TOKEN or the X-ZEvent-Signature (VONGDOI_ZNS_OA_SECRET)") })
        .external(Doc { tag: "delivery", public: true, errors: &[410, 503], ok: (200, "text/html", None),
                        ..Doc::new("get", "/unsubscribe/{id}", "Trang ngừng nhận email nhắc lịch (liên kết List-Unsubscribe của email) / Stop reminder emails: the email's List-Unsubscribe link asks first") })
        .external(Doc { tag: "delivery", public: true, errors: &[410, 503], ok: (200, "text/html", None),
                        ..Doc::new("post", "/unsubscribe/{id}", "Ngừng nhận email nhắc lịch: người nhận thư không nhận email nữa (RFC 8058, một lần bấm) / Stop reminder emails: the message's recipient is opted out of email (RFC 8058 one-click)") })
        .pages()
}

/// Routes of the API and the staff pages. Starts the audit writer (needs a Tokio runtime).
pub fn router(state: AppState) -> Router {
    let Routes { router, docs } = routes();
    let router_docs: Vec<Doc> = docs;
    let api = Arc::new(ApiState {
        audit: audit::AuditSink::start(state.store.clone()),
        app: state,
        keys: auth::KeyCache::default(),
        limiter: auth::RateLimiter::from_env(),
        throttle: Default::default(),
        heavy: fair::HeavyWork::from_env(),
        openapi: openapi::document(&router_docs),
        // A fixed template over the fixed routes: it renders, or no test would pass.
        docs_page: openapi::docs_page(&router_docs).expect("templates/api/docs.html"),
    });
    let router = Router::new()
        .merge(router)
        .route("/api", axum::routing::any(unknown))
        .route("/api/{*rest}", axum::routing::any(unknown))
        .route("/staff/{*rest}", axum::routing::any(unknown));
    let x_request_id = HeaderName::from_static("x-request-id");
    let headers = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::CACHE_CONTROL, "no-store"),
        (HeaderName::from_static("permissions-policy"), "camera=(), microphone=(), geolocation=()"),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
    ];
    let mut router = router
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(UPLOAD_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            TIMEOUT,
        ))
        .layer(axum::middleware::from_fn(problem::problems_everywhere));
    for (name, value) in headers {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ));
    }
    router
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    // The route template, never the URI: paths carry personal IDs.
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map(|p| p.as_str().to_string())
                        .unwrap_or_else(|| "unmatched".into());
                    let id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    tracing::info_span!("http", method = %req.method(), route, request_id = %id)
                })
                .on_request(())
                .on_response(|res: &Response, latency: Duration, _span: &tracing::Span| {
                    // Refusals and failures at info (who probes what), the rest at debug: a line
                    // per request costs a third of the throughput of a busy endpoint.
                    let (status, ms) = (res.status().as_u16(), latency.as_millis() as u64);
                    if status >= 400 {
                        tracing::info!(status, ms, "answered");
                    } else {
                        tracing::debug!(status, ms, "answered");
                    }
                }),
        )
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
        .with_state(api)
}

async fn unknown() -> problem::Problem {
    problem::Problem::not_found("không có địa chỉ này / no such resource (see /openapi.json)")
}

async fn openapi_json(State(api): State<Arc<ApiState>>) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(api.openapi.clone()),
    )
        .into_response()
}

async fn docs(State(api): State<Arc<ApiState>>) -> Response {
    axum::response::Html(api.docs_page.clone()).into_response()
}
