//! Staff pages, rendered on the server from templates (`templates/staff/`, see [`templates`]):
//! Vietnamese first with an English switch, readable on a phone, printable, and no scripts (the
//! CSP forbids them). A staff member signs in with their API key once; the browser then holds
//! only a random session id in an HttpOnly, SameSite=Strict cookie (stored hashed, ended when the
//! key is revoked). Forms carry a token derived from the session, so another site cannot post
//! them. Every person shown is recorded in the audit trail exactly as over the API.
//!
//! One module per page: [`session`] (sign-in, sign-out, start), [`vaccination`], [`citizen`],
//! [`enrolment`], [`facilities`], [`delivery`]. Here: the signed-in [`Staff`], the language, the layout.

pub mod account;
pub mod alerts;
pub mod citizen;
pub mod delivery;
pub mod enrolment;
pub mod facilities;
pub mod inbox;
pub mod session;
pub mod templates;
pub mod users;
pub mod vaccination;

use super::auth::{within_rate, Caller};
use super::keys::KeyInfo;
use super::openapi::{Doc, Routes};
use super::permissions::Permission;
use super::problem::Problem;
use super::ApiState;
use crate::registry::AdminUnits;
use crate::rules::Lang;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{context, Value};
use serde::Deserialize;
use std::sync::Arc;

pub use super::auth::SESSION_COOKIE;
const LANG_COOKIE: &str = "vongdoi_lang";

/// The pages' style sheet (inline: the CSP allows no other source).
pub const CSS: &str = include_str!("../../../templates/staff/style.css");

/// For the few words built in Rust (labels of forecast items, statuses).
fn t(lang: Lang, vi: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Vi => vi,
        Lang::En => en,
    }
}

fn lang_code(lang: Lang) -> &'static str {
    match lang {
        Lang::Vi => "vi",
        Lang::En => "en",
    }
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `?lang=` (remembered in a cookie), else the cookie, else Vietnamese.
fn lang_of(headers: &HeaderMap, pairs: &[(String, String)]) -> (Lang, Option<Lang>) {
    let asked = pairs
        .iter()
        .find(|(k, _)| k == "lang")
        .and_then(|(_, v)| match v.as_str() {
            "en" => Some(Lang::En),
            "vi" => Some(Lang::Vi),
            _ => None,
        });
    let lang = asked.unwrap_or(match cookie(headers, LANG_COOKIE) {
        Some("en") => Lang::En,
        _ => Lang::Vi,
    });
    (lang, asked)
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The same report as an Excel download (`/api/reports/{kind}?format=xlsx`, which a staff
/// session may read): the page's own filters, in its language.
fn xlsx_href(kind: &str, filters: &[(String, String)], lang: Lang) -> String {
    let mut href = format!("/api/reports/{kind}?");
    for (k, v) in filters {
        href.push_str(&format!("{}={}&", urlencode(k), urlencode(v)));
    }
    href.push_str(&format!("format=xlsx&lang={}", lang_code(lang)));
    href
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.trim().is_empty())
}

fn commune_label(code: &str) -> String {
    match AdminUnits::get().commune(code) {
        Some(c) => format!("{} ({})", c.name, c.code),
        None => code.to_string(),
    }
}

/// A signed-in staff member (a live session of a live key).
pub struct Staff {
    pub key: KeyInfo,
    session: String,
    /// The worklist's filters as the nurse last left them (a cookie), so the menu's
    /// "Tiêm chủng" brings her back to the same list.
    list_query: Option<String>,
}

/// The cookie that remembers the worklist's filters (never the search words: they may be a name).
pub const LIST_COOKIE: &str = "vongdoi_list";

/// A query string safe to keep in a cookie and put back in a link.
pub fn cookie_safe_query(q: &str) -> bool {
    q.len() <= 512
        && q.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"%=&_.-+".contains(&b))
}

impl Staff {
    pub fn caller(&self) -> Caller {
        Caller(self.key.clone())
    }

    /// The form token: bound to this session, unknown to other sites.
    pub fn csrf(&self) -> String {
        super::auth::csrf_of(&self.session)
    }

    /// A person's own account (not a key signed in on the pages).
    pub fn person(&self) -> Option<&str> {
        match &self.key.principal {
            super::keys::Principal::Person { full_name, .. } => Some(full_name),
            super::keys::Principal::Key => None,
        }
    }

    fn check_csrf(&self, given: &str) -> Result<(), Problem> {
        if given == self.csrf() {
            Ok(())
        } else {
            Err(Problem::forbidden(
                "biểu mẫu hết hạn, tải lại trang / the form expired: reload the page",
            ))
        }
    }
}

impl FromRequestParts<Arc<ApiState>> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, api: &Arc<ApiState>) -> Result<Staff, Response> {
        let login = || {
            let next = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/staff");
            Redirect::to(&format!("/staff/login?next={}", urlencode(next))).into_response()
        };
        let Some(session) = cookie(&parts.headers, SESSION_COOKIE).filter(|s| s.len() == 64) else {
            return Err(login());
        };
        let Some(key) = super::auth::session_of(api, session)
            .await
            .map_err(IntoResponse::into_response)?
        else {
            return Err(login());
        };
        // A one-time password is changed before anything else is shown.
        let path = parts.uri.path();
        if super::auth::refuse_until_password_changed(&key).is_err()
            && path != "/staff/password"
            && path != "/staff/logout"
        {
            return Err(Redirect::to("/staff/password").into_response());
        }
        within_rate(api, &key).map_err(IntoResponse::into_response)?;
        let list_query = cookie(&parts.headers, LIST_COOKIE)
            .filter(|q| cookie_safe_query(q))
            .map(str::to_string);
        Ok(Staff {
            key,
            session: session.to_string(),
            list_query,
        })
    }
}

/// A page: `templates/staff/{template}.html` inside the layout (navigation for the signed-in
/// staff member, the language switch), with the page's own values in `ctx`.
pub struct Page<'a> {
    pub lang: Lang,
    pub title: &'a str,
    pub staff: Option<&'a Staff>,
    /// This page's address, for the language switch.
    pub path: &'a str,
}

impl Page<'_> {
    fn context(&self, ctx: Value) -> Value {
        let lang = self.lang;
        let mut nav = Vec::new();
        if let Some(s) = self.staff {
            let r = s.key.role;
            if Permission::VaccinationList.allows(r) {
                let href = match &s.list_query {
                    Some(q) if !q.is_empty() => format!("/staff/vaccination?{q}"),
                    _ => "/staff/vaccination".to_string(),
                };
                nav.push(context! { href => href, label => t(lang, "Tiêm chủng", "Vaccination") });
            }
            if Permission::Enrolment.allows(r) {
                nav.push(context! { href => "/staff/enrolment", label => t(lang, "Nhập học", "Enrolment") });
            }
            if Permission::ReadFacilities.allows(r) {
                nav.push(context! { href => "/staff/facilities", label => t(lang, "Cơ sở", "Facilities") });
            }
            if Permission::ReadAlerts.allows(r) {
                nav.push(context! { href => "/staff/alerts", label => t(lang, "Cảnh báo dịch", "Alerts") });
            }
            if Permission::Inbox.allows(r) {
                nav.push(context! { href => "/staff/inbox", label => t(lang, "Tin nhắn đến", "Replies") });
            }
            if Permission::Messages.allows(r) {
                nav.push(
                    context! { href => "/staff/delivery", label => t(lang, "Gửi tin", "Delivery") },
                );
            }
        }
        let (code, label) = match lang {
            Lang::Vi => ("en", "English"),
            Lang::En => ("vi", "Tiếng Việt"),
        };
        let sep = if self.path.contains('?') { '&' } else { '?' };
        let staff = self.staff.map(|s| {
            context! {
                name => s.key.name,
                role => match lang { Lang::Vi => s.key.role.label_vi(), Lang::En => s.key.role.as_str() },
                csrf => s.csrf(),
            }
        });
        context! {
            lang => lang_code(lang),
            title => self.title,
            css => CSS,
            nav => nav,
            switch => context! { href => format!("{}{sep}lang={code}", self.path), code => code, label => label },
            staff => staff,
            ..ctx
        }
    }

    /// The rendered page as a response (with the language cookie when `?lang=` asked for one).
    pub fn respond(
        &self,
        status: StatusCode,
        asked: Option<Lang>,
        template: &str,
        ctx: Value,
    ) -> Response {
        match templates::render(template, self.context(ctx)) {
            Ok(page) => html(status, asked, page),
            Err(p) => p.into_response(),
        }
    }
}

fn html(status: StatusCode, asked_lang: Option<Lang>, page: String) -> Response {
    let mut res = (status, axum::response::Html(page)).into_response();
    if let Some(l) = asked_lang {
        let v = format!(
            "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            lang_code(l)
        );
        res.headers_mut().append(
            header::SET_COOKIE,
            HeaderValue::from_str(&v).expect("ascii"),
        );
    }
    res
}

fn error_page(lang: Lang, staff: Option<&Staff>, p: Problem) -> Response {
    let title = match p.status.as_u16() {
        400 => t(lang, "Dữ liệu không hợp lệ", "Invalid input"),
        403 => t(lang, "Không có quyền", "Not allowed"),
        404 => t(lang, "Không tìm thấy", "Not found"),
        409 => t(lang, "Xung đột", "Conflict"),
        429 => t(lang, "Quá nhiều yêu cầu", "Too many requests"),
        _ => t(lang, "Lỗi", "Error"),
    };
    let errors: Vec<Value> = p
        .errors
        .iter()
        .map(|e| context! { field => e.field, reason => e.reason })
        .collect();
    Page {
        lang,
        title,
        staff,
        path: "/staff",
    }
    .respond(
        p.status,
        None,
        "error",
        context! { detail => p.detail, errors => errors },
    )
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

impl Routes<Arc<ApiState>> {
    /// The staff pages, documented beside the API (HTML, signed in by session cookie).
    pub fn pages(self) -> Self {
        let html_ok = (200, "text/html", None);
        let moved = (303, "text/html", None);
        self.add(
            Doc { tag: "pages", public: true, ok: html_ok, errors: &[], query: &[("next", "string", "/staff/…")],
                  ..Doc::new("get", "/staff/login", "Trang đăng nhập: tên đăng nhập và mật khẩu / Sign in with a username and password") },
            session::login_form,
        )
        .add(
            Doc { tag: "pages", public: true, ok: moved, errors: &[401, 403, 429], body: Some("Login"),
                  ..Doc::new("post", "/staff/login", "Đăng nhập (username, password, remember): 303 và cookie phiên HttpOnly; sai 5 lần thì tạm khóa / Sign in (username, password, remember): 303 and an HttpOnly session cookie; five wrong passwords lock the account for a while") },
            session::login,
        )
        .add(
            Doc { tag: "pages", roles: Permission::SignedIn.roles(), ok: moved, errors: &[403], body: Some("RetryForm"),
                  ..Doc::new("post", "/staff/logout", "Đăng xuất / Sign out") },
            session::logout,
        )
        .add(
            Doc { tag: "pages", roles: Permission::SignedIn.roles(), ok: moved, errors: &[403], body: Some("RetryForm"),
                  ..Doc::new("post", "/staff/logout-everywhere", "Đăng xuất trên mọi thiết bị / Sign out everywhere") },
            account::logout_everywhere,
        )
        .add(
            Doc { tag: "pages", roles: Permission::SignedIn.roles(), ok: html_ok, errors: &[403], query: &[("next", "string", "/staff/…")],
                  ..Doc::new("get", "/staff/password", "Đổi mật khẩu (bắt buộc sau mật khẩu dùng một lần) / Change the password (required after a one-time password)") },
            account::password_form,
        )
        .add(
            Doc { tag: "pages", roles: Permission::SignedIn.roles(), ok: moved, errors: &[400, 403], body: Some("PasswordForm"),
                  ..Doc::new("post", "/staff/password", "Đặt mật khẩu mới; các phiên khác kết thúc / Set a new password; other sessions end") },
            account::change_password,
        )
        .add(
            Doc { tag: "pages", roles: Permission::ManageUsers.roles(), ok: html_ok, errors: &[403],
                  ..Doc::new("get", "/staff/users", "Tài khoản cán bộ: tạo, khóa, đặt lại mật khẩu / Staff accounts: create, disable, reset") },
            users::users_page,
        )
        .add(
            Doc { tag: "pages", roles: Permission::ManageUsers.roles(), ok: (201, "text/html", None), errors: &[400, 403], body: Some("UserForm"),
                  ..Doc::new("post", "/staff/users", "Tạo tài khoản, hiện mật khẩu dùng một lần một lần / Create an account, showing its one-time password once") },
            users::create_user,
        )
        .add(
            Doc { tag: "pages", roles: Permission::ManageUsers.roles(), ok: moved, errors: &[403, 404], body: Some("RetryForm"),
                  ..Doc::new("post", "/staff/users/{username}/{action}", "disable | enable | reset một tài khoản / disable, enable or reset one account") },
            users::act_on_user,
        )
        .add(Doc { tag: "pages", roles: Permission::SignedIn.roles(), ok: moved, errors: &[], ..Doc::new("get", "/staff", "Trang đầu theo vai trò / Start page for the role") }, session::home)
        .add(
            Doc { tag: "pages", roles: Permission::VaccinationList.roles(), ok: html_ok, errors: &[400, 403],
                  query: &[("commune", "string", ""), ("list", "string", "routine | follow_up"), ("status", "string", "due | overdue"), ("series", "string", "bcg, dtp, …"), ("village", "string", "thôn / tổ dân phố"),
                           ("age", "string", "0-11m | 12-23m | 2-5y | 6y+"), ("session", "string", "YYYY-MM-DD: due by the session day"), ("q", "string", "name, personal ID or phone"),
                           ("page", "integer", ""), ("print", "string", "1: the A4 session list"), ("as_of", "string", ""), ("lang", "string", "vi | en")],
                  ..Doc::new("get", "/staff/vaccination", "Danh sách gọi tiêm của xã, mỗi trẻ một dòng / A commune's worklist, one entry per child") },
            vaccination::vaccination,
        )
        .add(
            Doc { tag: "pages", roles: Permission::RecordDose.roles(), ok: moved, errors: &[400, 403, 404], body: Some("OutcomeForm"),
                  ..Doc::new("post", "/staff/vaccination/outcome", "Ghi kết quả gọi điện cho một trẻ / Record what came of a call") },
            vaccination::record_outcome,
        )
        .add(
            Doc { tag: "pages", roles: Permission::ReadCitizen.roles(), ok: html_ok, errors: &[400, 403, 404], query: &[("lang", "string", "vi | en"), ("return", "string", "/staff/… (về lại sau khi ghi / where to go back after a change)")],
                  ..Doc::new("get", "/staff/citizens/{pin}", "Trang công dân: dự báo, mũi đã tiêm, ghi mũi mới / Citizen page: forecast, doses, record a dose") },
            citizen::citizen_page,
        )
        .add(
            Doc { tag: "pages", roles: Permission::RecordDose.roles(), ok: moved, errors: &[400, 403, 404, 409], body: Some("DoseForm"),
                  ..Doc::new("post", "/staff/citizens/{pin}/immunizations", "Ghi các mũi của một lần tiêm từ trang công dân (vaccine lặp lại; mũi trẻ không cần phải xác nhận) / Record the doses of one visit from the citizen page (vaccine repeats; a dose the child does not need must be confirmed)") },
            citizen::record_dose,
        )
        .add(
            Doc { tag: "pages", roles: Permission::RecordDose.roles(), ok: moved, errors: &[400, 403, 404], body: Some("RemoveDoseForm"),
                  ..Doc::new("post", "/staff/citizens/{pin}/immunizations/remove", "Xóa một mũi ghi sai, kèm lý do / Remove a wrongly recorded dose, with its reason") },
            citizen::remove_dose_form,
        )
        .add(
            Doc { tag: "pages", roles: Permission::EditContacts.roles(), ok: moved, errors: &[400, 403, 404], body: Some("ContactForm"),
                  ..Doc::new("post", "/staff/citizens/{pin}/contacts", "Sửa số điện thoại người giám hộ; ngừng hoặc nhận lại tin nhắn cho gia đình / Correct a guardian's phone; stop or restart the family's messages") },
            citizen::contacts_form,
        )
        .add(
            Doc { tag: "pages", roles: Permission::Enrolment.roles(), ok: html_ok, errors: &[400, 403],
                  query: &[("province", "array", ""), ("commune", "array", ""), ("years", "integer", ""), ("as_of", "string", ""), ("lang", "string", "vi | en")],
                  ..Doc::new("get", "/staff/enrolment", "Dự báo nhập học theo xã, có biểu đồ / Enrolment forecast by commune, with charts") },
            enrolment::enrolment,
        )
        .add(
            Doc { tag: "pages", roles: Permission::UploadPlaces.roles(), ok: html_ok, errors: &[400, 403, 413],
                  body_limit: Some(super::places::UPLOAD_LIMIT), file_body: &["multipart/form-data"],
                  ..Doc::new("post", "/staff/enrolment/places", "Tải lên số chỗ học (biểu mẫu multipart: csrf, file CSV hoặc xlsx); trang hiện số dòng đã lưu và dòng sai theo dòng, cột / Upload school places (a multipart form: csrf, a CSV or xlsx file); the page shows what was stored and the bad rows by line and field") },
            enrolment::upload_places,
        )
        .add(
            Doc { tag: "pages", roles: Permission::ReadFacilities.roles(), ok: html_ok, errors: &[400, 403],
                  query: &[("commune", "string", ""), ("lang", "string", "vi | en")],
                  ..Doc::new("get", "/staff/facilities", "Trạm y tế, công an, trường của địa bàn theo xã; quản trị sửa, thêm, xóa, tải lên / The area's health stations, police posts and schools by commune; admins edit, add, remove, upload") },
            facilities::facilities_page,
        )
        .add(
            Doc { tag: "pages", roles: Permission::ManageFacilities.roles(), ok: moved, errors: &[400, 403, 409, 503], body: Some("FacilityForm"),
                  ..Doc::new("post", "/staff/facilities", "Thêm hoặc sửa một cơ sở (y tế, công an: thay cơ sở của xã; trường: theo tên, was = tên cũ khi đổi tên) / Add or edit one facility (health, police: replaces the commune's; school: by name, was = the old name for a rename)") },
            facilities::save,
        )
        .add(
            Doc { tag: "pages", roles: Permission::ManageFacilities.roles(), ok: moved, errors: &[400, 403, 404, 503], body: Some("FacilityDeleteForm"),
                  ..Doc::new("post", "/staff/facilities/delete", "Xóa một cơ sở / Remove one facility") },
            facilities::delete,
        )
        .add(
            Doc { tag: "pages", roles: Permission::ManageFacilities.roles(), ok: html_ok, errors: &[400, 403, 413, 503],
                  body_limit: Some(super::facilities::UPLOAD_LIMIT), file_body: &["multipart/form-data"],
                  ..Doc::new("post", "/staff/facilities/upload", "Tải lên cơ sở (biểu mẫu multipart: csrf, file CSV); trang hiện số đã lưu và dòng sai theo dòng, cột / Upload facilities (a multipart form: csrf, a CSV file); the page shows what was stored and the bad rows by line and field") },
            facilities::upload,
        )
        .add(
            Doc { tag: "pages", roles: Permission::ReadAlerts.roles(), ok: html_ok, errors: &[403], query: &[("lang", "string", "vi | en")],
                  ..Doc::new("get", "/staff/alerts", "Cảnh báo dịch của địa bàn và biểu mẫu soạn cảnh báo / The area's outbreak alerts and the form to draft one") },
            alerts::alerts_page,
        )
        .add(
            Doc { tag: "pages", roles: Permission::DraftAlerts.roles(), ok: moved, errors: &[400, 403], body: Some("AlertForm"),
                  ..Doc::new("post", "/staff/alerts", "Soạn cảnh báo (name, template, communes, provinces, age_from, age_to, series, valid_doses_below | overdue, outcome_days) / Draft an alert") },
            alerts::draft,
        )
        .add(
            Doc { tag: "pages", roles: Permission::ReadAlerts.roles(), ok: html_ok, errors: &[403, 404], query: &[("lang", "string", "vi | en")],
                  ..Doc::new("get", "/staff/alerts/{id}", "Một cảnh báo: xem trước, các bước, kết quả, danh sách tiêm vét, nút gửi duyệt, duyệt, huỷ / One alert: preview, steps, reach, catch-up list, submit, approve, cancel") },
            alerts::alert_page,
        )
        .add(
            Doc { tag: "pages", roles: Permission::DraftAlerts.roles(), ok: moved, errors: &[400, 403, 404, 409], body: Some("RetryForm"),
                  ..Doc::new("post", "/staff/alerts/{id}/{action}", "submit | approve | cancel một cảnh báo / submit, approve or cancel an alert") },
            alerts::act,
        )
        .add(
            Doc { tag: "pages", roles: Permission::Inbox.roles(), ok: html_ok, errors: &[400, 403], query: &[("status", "string", "open | done | handled | all"), ("commune", "string", "Mã xã / commune code"), ("lang", "string", "vi | en")],
                  ..Doc::new("get", "/staff/inbox", "Tin nhắn người dân gửi đến xã, trả lời, đánh dấu xong; mũi tiêm gia đình báo chờ xác nhận / Families' replies to the commune, answering, marking done; reported doses to confirm") },
            inbox::inbox_page,
        )
        .add(
            Doc { tag: "pages", roles: Permission::Inbox.roles(), ok: moved, errors: &[400, 403, 404], body: Some("RetryForm"),
                  ..Doc::new("post", "/staff/inbox/{id}/{action}", "reply (text) | done | reopen một tin nhắn đến / answer, mark done or reopen a reply") },
            inbox::act,
        )
        .add(
            Doc { tag: "pages", roles: Permission::RecordDose.roles(), ok: moved, errors: &[400, 403, 404, 409], body: Some("RetryForm"),
                  ..Doc::new("post", "/staff/reported-doses/{id}/{action}", "confirm (vaccine, date_given) | reject một mũi gia đình báo / confirm or reject a reported dose") },
            inbox::decide,
        )
        .add(
            Doc { tag: "pages", roles: Permission::Messages.roles(), ok: html_ok, errors: &[400, 403],
                  query: &[("status", "string", ""), ("day", "string", ""), ("lang", "string", "vi | en")],
                  ..Doc::new("get", "/staff/delivery", "Gửi tin: đã gửi, lỗi, hỏng, gửi lại / Delivery: sent, failed, dead letters, retry") },
            delivery::delivery,
        )
        .add(
            Doc { tag: "pages", roles: Permission::Messages.roles(), ok: moved, errors: &[403, 404, 409], body: Some("RetryForm"),
                  ..Doc::new("post", "/staff/delivery/{id}/retry", "Gửi lại một tin / Retry one message") },
            delivery::retry,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::session::safe_next;
    use super::*;

    #[test]
    fn next_stays_on_our_pages() {
        assert_eq!(safe_next("/staff/citizens/001"), "/staff/citizens/001");
        assert_eq!(safe_next("https://evil.example/"), "/staff");
        assert_eq!(safe_next("//evil.example/staff"), "/staff");
        assert_eq!(safe_next("/staff//evil"), "/staff");
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; vongdoi_session=abc; vongdoi_lang=en"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(lang_of(&h, &[]).0, Lang::En);
        assert_eq!(cookie(&h, "b"), None);
    }
}
