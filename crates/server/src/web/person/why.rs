//! "Why can't my family use this money" (Q4): which family money the person could use now for a
//! burden, step by step with the rule of each (ST7), through the API's explanation (nothing is
//! settled).

use axum::extract::State;
use axum::http::{Method, StatusCode};
use gongji_store::Store;
use maud::{html, Markup};
use serde::Deserialize;

use super::{load, refused_status, Ctx};
use crate::extract::{ApiJson, ApiPath};
use crate::routes::settlement::{self, ExplainRequest, ExplainView, StepView};
use crate::routes::shared::{split_account_name, FAMILY};
use crate::routes::RouteTable;
use crate::state::AppState;
use crate::web::layout::{refusal, yuan};
use crate::web::messages::{account_zh, step_message_zh, visit_zh, VISITS};
use crate::web::{Session, WebError, WebQuery, WebResult};

pub(super) fn routes<S: Store + 'static>() -> RouteTable<S> {
    RouteTable::new().add(Method::GET, "/web/persons/{psn_no}/why", why::<S>)
}

#[derive(Deserialize, Default)]
struct WhyQuery {
    visit: Option<String>,
    amount: Option<String>,
}

async fn why<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebQuery(query): WebQuery<WhyQuery>,
) -> WebResult {
    let ctx = load(&state, &session, &psn_no).await?;
    let visit = query.visit.clone().unwrap_or_else(|| "outpatient".into());
    let amount = query.amount.clone().unwrap_or_default();
    let mut refused = None;
    let mut answer = None;
    if query.amount.is_some() {
        let request = ExplainRequest { visit: visit.clone(), amount: amount.trim().to_string() };
        match settlement::explain(State(state.clone()), session.credentials(), ApiPath(psn_no.clone()), ApiJson(request)).await {
            Ok(view) => answer = Some(view.0),
            Err(err) if err.status == StatusCode::UNAUTHORIZED => return Err(WebError::SignIn),
            Err(err) => {
                err.log();
                refused = Some(err);
            }
        }
    }
    let content = html! {
        section.card {
            h2 { "为什么家人不能用这笔钱？" }
            p.hint {
                "就医结算时，先用患者本人的当年账户、历年账户，再用本人的共济账户；本人的钱不够，才按支付顺序使用网内一位家人的共济账户。"
                "一次结算只能用一个共济账户（ST2、ST3）。家人还没确认加入、账户状态不正常、余额为零，或政策不允许这类费用用账户支付时，都不能用（N10、ST4、ST2）。"
            }
            form.why method="get" action=(ctx.url("/why")) {
                label for="visit" { "就医类型" }
                select #visit name="visit" {
                    @for v in VISITS { option value=(v) selected[v == visit] { (visit_zh(v)) } }
                }
                label for="why-amount" { "这次要个人负担的金额（元）" }
                input #why-amount name="amount" value=(amount) inputmode="decimal" autocomplete="off" required placeholder="例如 3000";
                button.primary type="submit" { "看看能用哪些钱" }
            }
        }
        @if let Some(err) = &refused { (refusal(err)) }
        @if let Some(view) = &answer { (explanation(&ctx, view)) }
    };
    Ok(ctx.page("/why", "为什么家人不能用", refused_status(refused.as_ref()), content))
}

/// `A1.mut` → "A1 的共济账户" (this page's person: "本人的…"); `family.mut` → "家人的共济账户".
fn account_label(ctx: &Ctx, key: &str) -> String {
    match split_account_name(key) {
        Some((owner, kind)) if owner == ctx.psn() => format!("本人的{}", account_zh(kind)),
        Some((FAMILY, kind)) => format!("家人的{}", account_zh(kind)),
        Some((owner, kind)) => format!("{owner} 的{}", account_zh(kind)),
        None => key.to_string(),
    }
}

fn explanation(ctx: &Ctx, view: &ExplainView) -> Markup {
    html! {
        section.card.explanation #explanation {
            h2 { "按现在的余额：" (visit_zh(&view.visit)) "，个人负担 " (yuan(&view.amount)) }
            ul.payments {
                @for (account, amount) in &view.payments {
                    li data-account=(account) { (account_label(ctx, account)) " 支付 " (yuan(amount)) }
                }
                li data-account="cash" { "个人现金支付 " (yuan(&view.cash)) }
            }
            h3 { "每一步的说明（ST7）" }
            ol.steps {
                @for step in &view.steps { (explanation_step(ctx, step, &view.visit)) }
            }
            p.hint { "按统筹区政策 " (view.policy) " 计算；只是预估，不结算、不扣钱（Q4）。实际结算时以当时的余额为准。" }
        }
    }
}

/// One step of the explanation, in the pages' words for the visit type `visit`.
fn explanation_step(ctx: &Ctx, step: &StepView, visit: &str) -> Markup {
    let paid = step.code.starts_with("paid.");
    html! {
        li class={ "step " @if paid { "paid" } @else { "skip" } } data-code=(step.code) {
            span.mark aria-hidden="true" { @if paid { "✓" } @else { "✗" } }
            span.text {
                (step_message_zh(&step.message, visit))
                small {
                    @if let Some(account) = &step.account { (account_label(ctx, account)) " · " }
                    "规则 " (step.rule)
                    @if paid { " · " (step.amount) " 元" }
                }
            }
        }
    }
}
