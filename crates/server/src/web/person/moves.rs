//! A person's own money between HIS and MUT: moves at once (T1) and the yearly preset HIS→MUT
//! (T2), each confirmed with the amount and both accounts before the API moves anything.

use std::future::ready;

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use gongji_core::Money;
use gongji_store::Store;
use maud::html;
use serde::Deserialize;

use super::{load, refused_status, unconfirmed, Ctx, OnPerson};
use crate::extract::{ApiJson, ApiPath};
use crate::problem::ApiError;
use crate::routes::transfers::{self, MoveRequest, PresetRequest};
use crate::routes::RouteTable;
use crate::state::AppState;
use crate::web::layout::{confirm_form, notice, refusal, yuan};
use crate::web::messages::account_zh;
use crate::web::{notice_text, Session, WebForm, WebQuery, WebResult};

pub(super) fn routes<S: Store + 'static>() -> RouteTable<S> {
    RouteTable::new()
        .add(Method::GET, "/web/persons/{psn_no}/move", move_page::<S>)
        .add(Method::POST, "/web/persons/{psn_no}/move", move_post::<S>)
        .add(Method::GET, "/web/persons/{psn_no}/preset", preset_page::<S>)
        .add(Method::POST, "/web/persons/{psn_no}/preset", preset_post::<S>)
}

// ---- HIS ↔ MUT (T1) ----

#[derive(Deserialize, Default)]
struct MoveForm {
    #[serde(default)]
    from: String,
    #[serde(default)]
    amount: String,
    confirmed: Option<String>,
}

fn other_account(from: &str) -> Option<&'static str> {
    match from {
        "his" => Some("mut"),
        "mut" => Some("his"),
        _ => None,
    }
}

async fn move_page<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebQuery(form): WebQuery<MoveForm>,
) -> WebResult {
    let ctx = load(&state, &session, &psn_no).await?;
    Ok(move_form(&ctx, &form, None))
}

fn move_form(ctx: &Ctx, form: &MoveForm, refused: Option<&ApiError>) -> Response {
    let from = if form.from == "mut" { "mut" } else { "his" };
    let content = html! {
        @if let Some(err) = refused { (refusal(err)) }
        section.card {
            h2 { "历年账户 ↔ 共济账户 划转" }
            p.hint {
                "可以把本人历年账户的钱全部或部分划入本人共济账户，也可以从共济账户划回历年账户，即时到账（T1）。"
                "共济账户的钱仍归您本人所有（T3）；任何人，包括发起人，都不能划转您的钱（N9）。"
            }
            div.pair {
                div class="balance his" { h3 { "历年账户 HIS" } p.amount { (ctx.balance("his")) small { " 元" } } }
                div class="balance mut" { h3 { "共济账户 MUT" } p.amount { (ctx.balance("mut")) small { " 元" } } }
            }
            form.move method="post" action=(ctx.url("/move")) {
                fieldset {
                    legend { "划转方向" }
                    label.choice { input type="radio" name="from" value="his" checked[from == "his"]; " 历年账户 → 共济账户" }
                    label.choice { input type="radio" name="from" value="mut" checked[from == "mut"]; " 共济账户 → 历年账户" }
                }
                label for="amount" { "金额（元）" }
                input #amount name="amount" value=(form.amount) inputmode="decimal" autocomplete="off" required placeholder="例如 500 或 12.50";
                button.primary type="submit" { "下一步：确认" }
            }
        }
    };
    ctx.page("/move", "历年↔共济划转", refused_status(refused), content)
}

async fn move_post<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebForm(form): WebForm<MoveForm>,
) -> WebResult {
    let page = OnPerson { state: &state, session: &session, psn_no: &psn_no };
    let parsed = match other_account(&form.from) {
        None => Err(ApiError::input("choose HIS→MUT or MUT→HIS")),
        Some(to) => Money::parse_positive(form.amount.trim())
            .map(|amount| MoveRequest { from: form.from.clone(), to: to.to_string(), amount: amount.to_string() })
            .map_err(ApiError::from),
    };
    let confirmation = unconfirmed(&form.confirmed).then_some(|ctx: &Ctx, request: &MoveRequest| {
        let (to, amount) = (request.to.as_str(), request.amount.as_str());
        let summary = html! {
            table.confirm-table {
                tr { th { "转出" } td { (account_zh(&form.from)) " " (form.from.to_uppercase()) "（现有 " (yuan(ctx.balance(&form.from))) "）" } }
                tr { th { "转入" } td { (account_zh(to)) " " (to.to_uppercase()) "（现有 " (yuan(ctx.balance(to))) "）" } }
                tr.amount { th { "金额" } td { strong data-confirm-amount=(amount) { (yuan(amount)) } } }
            }
            p.hint { "确认后即时划转。" }
        };
        let back = format!("{}?from={}&amount={}", ctx.url("/move"), form.from, amount);
        let content = confirm_form(&ctx.url("/move"), &[("from", form.from.clone()), ("amount", amount.to_string())], "确认划转", &back, summary);
        ctx.page("/move", "确认划转", StatusCode::OK, content)
    });
    page.act(
        parsed,
        confirmation,
        |request| transfers::move_money(State(state.clone()), session.credentials(), ApiPath(psn_no.clone()), ApiJson(request)),
        |_| format!("/web/persons/{psn_no}?ok=moved"),
        |ctx, err| ready(Ok(move_form(&ctx, &form, Some(&err)))),
    )
    .await
}

// ---- the preset (T2) ----

#[derive(Deserialize, Default)]
struct PresetForm {
    #[serde(default)]
    amount: String,
    clear: Option<String>,
    confirmed: Option<String>,
    ok: Option<String>,
}

async fn preset_page<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebQuery(form): WebQuery<PresetForm>,
) -> WebResult {
    let ctx = load(&state, &session, &psn_no).await?;
    Ok(preset_form(&ctx, &form, None))
}

fn preset_form(ctx: &Ctx, form: &PresetForm, refused: Option<&ApiError>) -> Response {
    let content = html! {
        @if let Some(text) = notice_text(form.ok.as_deref()) { (notice(text)) }
        @if let Some(err) = refused { (refusal(err)) }
        section.card {
            h2 { "预设划入" }
            p.hint {
                "加入家庭共济网的职工参保人员可以预设一个金额，每年 " (ctx.preset_day()) " 从历年账户划入共济账户。"
                "到时历年账户余额不足预设金额，或账户状态不正常，就不划（T2）。"
            }
            p { "现在的预设：" @match &ctx.person.preset { Some(amount) => { strong data-preset=(amount) { (yuan(amount)) } } None => { "未设置" } } }
            form method="post" action=(ctx.url("/preset")) {
                label for="preset-amount" { "每年划入金额（元）" }
                input #preset-amount name="amount" value=(form.amount) inputmode="decimal" autocomplete="off" required placeholder="例如 1000";
                button.primary type="submit" { "下一步：确认" }
            }
            @if ctx.person.preset.is_some() {
                form method="post" action=(ctx.url("/preset")) {
                    input type="hidden" name="clear" value="yes";
                    button.danger type="submit" { "取消预设…" }
                }
            }
        }
    };
    ctx.page("/preset", "预设划入", refused_status(refused), content)
}

async fn preset_post<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebForm(form): WebForm<PresetForm>,
) -> WebResult {
    let page = OnPerson { state: &state, session: &session, psn_no: &psn_no };
    let clear = form.clear.as_deref() == Some("yes");
    let parsed = if clear { Ok(None) } else { Money::parse_positive(form.amount.trim()).map(Some).map_err(ApiError::from) };
    let confirmation = unconfirmed(&form.confirmed).then_some(|ctx: &Ctx, amount: &Option<Money>| {
        let (summary, fields) = match amount {
            Some(amount) => (
                html! {
                    p { "每年 " (ctx.preset_day()) " 从历年账户 HIS 划入共济账户 MUT：" strong data-confirm-amount=(amount.to_string()) { (yuan(&amount.to_string())) } }
                    @if let Some(before) = &ctx.person.preset { p.hint { "现在的预设 " (yuan(before)) " 将被替换。" } }
                },
                vec![("amount", amount.to_string())],
            ),
            None => (html! { p { "取消每年 " (ctx.preset_day()) " 的预设划入？" } }, vec![("clear", "yes".to_string())]),
        };
        let content = confirm_form(&ctx.url("/preset"), &fields, "确认", &ctx.url("/preset"), summary);
        ctx.page("/preset", "确认预设", StatusCode::OK, content)
    });
    page.act(
        parsed,
        confirmation,
        |amount: Option<Money>| {
            let request = PresetRequest { amount: amount.map(|a| a.to_string()) };
            transfers::set_preset(State(state.clone()), session.credentials(), ApiPath(psn_no.clone()), ApiJson(request))
        },
        |_| format!("/web/persons/{psn_no}/preset?ok={}", if clear { "preset-cleared" } else { "preset-set" }),
        |ctx, err| ready(Ok(preset_form(&ctx, &form, Some(&err)))),
    )
    .await
}
