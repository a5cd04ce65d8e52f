//! A person's accounts (Q1) with a chart of the year and a statement (Q2): the balances, the
//! network and preset summary, each account drawn from its balance on 1 January through the
//! year's postings, and the chosen account's postings in a range with the balance after each.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use chrono::{Datelike, NaiveDate};
use gongji_core::Money;
use gongji_store::Store;
use maud::html;
use serde::Deserialize;

use super::{load, Ctx};
use crate::extract::{ApiPath, ApiQuery};
use crate::routes::queries::{self, StatementLineView, StatementQuery};
use crate::routes::shared::parse_date;
use crate::routes::RouteTable;
use crate::state::AppState;
use crate::web::chart::{self, Series};
use crate::web::layout::{notice, refusal, yuan};
use crate::web::messages::{account_zh, entry_kind_zh, member_state_zh, relation_zh};
use crate::web::{notice_text, Session, WebError, WebQuery, WebResult};

pub(super) fn routes<S: Store + 'static>() -> RouteTable<S> {
    RouteTable::new().add(Method::GET, "/web/persons/{psn_no}", overview::<S>)
}

fn fen(amount: &str) -> i64 {
    Money::parse(amount).map(Money::fen).unwrap_or(0)
}

// ---- accounts, statement, chart (Q1, Q2) ----

#[derive(Deserialize, Default)]
struct OverviewQuery {
    year: Option<i32>,
    account: Option<String>,
    from: Option<String>,
    to: Option<String>,
    ok: Option<String>,
}

/// The first day a statement is asked from: all of an account's history.
const EARLIEST: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(day) => day,
    None => panic!("a valid date"),
};

const SERIES: [(&str, &str, &str); 3] = [("cur", "当年账户 CUR", "#8a94a6"), ("his", "历年账户 HIS", "#1f6feb"), ("mut", "共济账户 MUT", "#e8590c")];

async fn lines_since<S: Store + 'static>(
    state: &AppState<S>,
    session: &Session,
    ctx: &Ctx,
    account: &str,
    from: NaiveDate,
) -> Result<Vec<StatementLineView>, WebError> {
    let query = StatementQuery { account: account.into(), from: from.to_string(), to: "9999-12-31".into() };
    let mut lines = queries::statement(State(state.clone()), session.credentials(), ApiPath(ctx.psn().to_string()), ApiQuery(query))
        .await
        .map_err(|e| ctx.viewer.refused(e))?
        .0
        .lines;
    lines.sort_by(|a, b| a.business_date.cmp(&b.business_date).then(a.entry_id.cmp(&b.entry_id)));
    Ok(lines)
}

fn day_of(line: &StatementLineView) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(&line.business_date, "%Y-%m-%d").ok()
}

async fn overview<S: Store + 'static>(
    State(state): State<AppState<S>>,
    session: Session,
    ApiPath(psn_no): ApiPath<String>,
    WebQuery(query): WebQuery<OverviewQuery>,
) -> WebResult {
    let ctx = load(&state, &session, &psn_no).await?;
    let year = query.year.filter(|y| (1900..=9998).contains(y)).unwrap_or(ctx.today.year());
    let first = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(ctx.today);
    let last = NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(ctx.today);
    let account = match query.account.as_deref() {
        Some(kind @ ("cur" | "his" | "mut")) => kind.to_string(),
        _ => "his".to_string(),
    };

    // Every posting of the three accounts (Q2, through the API), oldest first. A balance on a
    // day is the current balance less what was posted from that day on.
    let mut history = Vec::new();
    for (kind, _, _) in SERIES {
        let lines: Vec<(NaiveDate, i64, StatementLineView)> =
            lines_since(&state, &session, &ctx, kind, EARLIEST).await?.into_iter().filter_map(|l| day_of(&l).map(|d| (d, fen(&l.amount), l))).collect();
        history.push((kind, lines));
    }
    let balance_before = |kind: &str, day: NaiveDate| -> i64 {
        let lines = history.iter().find(|(k, _)| *k == kind).map(|(_, l)| l.as_slice()).unwrap_or(&[]);
        fen(ctx.balance(kind)) - lines.iter().filter(|(d, _, _)| *d >= day).map(|(_, amount, _)| amount).sum::<i64>()
    };

    // The chart: each account from its balance on 1 January through the year's postings.
    let series: Vec<Series> = SERIES
        .iter()
        .zip(&history)
        .map(|((kind, label, colour), (_, lines))| Series {
            kind,
            label,
            colour,
            opening: balance_before(kind, first),
            changes: lines.iter().filter(|(d, _, _)| *d >= first && *d <= last).map(|(d, amount, _)| (*d, *amount)).collect(),
        })
        .collect();
    let quiet_year = series.iter().all(|s| s.changes.is_empty());
    let last_active = history.iter().flat_map(|(_, lines)| lines.iter().map(|(d, _, _)| *d)).filter(|d| *d < first).max();

    // The statement: the chosen account in the chosen range, with the balance after each line.
    let mut range_refused = None;
    let mut parse = |text: &Option<String>, what: &str, default: NaiveDate| match text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => default,
        Some(t) => parse_date(t, what).unwrap_or_else(|err| {
            range_refused = Some(err);
            default
        }),
    };
    let from = parse(&query.from, "from", first);
    let to = parse(&query.to, "to", last);
    let mut balance = balance_before(&account, from);
    let mut rows = Vec::new();
    for (day, amount, line) in history.iter().find(|(k, _)| *k == account).map(|(_, l)| l.as_slice()).unwrap_or(&[]) {
        if *day >= from && *day <= to {
            balance += amount;
            rows.push((line, Money::from_fen(balance).to_string()));
        }
    }
    rows.reverse();
    let through = if year < ctx.today.year() { last } else { ctx.today };
    let chart = chart::year_chart(year, through, &series);
    let p = &ctx.person;
    let invited = p.network.as_ref().filter(|n| n.state == "pending" && n.role == "member");
    let content = html! {
        @if let Some(text) = notice_text(query.ok.as_deref()) { (notice(text)) }
        @if let Some(n) = invited {
            div.notice.invite {
                (n.promoter) " 邀请您以" (n.relation.as_deref().map(relation_zh).unwrap_or("家庭成员")) "身份加入家庭共济网，等待您确认。"
                a.button href=(ctx.url("/network")) { "去确认" }
            }
        }
        section.balances aria-label="余额" {
            @for (kind, label, _) in SERIES {
                div class={ "balance " (kind) } data-account=(kind) {
                    h3 { (label) }
                    p.amount { (ctx.balance(kind)) small { " 元" } }
                }
            }
        }
        @if ctx.has(|r| r.network) { section.summary {
            p {
                "家庭共济网："
                @match &p.network {
                    None => { "未加入 · " a href=(ctx.url("/network")) { "组建或加入" } }
                    Some(n) => {
                        @if n.role == "promoter" { "您是发起人" } @else { (n.promoter) " 的共济网成员（" (n.relation.as_deref().map(relation_zh).unwrap_or("")) "）" }
                        " · 支付顺序第 " (n.position) " 位 · " (member_state_zh(&n.state)) " · "
                        a href=(ctx.url("/network")) { "查看" }
                    }
                }
            }
            p {
                "每年 " (ctx.preset_day()) " 预设划入："
                @match &p.preset { Some(amount) => { (yuan(amount)) } None => { "未设置" } }
                " · " a href=(ctx.url("/preset")) { "设置" }
                " · " a href=(ctx.url("/move")) { "历年↔共济划转" }
            }
        } }
        section.year {
            div.heading {
                h2 { (year) " 年余额走势" }
                nav.years {
                    a href={ (ctx.url("")) "?year=" (year - 1) "&account=" (account) } { "‹ " (year - 1) }
                    @if year < ctx.today.year() { a href={ (ctx.url("")) "?year=" (year + 1) "&account=" (account) } { (year + 1) " ›" } }
                }
            }
            (chart)
            @if quiet_year {
                p.hint {
                    (year) " 年这三个账户都没有收支。"
                    @if let Some(day) = last_active {
                        " 最近一笔在 " (day) "："
                        a href={ (ctx.url("")) "?year=" (day.year()) "&account=" (account) } { "看 " (day.year()) " 年" }
                    }
                }
            }
        }
        section.statement #statement {
            h2 { "明细 Statement" }
            nav.accounts {
                @for (kind, label, _) in SERIES {
                    @if kind == account {
                        a.current href={ (ctx.url("")) "?year=" (year) "&account=" (kind) "#statement" } aria-current="true" { (label) }
                    } @else {
                        a href={ (ctx.url("")) "?year=" (year) "&account=" (kind) "#statement" } { (label) }
                    }
                }
            }
            form.range method="get" action=(ctx.url("")) {
                input type="hidden" name="year" value=(year);
                input type="hidden" name="account" value=(account);
                label { "从 " input type="date" name="from" value=(query.from.clone().unwrap_or_else(|| first.to_string())); }
                label { "到 " input type="date" name="to" value=(query.to.clone().unwrap_or_else(|| last.to_string())); }
                button type="submit" { "查询" }
            }
            @if let Some(err) = &range_refused { (refusal(err)) }
            @if rows.is_empty() {
                p.hint { "这段时间" (account_zh(&account)) "没有收支。" }
            } @else {
                table.lines {
                    thead { tr { th { "日期" } th { "摘要" } th.num { "金额（元）" } th.num { "余额（元）" } } }
                    tbody {
                        @for (line, after) in &rows {
                            tr data-kind=(line.kind) {
                                td.date { (line.business_date) }
                                td { (entry_kind_zh(&line.kind)) br; small { (line.memo) } }
                                td class={ "num " @if line.amount.starts_with('-') { "out" } @else { "in" } } {
                                    @if !line.amount.starts_with('-') { "+" } (line.amount)
                                }
                                td.num { (after) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(ctx.page("", "账户与明细", StatusCode::OK, content))
}
