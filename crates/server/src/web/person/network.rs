//! The family network page (§5, N1–N10): founding a network, the members in payment order with
//! the promoter's controls (order, remove, add), a member's invitation to confirm, leaving and
//! dissolving. Every action is [`OnPerson::act`] with the API's handler; removing, leaving and
//! dissolving are confirmed first.

use std::future::ready;

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::Json;
use gongji_store::Store;
use maud::{html, Markup};
use serde::Deserialize;

use super::{at_once, load, refused_status, unconfirmed, AreaRules, Ctx, OnPerson};
use crate::extract::{ApiJson, ApiPath};
use crate::problem::{ApiError, ApiResult};
use crate::routes::networks::{self, AddMemberRequest, CreateNetworkRequest, MemberAddedView, ReorderRequest};
use crate::routes::RouteTable;
use crate::state::AppState;
use crate::web::layout::{confirm_form, notice, refusal};
use crate::web::messages::{member_state_zh, relation_zh};
use crate::web::{notice_text, see_other, Session, WebForm, WebQuery, WebResult};

pub(super) fn routes<S: Store + 'static>() -> RouteTable<S> {
    RouteTable::new()
        .add(Method::GET, "/web/persons/{psn_no}/network", network::<S>)
        .add(Method::POST, "/web/persons/{psn_no}/network/create", create::<S>)
        .add(Method::POST, "/web/persons/{psn_no}/network/invite", invite::<S>)
        .add(Method::POST, "/web/persons/{psn_no}/network/confirm", confirm::<S>)
        .add(Method::POST, "/web/persons/{psn_no}/network/order", reorder::<S>)
        .add(Method::POST, "/web/persons/{psn_no}/network/remove", remove::<S>)
        .add(Method::POST, "/web/persons/{psn_no}/network/leave", leave::<S>)
        .add(Method::POST, "/web/persons/{psn_no}/network/dissolve", dissolve::<S>)
}

#[derive(Deserialize, Default)]
struct InviteForm {
    #[serde(default)]
    member: String,
    #[serde(default)]
    relation: String,
}

#[derive(Deserialize, Default)]
struct NetworkQuery {
    ok: Option<String>,
}

async fn network<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebQuery(query): WebQuery<NetworkQuery>,
) -> WebResult {
    let ctx = load(&state, &session, &psn_no).await?;
    Ok(network_response(&ctx, None, &InviteForm::default(), notice_text(query.ok.as_deref())))
}

fn network_response(ctx: &Ctx, refused: Option<&ApiError>, invite: &InviteForm, done: Option<&str>) -> Response {
    let p = &ctx.person;
    let content = html! {
        @if let Some(text) = done { (notice(text)) }
        @if let Some(err) = refused { (refusal(err)) }
        @match &ctx.rules {
            Some(rules) if !rules.network => {
                section.card {
                    h2 { "家庭共济网" }
                    p { "统筹区 " (p.area) " 的政策（" (rules.policy) "）没有开通家庭共济网。" }
                    @if rules.relative_transfer {
                        p { "本统筹区开通了亲属划转：" a href=(ctx.url("/transfer")) { "去办理亲属划转" } }
                    }
                    @if rules.association {
                        p { "本统筹区开通了家庭成员关联：" a href=(ctx.url("/bindings")) { "去办理家庭成员关联" } }
                    }
                }
            }
            None => { section.card { p { "没有找到统筹区 " (p.area) " 当前有效的政策，请联系经办机构。" } } }
            Some(rules) => {
                @match &p.network {
                    None => { (no_network(ctx)) }
                    Some(n) if n.role == "promoter" => { (promoter_view(ctx, rules, invite)) }
                    Some(_) => { (member_view(ctx)) }
                }
            }
        }
    };
    ctx.page("/network", "家庭共济网", refused_status(refused), content)
}

fn no_network(ctx: &Ctx) -> Markup {
    html! {
        section.card {
            h2 { "您还没有加入家庭共济网" }
            p { "组建家庭共济网后，家人在就医结算时，可以按支付顺序使用网内成员共济账户里的钱。" }
            ul.rules {
                li { "发起人：职工医保参保人员，状态正常，历年账户有余额（N1）。" }
                li { "成员：同一统筹区的职工医保或城乡居民医保参保人员，不含离休干部等统筹人员（N2）；配偶限 1 位，父母限 2 位，子女不限（N3）。" }
                li { "每人只能加入一个共济网（N5）；发起人的支付顺序默认排第一（N6）。" }
                li { "家人邀请您加入时，这里会出现确认按钮。" }
            }
            form method="post" action=(ctx.url("/network/create")) {
                button.primary type="submit" data-action="create-network" { "组建家庭共济网（我做发起人）" }
            }
        }
    }
}

fn members_table(ctx: &Ctx, promoter_controls: bool) -> Markup {
    let Some(n) = &ctx.person.network else { return html! {} };
    let count = n.members.len();
    html! {
        table.members {
            thead { tr { th.order title="支付顺序" { "顺序" } th { "个人编号" } th { "关系" } th { "状态" } @if promoter_controls { th { "操作" } } } }
            tbody {
                @for (index, m) in n.members.iter().enumerate() {
                    tr data-member=(m.psn_no) data-state=(m.state) {
                        td.order { (index + 1) }
                        td { (ctx.who(&m.psn_no)) }
                        td { @if m.psn_no == n.promoter { "发起人" } @else { (m.relation.as_deref().map(relation_zh).unwrap_or("")) } }
                        td { (member_state_zh(&m.state)) }
                        @if promoter_controls {
                            td.actions {
                                @if index > 0 {
                                    form.inline method="post" action=(ctx.url("/network/order")) {
                                        input type="hidden" name="member" value=(m.psn_no);
                                        input type="hidden" name="direction" value="up";
                                        button.small type="submit" title="上移" aria-label={ (m.psn_no) " 上移" } { "↑" }
                                    }
                                }
                                @if index + 1 < count {
                                    form.inline method="post" action=(ctx.url("/network/order")) {
                                        input type="hidden" name="member" value=(m.psn_no);
                                        input type="hidden" name="direction" value="down";
                                        button.small type="submit" title="下移" aria-label={ (m.psn_no) " 下移" } { "↓" }
                                    }
                                }
                                @if m.psn_no != n.promoter {
                                    form.inline method="post" action=(ctx.url("/network/remove")) {
                                        input type="hidden" name="member" value=(m.psn_no);
                                        button.small.danger type="submit" { "删除" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn promoter_view(ctx: &Ctx, rules: &AreaRules, invite: &InviteForm) -> Markup {
    html! {
        section.card {
            h2 { "我的家庭共济网（发起人）" }
            p.hint { "就医结算时先用患者本人的钱，不够时按下面的顺序使用一位成员的共济账户，一次结算只用一个共济账户（ST2、ST3）。只有发起人能调整顺序、添加和删除成员（N6、N7）；发起人也不能动用成员的钱（N9）。" }
            (members_table(ctx, true))
        }
        section.card {
            h2 { "添加家庭成员" }
            form.invite method="post" action=(ctx.url("/network/invite")) {
                label for="member" { "成员的个人编号" }
                input #member name="member" value=(invite.member) required autocomplete="off" placeholder="例如 B1";
                label for="relation" { "与您的关系" }
                select #relation name="relation" required {
                    @for (name, max) in &rules.relations {
                        option value=(name) selected[*name == invite.relation] {
                            (relation_zh(name))
                            @match max { Some(m) => { "（限 " (m) " 位）" } None => { "（不限人数）" } }
                        }
                    }
                }
                p.hint { "年满 16 周岁的成员要本人确认后才加入，确认前不共享资金（N10）。" }
                button.primary type="submit" { "添加成员" }
            }
        }
        section.card.danger-zone {
            h2 { "撤销家庭共济网" }
            p.hint { "撤销后所有成员视同退出；每个人共济账户里的钱仍归本人所有（N7、T3）。" }
            form method="post" action=(ctx.url("/network/dissolve")) {
                button.danger type="submit" { "撤销家庭共济网…" }
            }
        }
    }
}

fn member_view(ctx: &Ctx) -> Markup {
    let Some(n) = &ctx.person.network else { return html! {} };
    html! {
        @if n.state == "pending" {
            section.card.invite {
                h2 { "邀请待您确认" }
                p {
                    (n.promoter) " 邀请您以" strong { (n.relation.as_deref().map(relation_zh).unwrap_or("家庭成员")) } "身份加入家庭共济网。"
                    "确认后，您共济账户里的钱可以按支付顺序供网内家人就医时使用；钱仍归您本人所有，随时可以划回历年账户或退出（T1、T3、N8）。"
                }
                form method="post" action=(ctx.url("/network/confirm")) {
                    button.primary type="submit" data-action="confirm-membership" { "确认加入" }
                }
            }
        }
        section.card {
            h2 { (n.promoter) " 的家庭共济网" }
            p { "您的关系：" (n.relation.as_deref().map(relation_zh).unwrap_or("")) " · 支付顺序第 " (n.position) " 位 · " (member_state_zh(&n.state)) }
            (members_table(ctx, false))
            p.hint { "成员只能自己退出，不能更改别人（N8）；支付顺序由发起人调整（N6）。" }
        }
        section.card.danger-zone {
            form method="post" action=(ctx.url("/network/leave")) {
                button.danger type="submit" { "退出家庭共济网…" }
            }
        }
    }
}

/// A network action ([`OnPerson::act`]): back to the network page with the notice `ok` names,
/// or the page again with the refusal (and what was typed into the invitation).
async fn network_action<S, P, T, Confirm, Call, Called>(
    page: &OnPerson<'_, S>,
    request: P,
    confirmation: Option<Confirm>,
    call: Call,
    ok: impl FnOnce(T) -> &'static str,
    invite: &InviteForm,
) -> WebResult
where
    S: Store + 'static,
    Confirm: FnOnce(&Ctx, &P) -> Response,
    Call: FnOnce(P) -> Called,
    Called: std::future::Future<Output = ApiResult<T>>,
{
    let done = |answer| format!("/web/persons/{}/network?ok={}", page.psn_no, ok(answer));
    page.act(Ok(request), confirmation, call, done, |ctx, err| ready(Ok(network_response(&ctx, Some(&err), invite, None)))).await
}

async fn create<S: Store + 'static>(State(state): State<AppState<S>>, session: Session, ApiPath(psn_no): ApiPath<String>) -> WebResult {
    let page = OnPerson { state: &state, session: &session, psn_no: &psn_no };
    let request = CreateNetworkRequest { promoter: psn_no.clone() };
    let call = |request| networks::create_network(State(state.clone()), session.credentials(), ApiJson(request));
    network_action(&page, request, at_once(), call, |_| "created", &InviteForm::default()).await
}

async fn invite<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebForm(form): WebForm<InviteForm>,
) -> WebResult {
    let page = OnPerson { state: &state, session: &session, psn_no: &psn_no };
    let request = AddMemberRequest { member: form.member.trim().to_string(), relation: form.relation.clone() };
    let call = |request| networks::add_member(State(state.clone()), session.credentials(), ApiPath(psn_no.clone()), ApiJson(request));
    let ok = |Json(added): Json<MemberAddedView>| if added.state == "pending" { "invited-pending" } else { "invited-active" };
    network_action(&page, request, at_once(), call, ok, &form).await
}

async fn confirm<S: Store + 'static>(State(state): State<AppState<S>>, session: Session, ApiPath(psn_no): ApiPath<String>) -> WebResult {
    let page = OnPerson { state: &state, session: &session, psn_no: &psn_no };
    let call = |()| networks::confirm_member(State(state.clone()), session.credentials(), ApiPath(psn_no.clone()));
    network_action(&page, (), at_once(), call, |_| "confirmed", &InviteForm::default()).await
}

#[derive(Deserialize)]
struct OrderForm {
    member: String,
    direction: String,
}

/// Moves one member up or down: the page sends the API the whole new order (N6), as read from
/// the network just now.
async fn reorder<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebForm(form): WebForm<OrderForm>,
) -> WebResult {
    let page = OnPerson { state: &state, session: &session, psn_no: &psn_no };
    let ctx = page.ctx().await?;
    let mut order: Vec<String> = ctx.person.network.as_ref().map(|n| n.members.iter().map(|m| m.psn_no.clone()).collect()).unwrap_or_default();
    let Some(index) = order.iter().position(|m| *m == form.member) else {
        return Ok(network_response(&ctx, Some(&ApiError::input(format!("{} is not in the network", form.member))), &InviteForm::default(), None));
    };
    let other = match form.direction.as_str() {
        "up" if index > 0 => index - 1,
        "down" if index + 1 < order.len() => index + 1,
        _ => return Ok(see_other(&ctx.url("/network"))),
    };
    order.swap(index, other);
    let call = |request| networks::reorder(State(state.clone()), session.credentials(), ApiPath(psn_no.clone()), ApiJson(request));
    network_action(&page, ReorderRequest { order }, at_once(), call, |_| "reordered", &InviteForm::default()).await
}

#[derive(Deserialize)]
struct RemoveForm {
    member: String,
    confirmed: Option<String>,
}

async fn remove<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebForm(form): WebForm<RemoveForm>,
) -> WebResult {
    let page = OnPerson { state: &state, session: &session, psn_no: &psn_no };
    let confirmation = unconfirmed(&form.confirmed).then_some(|ctx: &Ctx, _: &()| {
        let summary = html! {
            p { "从家庭共济网删除成员 " strong { (form.member) } "？" }
            p.hint { "删除后，他/她共济账户里的钱仍归本人所有（T3），但不再供网内家人使用。" }
        };
        let content = confirm_form(&ctx.url("/network/remove"), &[("member", form.member.clone())], "确认删除", &ctx.url("/network"), summary);
        ctx.page("/network", "确认删除成员", StatusCode::OK, content)
    });
    let call = |()| networks::remove_member(State(state.clone()), session.credentials(), ApiPath((psn_no.clone(), form.member.clone())));
    network_action(&page, (), confirmation, call, |_| "removed", &InviteForm::default()).await
}

#[derive(Deserialize)]
struct ConfirmedForm {
    confirmed: Option<String>,
}

async fn leave<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebForm(form): WebForm<ConfirmedForm>,
) -> WebResult {
    let page = OnPerson { state: &state, session: &session, psn_no: &psn_no };
    let confirmation = unconfirmed(&form.confirmed).then_some(|ctx: &Ctx, _: &()| {
        let promoter = ctx.person.network.as_ref().map(|n| n.promoter.clone()).unwrap_or_default();
        let summary = html! {
            p { "退出 " (promoter) " 的家庭共济网？" }
            p.hint { "退出后，您共济账户里的钱仍归您本人所有（T3），不再供网内家人使用；您也不再使用家人的共济账户。" }
        };
        let content = confirm_form(&ctx.url("/network/leave"), &[], "确认退出", &ctx.url("/network"), summary);
        ctx.page("/network", "确认退出", StatusCode::OK, content)
    });
    let call = |()| networks::leave_network(State(state.clone()), session.credentials(), ApiPath(psn_no.clone()));
    network_action(&page, (), confirmation, call, |_| "left", &InviteForm::default()).await
}

async fn dissolve<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebForm(form): WebForm<ConfirmedForm>,
) -> WebResult {
    let page = OnPerson { state: &state, session: &session, psn_no: &psn_no };
    let confirmation = unconfirmed(&form.confirmed).then_some(|ctx: &Ctx, _: &()| {
        let members = ctx.person.network.as_ref().map(|n| n.members.len().saturating_sub(1)).unwrap_or(0);
        let summary = html! {
            p { "撤销您的家庭共济网？网内 " (members) " 位成员都将视同退出（N7）。" }
            p.hint { "每个人共济账户里的钱仍归本人所有（T3）。以后可以重新组建。" }
        };
        let content = confirm_form(&ctx.url("/network/dissolve"), &[], "确认撤销", &ctx.url("/network"), summary);
        ctx.page("/network", "确认撤销共济网", StatusCode::OK, content)
    });
    let call = |()| networks::dissolve(State(state.clone()), session.credentials(), ApiPath(psn_no.clone()));
    network_action(&page, (), confirmation, call, |_| "dissolved", &InviteForm::default()).await
}
