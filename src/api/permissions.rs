//! What each role may do: one table that the handlers enforce, `/openapi.json` and `/docs`
//! document, the staff pages' navigation follows, and the README prints (a test holds the
//! README's table equal to [`markdown_table`]). Before this table the three disagreed (issue #10:
//! registrars could record doses and health keys read enrolment while the README said
//! otherwise, and the OpenAPI document listed `/staff` as admin-only).
//!
//! `admin` may do everything; every other role only what its rows name, and only within the
//! area of its key ([`crate::registry::Scope`]).

use super::keys::Role;
use Role::{Auditor, Education, Health, Registrar};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// A citizen's record, with the household and guardians within the area.
    ReadCitizen,
    /// Register and edit citizens.
    EditRegistry,
    /// Record an ID card issued.
    RecordIdCard,
    /// Record a dose given, or remove a wrong one with its reason.
    RecordDose,
    /// Correct a guardian's phone and stop or restart a family's messages (the citizen page).
    EditContacts,
    /// A citizen's lifecycle forecast (vaccinations, ID-card milestones, school).
    ReadForecast,
    /// Who read or changed a person's data.
    ReadAccessLog,
    /// The vaccination list (children due or overdue, with the guardian to call).
    VaccinationList,
    /// The ID-card list (citizens due or overdue for a card).
    IdCardList,
    /// Enrolment forecasts (counts, never a person).
    Enrolment,
    /// Upload school places for the communes of one's area.
    UploadPlaces,
    /// Coverage by commune and cohort (counts).
    Coverage,
    /// The children behind a coverage count.
    CoverageExplain,
    /// The outbox: messages, masked recipients, failures; retrying one.
    Messages,
    /// Start a scheduler run for today.
    StartRun,
    /// The latest runs.
    ListRuns,
    /// The staff pages' start page and signing out (any signed-in staff member).
    SignedIn,
    /// Create, disable and reset people's accounts.
    ManageUsers,
    /// The health stations, police posts and schools of the area (public places, no person).
    ReadFacilities,
    /// Add, edit, remove and upload facilities: what every reminder of a commune names, so a
    /// wrong phone misdirects all its families (admin, as accounts are).
    ManageFacilities,
    /// Draft an outbreak alert for the area, submit it, cancel it.
    DraftAlerts,
    /// Approve another person's alert (a second account whose area covers every commune it
    /// targets).
    ApproveAlerts,
    /// Alerts of the area: their preview, steps, reach and outcome (counts).
    ReadAlerts,
    /// An alert's children by name with the guardian to call (the catch-up worklist) and who
    /// was and was not sent.
    CampaignList,
    /// The commune's inbox: families' replies (with the number masked), answering them,
    /// marking them done.
    Inbox,
}

impl Permission {
    pub const ALL: [Permission; 25] = [
        Permission::ReadCitizen,
        Permission::EditRegistry,
        Permission::RecordIdCard,
        Permission::RecordDose,
        Permission::EditContacts,
        Permission::ReadForecast,
        Permission::ReadAccessLog,
        Permission::VaccinationList,
        Permission::IdCardList,
        Permission::Enrolment,
        Permission::UploadPlaces,
        Permission::Coverage,
        Permission::CoverageExplain,
        Permission::Messages,
        Permission::StartRun,
        Permission::ListRuns,
        Permission::SignedIn,
        Permission::ManageUsers,
        Permission::ReadFacilities,
        Permission::ManageFacilities,
        Permission::DraftAlerts,
        Permission::ApproveAlerts,
        Permission::ReadAlerts,
        Permission::CampaignList,
        Permission::Inbox,
    ];

    /// The roles besides `admin` that may do this.
    pub fn roles(self) -> &'static [Role] {
        match self {
            Permission::ReadCitizen | Permission::ReadForecast | Permission::EditContacts => {
                &[Registrar, Health]
            }
            Permission::EditRegistry | Permission::RecordIdCard | Permission::IdCardList => {
                &[Registrar]
            }
            Permission::RecordDose
            | Permission::VaccinationList
            | Permission::CoverageExplain
            | Permission::DraftAlerts
            | Permission::ApproveAlerts
            | Permission::CampaignList => &[Health],
            Permission::ReadAlerts => &[Health, Auditor],
            Permission::Inbox => &[Registrar, Health],
            Permission::ReadAccessLog => &[Registrar, Auditor],
            Permission::Enrolment => &[Registrar, Health, Education],
            Permission::UploadPlaces => &[Education],
            Permission::Coverage => &[Health, Education],
            Permission::Messages | Permission::ListRuns => &[Auditor],
            Permission::StartRun | Permission::ManageUsers | Permission::ManageFacilities => &[],
            Permission::SignedIn | Permission::ReadFacilities => {
                &[Registrar, Health, Education, Auditor]
            }
        }
    }

    pub fn allows(self, role: Role) -> bool {
        role == Role::Admin || self.roles().contains(&role)
    }

    /// What is refused, for the 403 answer ("the 'health' role may not …").
    pub fn what(self) -> &'static str {
        match self {
            Permission::ReadCitizen => "đọc hồ sơ công dân / read citizens",
            Permission::EditRegistry => "sửa sổ dân cư / edit the registry",
            Permission::RecordIdCard => "ghi thẻ căn cước / record ID cards",
            Permission::RecordDose => "ghi mũi tiêm / record doses",
            Permission::EditContacts => {
                "sửa liên hệ và từ chối tin nhắn / edit contacts and opt-outs"
            }
            Permission::ReadForecast => "xem dự báo / read forecasts",
            Permission::ReadAccessLog => "xem nhật ký truy cập / read access logs",
            Permission::VaccinationList => "xem danh sách tiêm chủng / read vaccination lists",
            Permission::IdCardList => "xem danh sách căn cước / read ID-card lists",
            Permission::Enrolment => "xem dự báo nhập học / read enrolment forecasts",
            Permission::UploadPlaces => "tải lên số chỗ học / upload school places",
            Permission::Coverage => "xem độ bao phủ / read coverage",
            Permission::CoverageExplain => {
                "xem danh sách trẻ được đếm (explain) / list the children counted (explain)"
            }
            Permission::Messages => "xem và gửi lại tin nhắn / read and retry messages",
            Permission::StartRun => "bắt đầu lượt chạy / start runs",
            Permission::ListRuns => "xem lượt chạy / list runs",
            Permission::SignedIn => "dùng trang cán bộ / use the staff pages",
            Permission::ManageUsers => "quản lý tài khoản / manage accounts",
            Permission::ReadFacilities => "xem trạm y tế, công an, trường / read facilities",
            Permission::ManageFacilities => "sửa trạm y tế, công an, trường / edit facilities",
            Permission::DraftAlerts => "soạn cảnh báo dịch / draft outbreak alerts",
            Permission::ApproveAlerts => "duyệt cảnh báo dịch / approve outbreak alerts",
            Permission::ReadAlerts => "xem cảnh báo dịch / read outbreak alerts",
            Permission::CampaignList => "xem danh sách trẻ của cảnh báo / list an alert's children",
            Permission::Inbox => {
                "đọc và trả lời tin nhắn của người dân / read and answer families' replies"
            }
        }
    }

    /// The row's words in the README table.
    fn describe(self) -> &'static str {
        match self {
            Permission::ReadCitizen => {
                "read a citizen (`GET /api/citizens/{pin}`, `/staff/citizens/{pin}`)"
            }
            Permission::EditRegistry => {
                "register and edit citizens (`POST /api/citizens`, `PATCH /api/citizens/{pin}`)"
            }
            Permission::RecordIdCard => "record an ID card (`POST /api/citizens/{pin}/id-cards`)",
            Permission::RecordDose => {
                "record doses, remove a wrong one with its reason (`POST /api/citizens/{pin}/immunizations`, `DELETE /api/citizens/{pin}/immunizations/{vaccine}/{date}`, the citizen page's forms)"
            }
            Permission::EditContacts => {
                "correct a guardian's phone, stop or restart a family's messages (the citizen page)"
            }
            Permission::ReadForecast => "a citizen's forecast (`GET /api/citizens/{pin}/forecast`)",
            Permission::ReadAccessLog => {
                "who read a person's data (`GET /api/citizens/{pin}/access-log`)"
            }
            Permission::VaccinationList => {
                "the vaccination list (`/api/reports/vaccination`, `/staff/vaccination`)"
            }
            Permission::IdCardList => "the ID-card list (`/api/reports/id-cards`)",
            Permission::Enrolment => {
                "enrolment forecasts and the places stored (`/api/reports/enrolment`, `/staff/enrolment`, `GET /api/school-places`)"
            }
            Permission::UploadPlaces => {
                "upload school places (`PUT /api/school-places`, the enrolment page's form)"
            }
            Permission::Coverage => "coverage counts (`/api/reports/coverage`)",
            Permission::CoverageExplain => {
                "the children behind coverage (`/api/reports/coverage?explain=true`)"
            }
            Permission::Messages => "messages and retries (`/api/messages`, `/staff/delivery`)",
            Permission::StartRun => "start today's run (`POST /api/runs`)",
            Permission::ListRuns => "the latest runs (`GET /api/runs`)",
            Permission::SignedIn => {
                "the staff start page, signing out, one's own password (`/staff`, `/staff/logout`, `/staff/password`)"
            }
            Permission::ManageUsers => "people's accounts (`/staff/users`; `vongdoi users …`)",
            Permission::ReadFacilities => {
                "the area's health stations, police posts and schools (`GET /api/facilities`, `/staff/facilities`)"
            }
            Permission::ManageFacilities => {
                "add, edit, remove and upload facilities (`PUT /api/facilities`, the facilities page's forms; `vongdoi facilities import`)"
            }
            Permission::DraftAlerts => {
                "draft, submit and cancel an outbreak alert for the area (`POST /api/alerts`, `…/submit`, `…/cancel`, `/staff/alerts`)"
            }
            Permission::ApproveAlerts => {
                "approve someone else's alert whose every commune is in one's area (`POST /api/alerts/{id}/approve`)"
            }
            Permission::ReadAlerts => {
                "the area's alerts: preview, steps, reach and outcome (`GET /api/alerts`, `…/{id}`, `…/preview`, `…/reach`)"
            }
            Permission::CampaignList => {
                "an alert's children with the guardian to call, and who was sent (`GET /api/alerts/{id}/worklist`, `…/messages`)"
            }
            Permission::Inbox => {
                "the commune's inbox of families' replies: read, answer, mark done (`/api/inbox`, `/staff/inbox`)"
            }
        }
    }
}

/// The README's roles table, from [`Permission::ALL`].
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| may | admin | registrar | health | education | auditor |\n|---|---|---|---|---|---|\n",
    );
    for p in Permission::ALL {
        out.push_str(&format!("| {} |", p.describe()));
        for r in Role::ALL {
            out.push_str(if p.allows(r) { " ✓ |" } else { " |" });
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_prints_this_table() {
        let readme = include_str!("../../README.md");
        let table = markdown_table();
        assert!(
            readme.contains(&table),
            "README.md's roles table differs from the code; replace it with:\n\n{table}"
        );
    }

    #[test]
    fn admin_may_everything_and_each_permission_is_listed_once() {
        for p in Permission::ALL {
            assert!(p.allows(Role::Admin));
            assert_eq!(Permission::ALL.iter().filter(|q| **q == p).count(), 1);
        }
        assert!(!Permission::RecordDose.allows(Role::Registrar));
        assert!(Permission::Enrolment.allows(Role::Health));
        assert!(!Permission::ReadCitizen.allows(Role::Education));
        assert!(Permission::UploadPlaces.allows(Role::Education));
        assert!(!Permission::UploadPlaces.allows(Role::Health));
        assert!(Permission::ReadFacilities.allows(Role::Health));
        assert!(!Permission::ManageFacilities.allows(Role::Health));
        assert!(!Permission::ManageFacilities.allows(Role::Education));
    }
}
