//! Administration endpoints (administrators only). Each is a thin call into
//! `crate::admin`, which the `ream-server admin` command line calls too.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use ream_wire::{
    AddCard, AdminUser, ApiError, CreditChange, CreditTransaction, EnrolmentCode, GroupList, Member,
    MemberKind, NewEnrolmentCode, NewGroup, NewPin, NewQuota, NewSharedAccount, NewUser, QuotaList,
    QuotaUpdate, QuotaView, SetPassword, SetPin, SharedAccount, SharedAccountKind, SharedAccountList,
    TransactionKind, TransactionPage, UserList, UserUpdate, WorkstationList,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Admin, Body};
use crate::admin;
use crate::error::AppResult;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user, delete_user))
        .routes(routes!(set_password))
        .routes(routes!(set_pin))
        .routes(routes!(generate_pin))
        .routes(routes!(add_card))
        .routes(routes!(remove_card))
        .routes(routes!(top_up))
        .routes(routes!(adjust))
        .routes(routes!(user_transactions))
        .routes(routes!(list_quotas, create_quota))
        .routes(routes!(update_quota, delete_quota))
        .routes(routes!(list_groups, create_group))
        .routes(routes!(delete_group))
        .routes(routes!(list_cost_centres, create_cost_centre))
        .routes(routes!(delete_cost_centre))
        .routes(routes!(add_cost_centre_member, remove_cost_centre_member))
        .routes(routes!(list_projects, create_project))
        .routes(routes!(delete_project))
        .routes(routes!(add_project_member, remove_project_member))
        .routes(routes!(list_workstations))
        .routes(routes!(new_enrolment_code))
        .routes(routes!(revoke_workstation))
        .routes(routes!(list_lockouts))
        .routes(routes!(lift_lockout))
        .routes(routes!(unlock_user))
}

#[derive(Debug, Deserialize, IntoParams)]
struct Search {
    /// Part of a username or full name, any case.
    #[serde(default)]
    q: String,
}

#[derive(Debug, Deserialize, IntoParams)]
struct Limit {
    /// At most this many, newest first (default 50).
    limit: Option<i64>,
}

/// Users, optionally filtered.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", security(("bearer" = [])), params(Search),
    responses((status = 200, body = UserList), (status = 403, body = ApiError)))]
async fn list_users(
    State(s): State<AppState>,
    _: Admin,
    Query(q): Query<Search>,
) -> AppResult<Json<UserList>> {
    Ok(Json(UserList { users: admin::list_users(&s, &q.q).await? }))
}

/// Creates a user, with an optional password, PIN and groups.
#[utoipa::path(post, path = "/api/v1/admin/users", tag = "admin", security(("bearer" = [])), request_body = NewUser,
    responses((status = 201, body = AdminUser), (status = 409, body = ApiError), (status = 422, body = ApiError)))]
async fn create_user(
    State(s): State<AppState>,
    _: Admin,
    Body(u): Body<NewUser>,
) -> AppResult<(StatusCode, Json<AdminUser>)> {
    admin::require_groups(&s, &u.groups).await?;
    Ok((StatusCode::CREATED, Json(admin::create_user(&s, &u).await?)))
}

#[utoipa::path(get, path = "/api/v1/admin/users/{username}", tag = "admin", security(("bearer" = [])),
    params(("username" = String, Path)),
    responses((status = 200, body = AdminUser), (status = 404, body = ApiError)))]
async fn get_user(
    State(s): State<AppState>,
    _: Admin,
    Path(username): Path<String>,
) -> AppResult<Json<AdminUser>> {
    Ok(Json(admin::get_user(&s, &username).await?))
}

/// Changes a user's name, email, groups, administrator flag or disabled flag. Disabling
/// ends the user's sessions.
#[utoipa::path(patch, path = "/api/v1/admin/users/{username}", tag = "admin", security(("bearer" = [])),
    params(("username" = String, Path)), request_body = UserUpdate,
    responses((status = 200, body = AdminUser), (status = 404, body = ApiError)))]
async fn update_user(
    State(s): State<AppState>,
    _: Admin,
    Path(username): Path<String>,
    Body(u): Body<UserUpdate>,
) -> AppResult<Json<AdminUser>> {
    if let Some(groups) = &u.groups {
        admin::require_groups(&s, groups).await?;
    }
    Ok(Json(admin::update_user(&s, &username, &u).await?))
}

#[utoipa::path(delete, path = "/api/v1/admin/users/{username}", tag = "admin", security(("bearer" = [])),
    params(("username" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ApiError)))]
async fn delete_user(
    State(s): State<AppState>,
    _: Admin,
    Path(username): Path<String>,
) -> AppResult<StatusCode> {
    admin::delete_user(&s, &username).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/api/v1/admin/users/{username}/password", tag = "admin", security(("bearer" = [])),
    params(("username" = String, Path)), request_body = SetPassword,
    responses((status = 204, description = "set"), (status = 422, body = ApiError)))]
async fn set_password(
    State(s): State<AppState>,
    _: Admin,
    Path(username): Path<String>,
    Body(b): Body<SetPassword>,
) -> AppResult<StatusCode> {
    admin::set_password(&s, &username, &b.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/api/v1/admin/users/{username}/pin", tag = "admin", security(("bearer" = [])),
    params(("username" = String, Path)), request_body = SetPin,
    responses((status = 204, description = "set"), (status = 409, description = "SECRET_TAKEN", body = ApiError),
        (status = 422, description = "PIN_INVALID", body = ApiError)))]
async fn set_pin(
    State(s): State<AppState>,
    _: Admin,
    Path(username): Path<String>,
    Body(b): Body<SetPin>,
) -> AppResult<StatusCode> {
    admin::set_pin(&s, &username, &b.pin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Gives the user a new random PIN, returned once.
#[utoipa::path(post, path = "/api/v1/admin/users/{username}/pin/generate", tag = "admin", security(("bearer" = [])),
    params(("username" = String, Path)),
    responses((status = 200, body = NewPin), (status = 404, body = ApiError)))]
async fn generate_pin(
    State(s): State<AppState>,
    _: Admin,
    Path(username): Path<String>,
) -> AppResult<Json<NewPin>> {
    Ok(Json(NewPin { pin: admin::generate_pin(&s, &username).await? }))
}

#[utoipa::path(post, path = "/api/v1/admin/users/{username}/cards", tag = "admin", security(("bearer" = [])),
    params(("username" = String, Path)), request_body = AddCard,
    responses((status = 201, body = AdminUser), (status = 409, description = "SECRET_TAKEN", body = ApiError)))]
async fn add_card(
    State(s): State<AppState>,
    _: Admin,
    Path(username): Path<String>,
    Body(b): Body<AddCard>,
) -> AppResult<(StatusCode, Json<AdminUser>)> {
    Ok((StatusCode::CREATED, Json(admin::add_card(&s, &username, &b.card).await?)))
}

#[utoipa::path(delete, path = "/api/v1/admin/users/{username}/cards/{card_id}", tag = "admin",
    security(("bearer" = [])), params(("username" = String, Path), ("card_id" = String, Path)),
    responses((status = 204, description = "removed"), (status = 404, body = ApiError)))]
async fn remove_card(
    State(s): State<AppState>,
    _: Admin,
    Path((username, card_id)): Path<(String, String)>,
) -> AppResult<StatusCode> {
    admin::remove_card(&s, &username, &card_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds credit (a positive amount), logged with the administrator's name.
#[utoipa::path(post, path = "/api/v1/admin/users/{username}/credit/top-up", tag = "admin",
    security(("bearer" = [])), params(("username" = String, Path)), request_body = CreditChange,
    responses((status = 200, body = CreditTransaction), (status = 422, body = ApiError)))]
async fn top_up(
    State(s): State<AppState>,
    Admin(ctx): Admin,
    Path(username): Path<String>,
    Body(c): Body<CreditChange>,
) -> AppResult<Json<CreditTransaction>> {
    Ok(Json(admin::change_credit(&s, &username, TransactionKind::TopUp, &c, &ctx.user.username).await?))
}

/// Corrects credit by any non-zero amount, logged with the administrator's name.
#[utoipa::path(post, path = "/api/v1/admin/users/{username}/credit/adjust", tag = "admin",
    security(("bearer" = [])), params(("username" = String, Path)), request_body = CreditChange,
    responses((status = 200, body = CreditTransaction), (status = 422, body = ApiError)))]
async fn adjust(
    State(s): State<AppState>,
    Admin(ctx): Admin,
    Path(username): Path<String>,
    Body(c): Body<CreditChange>,
) -> AppResult<Json<CreditTransaction>> {
    Ok(Json(admin::change_credit(&s, &username, TransactionKind::Adjustment, &c, &ctx.user.username).await?))
}

#[utoipa::path(get, path = "/api/v1/admin/users/{username}/credit/transactions", tag = "admin",
    security(("bearer" = [])), params(("username" = String, Path), Limit),
    responses((status = 200, body = TransactionPage), (status = 404, body = ApiError)))]
async fn user_transactions(
    State(s): State<AppState>,
    _: Admin,
    Path(username): Path<String>,
    Query(l): Query<Limit>,
) -> AppResult<Json<TransactionPage>> {
    Ok(Json(TransactionPage {
        transactions: admin::transactions(&s, &username, l.limit.unwrap_or(50)).await?,
    }))
}

#[utoipa::path(get, path = "/api/v1/admin/users/{username}/quotas", tag = "admin", security(("bearer" = [])),
    params(("username" = String, Path)),
    responses((status = 200, body = QuotaList), (status = 404, body = ApiError)))]
async fn list_quotas(
    State(s): State<AppState>,
    _: Admin,
    Path(username): Path<String>,
) -> AppResult<Json<QuotaList>> {
    Ok(Json(QuotaList { quotas: admin::quotas(&s, &username).await? }))
}

#[utoipa::path(post, path = "/api/v1/admin/users/{username}/quotas", tag = "admin", security(("bearer" = [])),
    params(("username" = String, Path)), request_body = NewQuota,
    responses((status = 201, body = QuotaView), (status = 422, body = ApiError)))]
async fn create_quota(
    State(s): State<AppState>,
    _: Admin,
    Path(username): Path<String>,
    Body(q): Body<NewQuota>,
) -> AppResult<(StatusCode, Json<QuotaView>)> {
    Ok((StatusCode::CREATED, Json(admin::create_quota(&s, &username, &q).await?)))
}

/// Renames a quota, changes its limit, or corrects what was used this period.
#[utoipa::path(patch, path = "/api/v1/admin/quotas/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = QuotaUpdate,
    responses((status = 200, body = QuotaView), (status = 404, body = ApiError)))]
async fn update_quota(
    State(s): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
    Body(u): Body<QuotaUpdate>,
) -> AppResult<Json<QuotaView>> {
    Ok(Json(admin::update_quota(&s, &id, &u).await?))
}

#[utoipa::path(delete, path = "/api/v1/admin/quotas/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ApiError)))]
async fn delete_quota(State(s): State<AppState>, _: Admin, Path(id): Path<String>) -> AppResult<StatusCode> {
    s.store.delete_quota(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/admin/groups", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = GroupList), (status = 403, body = ApiError)))]
async fn list_groups(State(s): State<AppState>, _: Admin) -> AppResult<Json<GroupList>> {
    Ok(Json(GroupList { groups: admin::list_groups(&s).await? }))
}

#[utoipa::path(post, path = "/api/v1/admin/groups", tag = "admin", security(("bearer" = [])), request_body = NewGroup,
    responses((status = 201, description = "created"), (status = 409, body = ApiError)))]
async fn create_group(State(s): State<AppState>, _: Admin, Body(g): Body<NewGroup>) -> AppResult<StatusCode> {
    admin::create_group(&s, &g.name).await?;
    Ok(StatusCode::CREATED)
}

#[utoipa::path(delete, path = "/api/v1/admin/groups/{name}", tag = "admin", security(("bearer" = [])),
    params(("name" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ApiError)))]
async fn delete_group(
    State(s): State<AppState>,
    _: Admin,
    Path(name): Path<String>,
) -> AppResult<StatusCode> {
    s.store.delete_group(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

// Cost centres and projects share their logic; each kind has its own paths.

async fn list_shared(s: &AppState, kind: SharedAccountKind) -> AppResult<Json<SharedAccountList>> {
    Ok(Json(SharedAccountList { accounts: s.store.list_shared_accounts(kind).await? }))
}

async fn create_shared(
    s: &AppState,
    kind: SharedAccountKind,
    a: &NewSharedAccount,
) -> AppResult<(StatusCode, Json<SharedAccount>)> {
    Ok((StatusCode::CREATED, Json(admin::create_shared_account(s, kind, a).await?)))
}

async fn delete_shared(s: &AppState, kind: SharedAccountKind, name: &str) -> AppResult<StatusCode> {
    s.store.delete_shared_account(kind, name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn member(
    s: &AppState,
    kind: SharedAccountKind,
    (account, member_kind, name): (String, MemberKind, String),
    present: bool,
) -> AppResult<Json<SharedAccount>> {
    Ok(Json(admin::set_member(s, kind, &account, &Member { kind: member_kind, name }, present).await?))
}

#[utoipa::path(get, path = "/api/v1/admin/cost-centres", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = SharedAccountList)))]
async fn list_cost_centres(State(s): State<AppState>, _: Admin) -> AppResult<Json<SharedAccountList>> {
    list_shared(&s, SharedAccountKind::CostCentre).await
}

#[utoipa::path(post, path = "/api/v1/admin/cost-centres", tag = "admin", security(("bearer" = [])),
    request_body = NewSharedAccount, responses((status = 201, body = SharedAccount), (status = 409, body = ApiError)))]
async fn create_cost_centre(
    State(s): State<AppState>,
    _: Admin,
    Body(a): Body<NewSharedAccount>,
) -> AppResult<(StatusCode, Json<SharedAccount>)> {
    create_shared(&s, SharedAccountKind::CostCentre, &a).await
}

#[utoipa::path(delete, path = "/api/v1/admin/cost-centres/{name}", tag = "admin", security(("bearer" = [])),
    params(("name" = String, Path)), responses((status = 204, description = "deleted"), (status = 404, body = ApiError)))]
async fn delete_cost_centre(
    State(s): State<AppState>,
    _: Admin,
    Path(name): Path<String>,
) -> AppResult<StatusCode> {
    delete_shared(&s, SharedAccountKind::CostCentre, &name).await
}

/// Opens the cost centre to a user or to every member of a group.
#[utoipa::path(put, path = "/api/v1/admin/cost-centres/{name}/members/{kind}/{member}", tag = "admin",
    security(("bearer" = [])),
    params(("name" = String, Path), ("kind" = MemberKind, Path), ("member" = String, Path)),
    responses((status = 200, body = SharedAccount), (status = 404, body = ApiError)))]
async fn add_cost_centre_member(
    State(s): State<AppState>,
    _: Admin,
    Path(p): Path<(String, MemberKind, String)>,
) -> AppResult<Json<SharedAccount>> {
    member(&s, SharedAccountKind::CostCentre, p, true).await
}

#[utoipa::path(delete, path = "/api/v1/admin/cost-centres/{name}/members/{kind}/{member}", tag = "admin",
    security(("bearer" = [])),
    params(("name" = String, Path), ("kind" = MemberKind, Path), ("member" = String, Path)),
    responses((status = 200, body = SharedAccount), (status = 404, body = ApiError)))]
async fn remove_cost_centre_member(
    State(s): State<AppState>,
    _: Admin,
    Path(p): Path<(String, MemberKind, String)>,
) -> AppResult<Json<SharedAccount>> {
    member(&s, SharedAccountKind::CostCentre, p, false).await
}

#[utoipa::path(get, path = "/api/v1/admin/projects", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = SharedAccountList)))]
async fn list_projects(State(s): State<AppState>, _: Admin) -> AppResult<Json<SharedAccountList>> {
    list_shared(&s, SharedAccountKind::Project).await
}

#[utoipa::path(post, path = "/api/v1/admin/projects", tag = "admin", security(("bearer" = [])),
    request_body = NewSharedAccount, responses((status = 201, body = SharedAccount), (status = 409, body = ApiError)))]
async fn create_project(
    State(s): State<AppState>,
    _: Admin,
    Body(a): Body<NewSharedAccount>,
) -> AppResult<(StatusCode, Json<SharedAccount>)> {
    create_shared(&s, SharedAccountKind::Project, &a).await
}

#[utoipa::path(delete, path = "/api/v1/admin/projects/{name}", tag = "admin", security(("bearer" = [])),
    params(("name" = String, Path)), responses((status = 204, description = "deleted"), (status = 404, body = ApiError)))]
async fn delete_project(
    State(s): State<AppState>,
    _: Admin,
    Path(name): Path<String>,
) -> AppResult<StatusCode> {
    delete_shared(&s, SharedAccountKind::Project, &name).await
}

/// Opens the project to a user or to every member of a group.
#[utoipa::path(put, path = "/api/v1/admin/projects/{name}/members/{kind}/{member}", tag = "admin",
    security(("bearer" = [])),
    params(("name" = String, Path), ("kind" = MemberKind, Path), ("member" = String, Path)),
    responses((status = 200, body = SharedAccount), (status = 404, body = ApiError)))]
async fn add_project_member(
    State(s): State<AppState>,
    _: Admin,
    Path(p): Path<(String, MemberKind, String)>,
) -> AppResult<Json<SharedAccount>> {
    member(&s, SharedAccountKind::Project, p, true).await
}

#[utoipa::path(delete, path = "/api/v1/admin/projects/{name}/members/{kind}/{member}", tag = "admin",
    security(("bearer" = [])),
    params(("name" = String, Path), ("kind" = MemberKind, Path), ("member" = String, Path)),
    responses((status = 200, body = SharedAccount), (status = 404, body = ApiError)))]
async fn remove_project_member(
    State(s): State<AppState>,
    _: Admin,
    Path(p): Path<(String, MemberKind, String)>,
) -> AppResult<Json<SharedAccount>> {
    member(&s, SharedAccountKind::Project, p, false).await
}

#[utoipa::path(get, path = "/api/v1/admin/workstations", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = WorkstationList)))]
async fn list_workstations(State(s): State<AppState>, _: Admin) -> AppResult<Json<WorkstationList>> {
    let workstations = s.store.list_workstations().await?.iter().map(|w| w.view()).collect();
    Ok(Json(WorkstationList { workstations }))
}

/// Creates a one-time code that enrols one workstation (shown once).
#[utoipa::path(post, path = "/api/v1/admin/workstations/enrolment-codes", tag = "admin",
    security(("bearer" = [])), request_body = NewEnrolmentCode,
    responses((status = 201, body = EnrolmentCode), (status = 422, body = ApiError)))]
async fn new_enrolment_code(
    State(s): State<AppState>,
    _: Admin,
    Body(r): Body<NewEnrolmentCode>,
) -> AppResult<(StatusCode, Json<EnrolmentCode>)> {
    Ok((StatusCode::CREATED, Json(admin::new_enrolment_code(&s, &r).await?)))
}

/// Revokes a workstation: its proofs are refused and the sessions it opened end.
#[utoipa::path(delete, path = "/api/v1/admin/workstations/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "revoked"), (status = 404, body = ApiError)))]
async fn revoke_workstation(
    State(s): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    admin::revoke_workstation(&s, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
struct Lockouts {
    lockouts: Vec<crate::auth::Lockout>,
}

/// The usernames and client addresses with failed attempts counted now, and when each
/// lock ends.
#[utoipa::path(get, path = "/api/v1/admin/lockouts", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Lockouts), (status = 403, body = ApiError)))]
async fn list_lockouts(State(s): State<AppState>, _: Admin) -> AppResult<Json<Lockouts>> {
    Ok(Json(Lockouts { lockouts: crate::auth::lockouts(&s).await? }))
}

/// Lifts the lock on a username (`user`) or a client address (`source`) and forgets its
/// failed attempts; the answer is what there was.
#[utoipa::path(delete, path = "/api/v1/admin/lockouts/{kind}/{name}", tag = "admin", security(("bearer" = [])),
    params(("kind" = crate::auth::LockKind, Path), ("name" = String, Path)),
    responses((status = 200, body = crate::auth::Lockout), (status = 403, body = ApiError)))]
async fn lift_lockout(
    State(s): State<AppState>,
    Admin(ctx): Admin,
    Path((kind, name)): Path<(crate::auth::LockKind, String)>,
) -> AppResult<Json<crate::auth::Lockout>> {
    Ok(Json(crate::auth::unlock(&s, kind, &name, &ctx.user.username).await?))
}

/// Lifts a user's lockout after failed logins and forgets those failures.
#[utoipa::path(post, path = "/api/v1/admin/users/{username}/unlock", tag = "admin", security(("bearer" = [])),
    params(("username" = String, Path)),
    responses((status = 200, body = crate::auth::Lockout), (status = 404, body = ApiError)))]
async fn unlock_user(
    State(s): State<AppState>,
    Admin(ctx): Admin,
    Path(username): Path<String>,
) -> AppResult<Json<crate::auth::Lockout>> {
    Ok(Json(admin::unlock_user(&s, &username, &ctx.user.username).await?))
}
