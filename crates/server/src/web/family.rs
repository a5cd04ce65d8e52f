//! The pages of the other family models, shown in areas whose policy enables them: the relative
//! transfer with its one-time code (Hangzhou, §7, TR1–TR4) and the bindings of the association
//! model (Shenzhen, §8, S1–S2). As everywhere in `web`, each read and each action is a call of
//! the JSON API's handler ([`crate::routes::family`]), and each form that acts has the shape of
//! the person pages' [`OnPerson::act`] (the transfer request excepted, whose next page is the
//! code's); the code reaches the person only as a text message, never on a page.

use std::future::ready;

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use gongji_core::{IdNumber, Money};
use gongji_store::Store;
use maud::html;
use serde::Deserialize;

use super::layout::{confirm_form, notice, refusal, yuan};
use super::messages::{account_zh, relation_zh};
use super::person::{at_once, load, refused_status, unconfirmed, Ctx, OnPerson};
use super::{notice_text, Session, WebError, WebForm, WebQuery, WebResult};
use crate::extract::{ApiJson, ApiPath};
use crate::problem::ApiError;
use crate::routes::family::{self, BindRequest, ConfirmCodeRequest, RelativeTransferRequest};
use crate::routes::RouteTable;
use crate::state::AppState;

pub fn routes<S: Store + 'static>() -> RouteTable<S> {
    RouteTable::new()
        .add(Method::GET, "/web/persons/{psn_no}/transfer", transfer_page::<S>)
        .add(Method::POST, "/web/persons/{psn_no}/transfer", transfer_post::<S>)
        .add(Method::POST, "/web/persons/{psn_no}/transfer/confirm", transfer_confirm::<S>)
        .add(Method::GET, "/web/persons/{psn_no}/bindings", bindings_page::<S>)
        .add(Method::POST, "/web/persons/{psn_no}/bindings/bind", bind::<S>)
        .add(Method::POST, "/web/persons/{psn_no}/bindings/unbind", unbind::<S>)
}

// ---- relative transfer (TR1–TR4) ----

#[derive(Deserialize, Default)]
struct TransferForm {
    #[serde(default)]
    relation: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    id_number: String,
    #[serde(default)]
    amount: String,
    commitment: Option<String>,
    confirmed: Option<String>,
    ok: Option<String>,
}

async fn transfer_page<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebQuery(form): WebQuery<TransferForm>,
) -> WebResult {
    let ctx = load(&state, &session, &psn_no).await?;
    Ok(transfer_form(&ctx, &form, None))
}

fn transfer_form(ctx: &Ctx, form: &TransferForm, refused: Option<&ApiError>) -> Response {
    let relations = ctx.relations();
    let content = html! {
        @if let Some(text) = notice_text(form.ok.as_deref()) { (notice(text)) }
        @if let Some(err) = refused { (refusal(err)) }
        section.card {
            h2 { "亲属划转（家庭共济划转）" }
            p.hint {
                "把本人历年账户的钱划给同一统筹区参保的近亲属，钱进入对方的历年账户，从此归对方所有（TR1、TR2）。"
                "姓名和身份证号码必须与登记信息一致；确认时要输入发到您登记手机的 6 位验证码，5 分钟内有效，可以试 5 次（TR3）。"
            }
            div.pair { div class="balance his" { h3 { "历年账户 HIS" } p.amount { (ctx.balance("his")) small { " 元" } } } }
            form.transfer method="post" action=(ctx.url("/transfer")) {
                label.choice {
                    input type="checkbox" name="commitment" value="yes" checked[form.commitment.as_deref() == Some("yes")] required;
                    " 本人已阅读并同意《个人账户历年资金家庭共济承诺书》：所填亲属关系真实，如有虚假，由本人承担法律责任。"
                }
                label for="relation" { "与本人的关系" }
                select #relation name="relation" required {
                    @for name in &relations { option value=(name) selected[*name == form.relation] { (relation_zh(name)) } }
                }
                label for="beneficiary-name" { "对方姓名" }
                input #beneficiary-name name="name" value=(form.name) required autocomplete="off";
                label for="beneficiary-id" { "对方身份证号码" }
                input #beneficiary-id name="id_number" value=(form.id_number) required maxlength="18" autocomplete="off" spellcheck="false";
                label for="transfer-amount" { "划转金额（元，不超过历年账户余额）" }
                input #transfer-amount name="amount" value=(form.amount) inputmode="decimal" required autocomplete="off";
                button.primary type="submit" { "下一步：确认" }
            }
        }
    };
    ctx.page("/transfer", "亲属划转", refused_status(refused), content)
}

/// Not [`OnPerson::act`]: the request is followed by the code page (TR3), not by a redirect, and
/// both the code page and a refusal show the person as read before the request.
async fn transfer_post<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebForm(form): WebForm<TransferForm>,
) -> WebResult {
    // The same parsing as the API, so that the confirmation shows what will be sent.
    let checked = Money::parse_positive(form.amount.trim())
        .map_err(ApiError::from)
        .and_then(|amount| IdNumber::parse(form.id_number.trim()).map(|id| (amount, id)).map_err(ApiError::from));
    let (amount, id_number) = match checked {
        Ok(values) => values,
        Err(err) => {
            let ctx = load(&state, &session, &psn_no).await?;
            return Ok(transfer_form(&ctx, &form, Some(&err)));
        }
    };
    let ctx = load(&state, &session, &psn_no).await?;
    if form.confirmed.as_deref() != Some("yes") {
        let summary = html! {
            table.confirm-table {
                tr { th { "转出" } td { "本人" (account_zh("his")) " HIS（现有 " (yuan(ctx.balance("his"))) "）" } }
                tr { th { "转给" } td { (relation_zh(&form.relation)) " " (form.name.trim()) "（身份证 " (id_number.masked()) "）的历年账户" } }
                tr.amount { th { "金额" } td { strong data-confirm-amount=(amount.to_string()) { (yuan(&amount.to_string())) } } }
            }
            p.warning { "划转后钱归对方所有，不能撤回。下一步会向您登记的手机发送验证码。" }
        };
        let fields = [
            ("relation", form.relation.clone()),
            ("name", form.name.trim().to_string()),
            ("id_number", id_number.as_str().to_string()),
            ("amount", amount.to_string()),
            ("commitment", form.commitment.clone().unwrap_or_default()),
        ];
        let content = confirm_form(&ctx.url("/transfer"), &fields, "获取验证码", &ctx.url("/transfer"), summary);
        return Ok(ctx.page("/transfer", "确认亲属划转", StatusCode::OK, content));
    }
    let request = RelativeTransferRequest {
        commitment_accepted: form.commitment.as_deref() == Some("yes"),
        relation: form.relation.clone(),
        beneficiary_name: form.name.clone(),
        beneficiary_id_number: id_number.as_str().to_string(),
        amount: amount.to_string(),
    };
    match family::request_relative_transfer(State(state.clone()), session.credentials(), ApiPath(psn_no.clone()), ApiJson(request)).await {
        Ok((_, view)) => {
            let view = view.0;
            Ok(code_page(&ctx, view.request_id, Some(&view.phone_masked), &view.amount, None))
        }
        Err(err) if err.status == StatusCode::UNAUTHORIZED => Err(WebError::SignIn),
        Err(err) => {
            err.log();
            Ok(transfer_form(&ctx, &form, Some(&err)))
        }
    }
}

/// TR3: the page where the code from the text message is typed.
fn code_page(ctx: &Ctx, request_id: i64, phone: Option<&str>, amount: &str, refused: Option<&ApiError>) -> Response {
    let content = html! {
        @if let Some(err) = refused { (refusal(err)) }
        section.confirm {
            h2 { "输入验证码" }
            p {
                "验证码已发送到"
                @match phone { Some(p) => { " " strong { (p) } } None => { "您登记的手机" } }
                "，5 分钟内有效，可以试 5 次。输入后划转 " (yuan(amount)) "。"
            }
            form method="post" action=(ctx.url("/transfer/confirm")) {
                input type="hidden" name="request_id" value=(request_id);
                input type="hidden" name="amount" value=(amount);
                label for="code" { "6 位验证码" }
                input #code name="code" inputmode="numeric" maxlength="6" autocomplete="one-time-code" required;
                div.buttons {
                    button.primary type="submit" { "确认划转" }
                    a.button href=(ctx.url("/transfer")) { "放弃" }
                }
            }
        }
    };
    ctx.page("/transfer", "输入验证码", refused_status(refused), content)
}

#[derive(Deserialize)]
struct CodeForm {
    request_id: i64,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    code: String,
}

async fn transfer_confirm<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebForm(form): WebForm<CodeForm>,
) -> WebResult {
    let page = OnPerson { state: &state, session: &session, psn_no: &psn_no };
    page.act(
        Ok(ConfirmCodeRequest { code: form.code.trim().to_string() }),
        at_once(),
        |request| family::confirm_relative_transfer(State(state.clone()), session.credentials(), ApiPath((psn_no.clone(), form.request_id)), ApiJson(request)),
        |_| format!("/web/persons/{psn_no}?ok=transferred"),
        |ctx, err| ready(Ok(code_page(&ctx, form.request_id, None, &form.amount, Some(&err)))),
    )
    .await
}

// ---- association (S1–S2) ----

#[derive(Deserialize, Default)]
struct BindForm {
    #[serde(default)]
    relative: String,
    #[serde(default)]
    relation: String,
    ok: Option<String>,
}

async fn bindings_page<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebQuery(form): WebQuery<BindForm>,
) -> WebResult {
    let ctx = load(&state, &session, &psn_no).await?;
    bindings_response(&state, &session, &ctx, &form, None).await
}

async fn bindings_response<S: Store + 'static>(state: &AppState<S>, session: &Session, ctx: &Ctx, form: &BindForm, refused: Option<&ApiError>) -> WebResult {
    let psn_no = ctx.psn();
    let list = family::bindings(State(state.clone()), session.credentials(), ApiPath(psn_no.to_string())).await.map_err(|e| ctx.viewer.refused(e))?.0;
    let relations = ctx.relations();
    let content = html! {
        @if let Some(text) = notice_text(form.ok.as_deref()) { (notice(text)) }
        @if let Some(err) = refused { (refusal(err)) }
        section.card {
            h2 { "家庭成员关联" }
            p.hint {
                "关联同一统筹区参保的配偶、父母、子女后，对方就医时可以使用您个人账户中超过保留额"
                @if let Some(threshold) = ctx.association_threshold() { "（" (yuan(&threshold)) "）" }
                "的部分（S1、S2）。关联双方任何一方都可以解除。"
            }
            @if list.items.is_empty() {
                p { "还没有关联。" }
            } @else {
                table.bindings {
                    thead { tr { th { "被使用人" } th { "使用人" } th { "关系" } th { "关联日期" } th { "操作" } } }
                    tbody {
                        @for b in &list.items {
                            @let other = if b.binder == psn_no { &b.relative } else { &b.binder };
                            tr data-binding=(b.binding_id) {
                                td { (ctx.who(&b.binder)) }
                                td { (ctx.who(&b.relative)) }
                                td { (relation_zh(&b.relation)) }
                                td.date { (b.since) }
                                td {
                                    form.inline method="post" action=(ctx.url("/bindings/unbind")) {
                                        input type="hidden" name="other" value=(other);
                                        button.small.danger type="submit" { "解除" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "关联一位亲属（让对方使用我的账户）" }
            form.invite method="post" action=(ctx.url("/bindings/bind")) {
                label for="relative" { "亲属的个人编号" }
                input #relative name="relative" value=(form.relative) required autocomplete="off";
                label for="bind-relation" { "与本人的关系" }
                select #bind-relation name="relation" required {
                    @for name in &relations { option value=(name) selected[*name == form.relation] { (relation_zh(name)) } }
                }
                button.primary type="submit" { "关联" }
            }
        }
    };
    Ok(ctx.page("/bindings", "家庭成员关联", refused_status(refused), content))
}

async fn bind<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebForm(form): WebForm<BindForm>,
) -> WebResult {
    let page = OnPerson { state: &state, session: &session, psn_no: &psn_no };
    page.act(
        Ok(BindRequest { relative: form.relative.trim().to_string(), relation: form.relation.clone() }),
        at_once(),
        |request| family::bind(State(state.clone()), session.credentials(), ApiPath(psn_no.clone()), ApiJson(request)),
        |_| format!("/web/persons/{psn_no}/bindings?ok=bound"),
        async |ctx, err| bindings_response(&state, &session, &ctx, &form, Some(&err)).await,
    )
    .await
}

#[derive(Deserialize)]
struct UnbindForm {
    other: String,
    confirmed: Option<String>,
}

async fn unbind<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebForm(form): WebForm<UnbindForm>,
) -> WebResult {
    let page = OnPerson { state: &state, session: &session, psn_no: &psn_no };
    let confirmation = unconfirmed(&form.confirmed).then_some(|ctx: &Ctx, _: &()| {
        let summary = html! { p { "解除与 " strong { (form.other) } " 的关联？解除后对方不能再使用关联账户的钱。" } };
        let content = confirm_form(&ctx.url("/bindings/unbind"), &[("other", form.other.clone())], "确认解除", &ctx.url("/bindings"), summary);
        ctx.page("/bindings", "确认解除关联", StatusCode::OK, content)
    });
    page.act(
        Ok(()),
        confirmation,
        |()| family::unbind(State(state.clone()), session.credentials(), ApiPath((psn_no.clone(), form.other.clone()))),
        |_| format!("/web/persons/{psn_no}/bindings?ok=unbound"),
        async |ctx, err| bindings_response(&state, &session, &ctx, &BindForm::default(), Some(&err)).await,
    )
    .await
}
