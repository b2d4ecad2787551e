//! The OpenAPI 3.1 document, from the same table that builds the router: [`Routes::add`] takes
//! a route's documentation and its handler together, mounts the handler on the documented
//! method and path, and keeps the entry. A handler cannot be served undocumented, and the
//! document cannot list a route that is not served. `/docs` renders the same entries as a page.

use super::keys::Role;
use super::permissions::Permission;
use axum::handler::Handler;
use axum::routing::{on, MethodFilter};
use axum::Router;
use serde_json::{json, Map, Value};

/// A query parameter: name, JSON type, description.
pub type Param = (&'static str, &'static str, &'static str);

/// One documented route.
#[derive(Debug, Clone)]
pub struct Doc {
    /// `get`, `post`, `patch`.
    pub method: &'static str,
    /// axum 0.8 / OpenAPI path syntax: `/api/citizens/{pin}`.
    pub path: &'static str,
    pub summary: &'static str,
    pub tag: &'static str,
    /// Roles allowed besides admin (from [`super::permissions::Permission::roles`]); empty =
    /// admin only (or anyone, for public routes).
    pub roles: &'static [Role],
    /// For a route whose last segment names what is asked for (`/api/reports/{kind}`): who may
    /// ask for each.
    pub by_kind: &'static [(&'static str, Permission)],
    pub public: bool,
    pub query: &'static [Param],
    /// A schema under `components/schemas` for a JSON body.
    pub body: Option<&'static str>,
    /// Success status, media type, schema (under components) if JSON.
    pub ok: (u16, &'static str, Option<&'static str>),
    pub errors: &'static [u16],
    /// A larger body limit for this route than [`super::BODY_LIMIT`] (file uploads).
    pub body_limit: Option<usize>,
    /// Media types of a file body (`text/csv`, xlsx) instead of a JSON schema.
    pub file_body: &'static [&'static str],
}

impl Doc {
    pub const fn new(method: &'static str, path: &'static str, summary: &'static str) -> Doc {
        Doc {
            method,
            path,
            summary,
            tag: "api",
            roles: &[],
            by_kind: &[],
            public: false,
            query: &[],
            body: None,
            ok: (200, "application/json", None),
            errors: &[400, 401, 403, 404],
            body_limit: None,
            file_body: &[],
        }
    }
}

/// A router and the documentation of each of its routes, built together.
pub struct Routes<S> {
    pub router: Router<S>,
    pub docs: Vec<Doc>,
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    pub fn new() -> Self {
        Routes {
            router: Router::new(),
            docs: Vec::new(),
        }
    }

    /// Mounts `handler` on the documented method and path.
    pub fn add<H, T>(mut self, doc: Doc, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        let filter = match doc.method {
            "get" => MethodFilter::GET,
            "post" => MethodFilter::POST,
            "patch" => MethodFilter::PATCH,
            "put" => MethodFilter::PUT,
            "delete" => MethodFilter::DELETE,
            m => panic!("undocumented method {m}"),
        };
        let mut route = on(filter, handler);
        if let Some(limit) = doc.body_limit {
            route = route.layer(axum::extract::DefaultBodyLimit::max(limit));
        }
        self.router = self.router.route(doc.path, route);
        self.docs.push(doc);
        self
    }

    /// Documents a route another router serves (`/healthz`, the SMS webhook in `serve::http`).
    pub fn external(mut self, doc: Doc) -> Self {
        self.docs.push(doc);
        self
    }
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Self::new()
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "Thành công / OK",
        201 => "Đã tạo / Created",
        202 => "Đã nhận, đang chạy / Accepted, running",
        303 => "Chuyển trang / See other",
        400 => "Dữ liệu không hợp lệ, chi tiết theo trường / Bad input, with field-level problems",
        401 => "Thiếu hoặc sai khóa API / Missing or invalid API key",
        403 => "Ngoài vai trò hoặc địa bàn / Outside the key's role or area",
        404 => "Không tìm thấy / Not found",
        409 => "Xung đột / Conflicting edit",
        410 => "Liên kết không còn dùng được / Link no longer valid",
        413 => "Nội dung quá lớn / Body over the limit",
        415 => "Cần JSON / JSON required",
        429 => "Quá nhiều yêu cầu / Rate limit",
        503 => "Không ghi được nhật ký truy cập / Access not recordable",
        _ => "",
    }
}

/// The OpenAPI 3.1 document of these routes.
pub fn document(docs: &[Doc]) -> Value {
    let mut paths = Map::new();
    for d in docs {
        let mut params: Vec<Value> = path_params(d.path)
            .into_iter()
            .map(|p| {
                json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"},
                       "description": if p == "pin" { "Số định danh cá nhân 12 chữ số / 12-digit personal ID" } else { "" }})
            })
            .collect();
        params.extend(d.query.iter().map(|(name, ty, desc)| {
            let schema = if ty.starts_with("array") {
                json!({"type": "array", "items": {"type": "string"}})
            } else {
                json!({"type": ty})
            };
            json!({"name": name, "in": "query", "required": false, "schema": schema, "description": desc,
                   "explode": true, "style": "form"})
        }));
        let mut responses = Map::new();
        let (code, media, schema) = d.ok;
        let content = match schema {
            Some(s) => json!({ media: {"schema": {"$ref": format!("#/components/schemas/{s}")}} }),
            None if media == "application/json" => json!({ media: {"schema": {"type": "object"}} }),
            None => json!({ media: {"schema": {"type": "string"}} }),
        };
        responses.insert(
            code.to_string(),
            json!({"description": reason(code), "content": content}),
        );
        let mut errors: Vec<u16> = d.errors.to_vec();
        if !d.public {
            errors.extend([401, 429]);
        }
        errors.sort();
        errors.dedup();
        for e in errors {
            responses.insert(
                e.to_string(),
                json!({"description": reason(e), "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}),
            );
        }
        let roles: Vec<&str> = std::iter::once("admin")
            .chain(d.roles.iter().map(|r| r.as_str()))
            .collect();
        let mut op = json!({
            "operationId": operation_id(d),
            "summary": d.summary,
            "tags": [d.tag],
            "parameters": params,
            "responses": responses,
            "x-roles": if d.public { json!([]) } else { json!(roles) },
        });
        if !d.by_kind.is_empty() {
            op["x-roles-by-kind"] = d
                .by_kind
                .iter()
                .map(|(kind, p)| (kind.to_string(), json!(roles_of(p.roles()))))
                .collect::<serde_json::Map<_, _>>()
                .into();
        }
        if d.public {
            op["security"] = json!([]);
        }
        if !d.file_body.is_empty() {
            let content: Map<String, Value> = d
                .file_body
                .iter()
                .map(|m| {
                    let schema = if m.starts_with("multipart/") {
                        json!({"type": "object", "properties": {"csrf": {"type": "string"}, "file": {"type": "string", "format": "binary"}}})
                    } else {
                        json!({"type": "string", "format": "binary"})
                    };
                    (m.to_string(), json!({"schema": schema}))
                })
                .collect();
            op["requestBody"] = json!({"required": true, "content": content});
        }
        if let Some(body) = d.body {
            op["requestBody"] = json!({"required": true, "content": {
                "application/json": {"schema": {"$ref": format!("#/components/schemas/{body}")}},
                "application/x-www-form-urlencoded": {"schema": {"$ref": format!("#/components/schemas/{body}")}},
            }});
            if !d.path.starts_with("/staff") {
                op["requestBody"]["content"]
                    .as_object_mut()
                    .expect("object")
                    .remove("application/x-www-form-urlencoded");
            }
        }
        paths
            .entry(d.path.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("path item")
            .insert(d.method.to_string(), op);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "vongdoi API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Nhắc tiêm chủng, căn cước và nhập học từ sổ dân cư; mọi lần đọc dữ liệu cá nhân được ghi nhật ký. / Lifecycle reminders from the population registry; every read of personal data is audited.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "tags": [
            {"name": "citizens", "description": "Sổ dân cư / Registry"},
            {"name": "reports", "description": "Báo cáo / Reports"},
            {"name": "facilities", "description": "Trạm y tế, công an, trường / Health stations, police posts, schools"},
            {"name": "delivery", "description": "Tin nhắn và lượt chạy / Messages and runs"},
            {"name": "meta", "description": "Tài liệu / Documentation"},
            {"name": "pages", "description": "Trang cho cán bộ (HTML) / Staff pages (HTML)"},
        ],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "vongdoi keys create --role ROLE …"}},
            "schemas": schemas(),
        },
    })
}

fn operation_id(d: &Doc) -> String {
    let mut id = d.method.to_string();
    for part in d.path.split('/').filter(|p| !p.is_empty()) {
        let part = part.trim_start_matches('{').trim_end_matches('}');
        id.push('_');
        id.push_str(&part.replace(['-', '.'], "_"));
    }
    id
}

/// The `{name}` segments of a path.
pub fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|s| s.trim_start_matches('*'))
        .collect()
}

fn string() -> Value {
    json!({"type": "string"})
}

fn nullable_string() -> Value {
    json!({"type": ["string", "null"]})
}

fn schemas() -> Value {
    let citizen_fields = [
        "full_name",
        "sex",
        "date_of_birth",
        "date_of_death",
        "commune_code",
        "household_id",
        "mother_id",
        "father_id",
        "guardian_id",
        "phone",
        "email",
        "language",
        "village",
        "address",
    ];
    let mut input = Map::new();
    input.insert("personal_id".into(), string());
    let mut patch = Map::new();
    for f in citizen_fields {
        input.insert(f.into(), nullable_string());
        patch.insert(f.into(), nullable_string());
    }
    let date = json!({"type": ["string", "null"], "format": "date"});
    json!({
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": string(), "title": string(), "status": {"type": "integer"}, "detail": string(),
                "errors": {"type": "array", "items": {"type": "object", "required": ["field", "reason"],
                    "properties": {"field": string(), "reason": string()}}},
            },
        },
        "CitizenInput": {
            "type": "object", "additionalProperties": false,
            "required": ["personal_id", "full_name", "sex", "date_of_birth", "commune_code"],
            "properties": input,
            "description": "Các trường như tệp CSV công dân (docs/interface.md) / The citizen CSV fields (docs/interface.md)",
        },
        "CitizenPatch": {
            "type": "object", "additionalProperties": false, "properties": patch,
            "description": "Chỉ các trường cần đổi; null xóa giá trị. Gửi If-Match với ETag đã đọc để tránh ghi đè / Only the fields to change; null clears. Send If-Match with the ETag you read to avoid lost updates (409)",
        },
        "Citizen": {"type": "object", "required": ["citizen", "immunizations", "id_cards", "history"],
            "properties": {"citizen": {"type": "object"}, "province_code": string(), "guardians": {"type": "array"},
                "household": {"type": "array"}, "immunizations": {"type": "array"}, "id_cards": {"type": "array"}, "history": {"type": "array"}}},
        "ImmunizationInput": {
            "type": "object", "additionalProperties": false, "required": ["vaccine", "date_given"],
            "properties": {"vaccine": string(), "date_given": {"type": "string", "format": "date"}, "place": nullable_string(), "lot": nullable_string()},
        },
        "IdCardInput": {
            "type": "object", "additionalProperties": false, "required": ["issued_on"],
            "properties": {"issued_on": {"type": "string", "format": "date"}},
        },
        "Forecast": {
            "type": "object", "required": ["personal_id", "as_of", "items"],
            "properties": {"personal_id": string(), "as_of": {"type": "string", "format": "date"},
                "items": {"type": "array", "items": {"type": "object", "required": ["kind", "status"],
                    "properties": {"kind": string(), "status": {"enum": ["completed", "upcoming", "eligible", "due", "overdue", "expired", "waiting"]},
                        "earliest": date, "due": date, "overdue": date, "expires": date, "completed_on": date}}},
                "invalid_doses": {"type": "array"}},
        },
        "AccessLog": {"type": "object", "required": ["personal_id", "reads"], "properties": {"personal_id": string(),
            "reads": {"type": "array", "items": {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"},
                "key_name": string(), "role": string(), "action": string(), "detail": nullable_string()}}}}},
        "Messages": {"type": "array", "items": {"type": "object", "properties": {"id": string(), "day": string(), "channel": string(),
            "status": string(), "recipient": string(), "address": string(), "attempts": {"type": "integer"}, "last_error": nullable_string()}}},
        "RunInput": {"type": "object", "additionalProperties": false, "properties": {"as_of": {"type": ["string", "null"], "format": "date"}}},
        "AlertDraft": {"type": "object", "additionalProperties": false, "required": ["name", "template", "age_from", "age_to", "conditions"], "properties": {
            "name": {"type": "string"}, "template": {"type": "string", "description": "an [[alert]] of the rules, e.g. measles-outbreak"},
            "as_of": {"type": ["string", "null"], "format": "date"},
            "provinces": {"type": "array", "items": {"type": "string"}}, "communes": {"type": "array", "items": {"type": "string"}},
            "age_from": {"type": "string", "description": "included, e.g. \"1 year\""}, "age_to": {"type": "string", "description": "excluded, e.g. \"10 years\""},
            "conditions": {"type": "array", "items": {"type": "object", "additionalProperties": false, "required": ["series"], "properties": {
                "series": {"type": "string"}, "valid_doses_below": {"type": "integer", "minimum": 1}, "overdue": {"type": "boolean"}}}},
            "outcome_days": {"type": ["integer", "null"], "minimum": 1, "maximum": 365}}},
        "Runs": {"type": "array", "items": {"type": "object", "properties": {"as_of": string(), "status": string(),
            "started_at": string(), "finished_at": nullable_string(), "evaluated": {"type": "integer"}, "notices": {"type": "integer"}}}},
        "Login": {"type": "object", "required": ["username", "password", "token"], "properties": {"username": string(), "password": string(), "remember": string(), "next": string(), "token": string(), "key": string()}},
        "PasswordForm": {"type": "object", "required": ["current", "new", "again", "csrf"], "properties": {"current": string(), "new": string(), "again": string(), "next": string(), "csrf": string()}},
        "UserForm": {"type": "object", "required": ["username", "full_name", "role", "csrf"], "properties": {"username": string(), "full_name": string(), "role": string(), "communes": string(), "provinces": string(), "national": string(), "csrf": string()}},
        "Session": {"type": "object", "required": ["username", "name", "role", "areas", "csrf_token"], "properties": {"username": string(), "name": string(), "role": string(), "areas": {"type": "object"}, "csrf_token": string()}},
        "DoseForm": {"type": "object", "required": ["vaccine", "date_given", "csrf"], "description": "vaccine lặp lại được: các mũi của một lần tiêm / vaccine repeats: the doses of one visit",
            "properties": {"vaccine": {"type": "array", "items": string()}, "date_given": string(), "place": string(), "lot": string(), "confirm": string(), "return": string(), "csrf": string()}},
        "RemoveDoseForm": {"type": "object", "required": ["vaccine", "date_given", "reason", "csrf"], "properties": {"vaccine": string(), "date_given": string(), "reason": string(), "return": string(), "csrf": string()}},
        "ContactForm": {"type": "object", "required": ["csrf"], "description": "phone + guardian (personal ID) sửa số điện thoại; channel + stop=1|0 ngừng hoặc nhận lại tin nhắn cho cả gia đình / phone + guardian corrects a phone; channel + stop=1|0 stops or restarts messages for the family",
            "properties": {"guardian": string(), "phone": string(), "channel": {"enum": ["sms", "email"]}, "stop": string(), "return": string(), "csrf": string()}},
        "OutcomeForm": {"type": "object", "required": ["pin", "outcome", "csrf"], "properties": {"pin": string(), "outcome": string(), "appointment": string(), "note": string(), "back": string(), "csrf": string()}},
        "RetryForm": {"type": "object", "required": ["csrf"], "properties": {"csrf": string()}},
        "AlertForm": {"type": "object", "required": ["csrf", "name", "template", "age_from", "age_to", "series"], "properties": {
            "csrf": string(), "name": string(), "template": string(), "as_of": string(), "provinces": string(), "communes": string(),
            "age_from": string(), "age_to": string(), "series": string(), "valid_doses_below": string(), "overdue": string(), "outcome_days": string()}},
        "FacilityForm": {"type": "object", "required": ["commune_code", "kind", "csrf"], "description": "was: tên trường trước khi sửa (đổi tên) / was: the school's name before the edit (a rename)",
            "properties": {"commune_code": string(), "kind": {"enum": ["health", "police", "school"]}, "name": string(), "address": string(), "phone": string(), "hours": string(), "session_days": string(), "was": string(), "csrf": string()}},
        "FacilityDeleteForm": {"type": "object", "required": ["commune_code", "kind", "name", "csrf"],
            "properties": {"commune_code": string(), "kind": {"enum": ["health", "police", "school"]}, "name": string(), "csrf": string()}},
    })
}

/// `admin` and the roles a permission names besides it.
fn roles_of(roles: &[Role]) -> Vec<&'static str> {
    std::iter::once("admin")
        .chain(roles.iter().map(|r| r.as_str()))
        .collect()
}

/// `/docs`: the document as a readable page (no scripts, so the strict CSP holds), from
/// `templates/api/docs.html`.
pub fn docs_page(docs: &[Doc]) -> Result<String, minijinja::Error> {
    let rows: Vec<serde_json::Value> = docs
        .iter()
        .map(|d| {
            let roles: Vec<&str> = if d.public {
                vec!["công khai / public"]
            } else {
                std::iter::once("admin")
                    .chain(d.roles.iter().map(|r| r.as_str()))
                    .collect()
            };
            let mut roles = roles.join(", ");
            for (kind, p) in d.by_kind {
                roles.push_str(&format!("; {kind}: {}", roles_of(p.roles()).join(", ")));
            }
            let query: Vec<&str> = d.query.iter().map(|q| q.0).collect();
            serde_json::json!({
                "method": d.method.to_uppercase(),
                "path": d.path,
                "summary": d.summary,
                "roles": roles,
                "query": query.join(", "),
            })
        })
        .collect();
    crate::html::render(
        "api/docs.html",
        serde_json::json!({ "css": super::pages::CSS, "docs": rows }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parameters_and_operation_ids() {
        assert_eq!(path_params("/api/citizens/{pin}/forecast"), vec!["pin"]);
        let d = Doc::new("get", "/api/citizens/{pin}/access-log", "x");
        assert_eq!(operation_id(&d), "get_api_citizens_pin_access_log");
    }
}
